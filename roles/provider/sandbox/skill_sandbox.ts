/**
 * Runs one job through a skill's `run` in a sandboxed subprocess. The layout the job sees is
 * built from nothing (roles/provider/sandbox/sandbox_mounts.ts): system dirs read-only, its work dir,
 * private tmp dirs, the running Deno, the skill; nothing else of the host exists in there.
 * Details and figures: docs/ARCHITECTURE.md ("Skills"), docs/OPERATIONS.md.
 *
 * Two modes, same layout, same guarantees where the kernel allows them:
 * - **root** (the provider runs as uid 0): `unshare --mount --pid --net --ipc --uts`, the new
 *   root, then `setpriv` to nobody (uid 65534) with no capabilities; memory and processes
 *   bounded by cgroup v1 `memory` and `pids` groups.
 * - **rootless** (any other user): the same inside a new user namespace (`unshare --user
 *   --map-root-user`): the setup is "root" only inside the namespace, then `setpriv` drops
 *   every capability, so the job is the provider's own uid without privileges, in a root that
 *   holds nothing of the provider's. Memory is sampled (sandbox_limits.ts): the processes'
 *   pages, their memfds, the job's tmpfs mounts' own counters, its socket queues and SysV
 *   segments (job_kernel_meter.ts); the job may create no user namespace of
 *   its own (it could mount a tmpfs of any size in one). Processes are bounded by `ulimit -u`
 *   within the namespace.
 * Both: no network unless the manifest asks and the operator allows (a new network namespace
 * has only a downed loopback); the PID namespace dies with its init, so on timeout or cancel
 * the whole tree is SIGKILLed; no file descriptor but 0-2 is inherited (a provider started with
 * `--passphrase-fd N` would otherwise hand N on); a cleared environment: PATH (the running
 * Deno first, so `#!/usr/bin/env -S deno run` skills work where Deno is not installed),
 * HOME=TMPDIR=/tmp/job, LANG, TURNPIKE_INPUTS (fetched input blobs, by sha256),
 * TURNPIKE_OUTPUTS (files to return as blobs), and with `denoCacheDir` DENO_DIR. A job with a
 * model gateway reaches it, and only it, on its loopback (sandbox_gateway.ts).
 *
 * The `run` contract (skills/*, docs/SKILLS.md): the raw TOON event on stdin; the result on
 * stdout; logs on stderr; exit 0 ok, 1 job failed, 2 bad input, 3 refused (will not do this
 * job). Any other exit is "crashed".
 *
 * This module is the sandbox's face (its job, outcome and options) and its making; the parts
 * are beside it: which mode the machine allows (sandbox_probe.ts), a job's work dir, mounts and
 * arguments (sandbox_prepare.ts), and a job's run, fresh or in a sandbox prepared ahead
 * (sandbox_run.ts).
 *
 * @module
 */
import { SkillSandboxUnavailableError } from "./skill_sandbox_errors.ts";
import type { SkillManifest } from "../skills/skill_manifest.ts";
import { JobCgroupPool, reapPooledCgroups } from "./job_cgroup_pool.ts";
import type { SandboxGateway } from "./sandbox_gateway.ts";
import { SYSTEM_DIRS } from "./sandbox_mounts.ts";
import { systemMounts } from "./system_mounts.ts";
import { SANDBOX_UID } from "./sandbox_setup_script.ts";
import { type PreparedSandboxOptions, PreparedSandboxPool } from "./sandbox_pool.ts";
import { reapPreparedSandboxes } from "./orphan_reaper.ts";
import { probeSandbox, type SandboxLimits, type SandboxMode } from "./sandbox_probe.ts";
import {
  DENO_BINARY,
  ensureHostFiles,
  modeOf,
  othersMay,
  poolKey,
  type SandboxHost,
} from "./sandbox_prepare.ts";
import { fillPool, runJob } from "./sandbox_run.ts";
import {
  sandboxInitBinary,
  sandboxInitDir,
  type SandboxSetup,
  setupFromEnvironment,
} from "./sandbox_init.ts";

/** How a job ended. */
export type SkillOutcomeStatus =
  | "ok"
  | "failed"
  | "bad-input"
  | "refused"
  | "crashed"
  | "timeout"
  | "cancelled"
  | "memory-limit"
  | "disk-limit"
  | "output-too-large"
  | "denied"
  | "sandbox-error";

/** The outcome of one job. */
export interface SkillOutcome {
  status: SkillOutcomeStatus;
  /** Human-readable why, e.g. `read denied: /state/key` or `timeout after 2000 ms`. */
  reason: string;
  exitCode: number | null;
  /** stdout (the result), at most `maxStdoutBytes`. */
  stdout: Uint8Array;
  /** The last `maxStderrBytes` of stderr (the logs). */
  stderrTail: string;
  stderrTruncated: boolean;
  durationMs: number;
  /** The job's work dir on the host (kept for the provider to inspect or remove). */
  workDir: string;
  /** Whether a sandbox prepared ahead ran it (sandbox_pool.ts). */
  prepared?: boolean;
  /** A runner's host dirs of the job (an agent-task's checkout), removed with the work dir. */
  hostDirs?: string[];
}

/** Options for {@linkcode createSkillSandbox}. */
export interface SkillSandboxOptions {
  /** Per-job work dirs are created here (`<jobsRoot>/<jobId>`). */
  jobsRoot: string;
  /**
   * Paths the skill must never see (the state dir, key and passphrase files...). The sandbox
   * shows nothing of the host but what it binds; these are covered again where a bound
   * directory (the skill's project, /etc...) holds them.
   */
  hiddenPaths: string[];
  /** `root`, `rootless` or `auto` (default: root when running as uid 0). */
  mode?: SandboxMode | "auto";
  /** Operator's consent to network for skills whose manifest asks: true, or skill names. */
  allowNetwork?: boolean | string[];
  /** Extra host paths the operator lets skills read when their manifest asks for them. */
  allowPaths?: string[];
  /** Largest stdin (the TOON event); default 1 MiB. */
  maxStdinBytes?: number;
  /** Largest result; past it the job is killed (`output-too-large`). Default 1 MiB. */
  maxStdoutBytes?: number;
  /** Tail of stderr kept; default 64 KiB. */
  maxStderrBytes?: number;
  /**
   * Size of the job's private /tmp (and /var/tmp, /dev/shm) tmpfs; default 256 MiB, and never
   * more than the job's memory limit (their pages are the job's memory).
   */
  tmpBytes?: number;
  /**
   * Most processes of one job (fork bombs); default `DEFAULT_MAX_PROCESSES` of
   * sandbox_limits.ts.
   */
  maxProcesses?: number;
  /**
   * A host dir for one Deno cache (DENO_DIR) that jobs get read-only, filled only by
   * {@linkcode SkillSandbox.warmDenoCache}. Without it a Deno skill starts from an empty cache
   * in every job (measured: echo's start 178-200 ms cold vs 92-100 ms with it, loaded machine).
   */
  denoCacheDir?: string;
  /**
   * Sandboxes set up ahead for skills that ran a job lately (sandbox_pool.ts); none without
   * it. Jobs with a model gateway always get a sandbox of their own made when they come.
   */
  prepared?: PreparedSandboxOptions;
  /**
   * How each job's sandbox is set up (sandbox_init.ts): `compiled` (one program, built with the
   * host's C compiler; the sandbox is refused without one), `shell` (util-linux's programs from
   * bash) or `auto` (compiled where it builds). Default: the environment's
   * `TURNPIKE_SANDBOX_SETUP`, else `auto`.
   */
  setup?: SandboxSetup | "auto";
}

/** One job for the sandbox. */
export interface SkillJob {
  /** Safe file name ([A-Za-z0-9_-], at most 128): the work dir's name. */
  jobId: string;
  /** The skill's folder (holds `run`). */
  skillDir: string;
  manifest: SkillManifest;
  /** The raw TOON event. */
  input: Uint8Array | string;
  /**
   * Host files copied into the work dir's `inputs/` before the skill starts (fetched blobs,
   * read-only there); the skill finds them through TURNPIKE_INPUTS.
   */
  files?: { path: string; name: string }[];
  /** Kind 5 cancellation (or shutdown): aborting kills the job. */
  signal?: AbortSignal;
  /** The job's model gateway (agent_gateway.ts), reached on its loopback; never with network. */
  gateway?: SandboxGateway;
  /**
   * A host directory the job sees, writable, at `<work dir>/<dir>` without a copy being made: an
   * overlay whose lower layer is `lower` (never written: the job's writes go to an upper layer in
   * its own work dir, counted in its disk and removed with it). sandbox_mounts.ts.
   */
  overlay?: SandboxOverlay;
}

/** {@linkcode SkillJob.overlay}. */
export interface SandboxOverlay {
  /** The host directory shown (absolute; letters, digits, `._/-` only). */
  lower: string;
  /** Its name in the work dir (a safe file name, as an input file's). */
  dir: string;
}

/** A sandbox that runs jobs. */
export interface SkillSandbox {
  run(job: SkillJob): Promise<SkillOutcome>;
  /**
   * Runs a Deno skill once on empty input with the Deno cache writable, so later jobs start
   * warm. Never with a requester's input: what the cache holds then comes from the skill's own
   * code alone, and no job can write it. Undefined when there is no cache or the skill's `run`
   * is not a Deno script.
   */
  warmDenoCache?(skill: { skillDir: string; manifest: SkillManifest }): Promise<
    SkillOutcome | undefined
  >;
  /** The mode jobs run in. */
  readonly mode: SandboxMode;
  /** How each job's sandbox is set up: one compiled program, or util-linux's from bash. */
  readonly setup: SandboxSetup;
  /** Why this mode (for `doctor` and the provider's banner). */
  readonly modeReason: string;
  readonly limits: SandboxLimits;
  /** Whether memory limits are enforced at all (exactly or sampled). */
  readonly memoryLimits: boolean;
  /**
   * Removes what the sandbox keeps between jobs (its prepared sandboxes, its pooled cgroups);
   * the provider stops.
   */
  close?(): Promise<void>;
  /**
   * With `prepared` in the options: prepares a sandbox ahead for this skill's next job (as a
   * job of it does); resolves whether one waits for it now. Each serves one job, never two.
   */
  prepare?(skill: { skillDir: string; manifest: SkillManifest }): Promise<boolean>;
  /** The prepared sandboxes waiting now: the pid of each one's `unshare`, its work dir. */
  preparedNow?(): { pid: number; workDir: string }[];
}
/** In `jobsRoot`: the sandbox's fixed host files (mount point, /dev skeleton, denied file). */
const SANDBOX_HOST_DIR = ".sandbox";

/**
 * Build a sandbox. Probes the machine once and throws {@linkcode SkillSandboxUnavailableError}
 * when jobs could not be isolated (never runs a skill unsandboxed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { createSkillSandbox } from "./skill_sandbox.ts";
 * import { parseSkillManifest } from "../skills/skill_manifest.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 *
 * const skillDir = new URL("../../../skills/echo", import.meta.url).pathname;
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${skillDir}/SKILL.md`));
 * const request = finalizeEvent({
 *   kind: 5601,
 *   created_at: Math.floor(Date.now() / 1000),
 *   tags: [["i", "hello", "text"]],
 *   content: "",
 * }, generateSecretKey());
 * const stateDir = await Deno.makeTempDir();
 * const sandbox = await createSkillSandbox({ jobsRoot: `${stateDir}/jobs`, hiddenPaths: [stateDir] });
 * const outcome = await sandbox.run({ jobId: "j1", skillDir, manifest, input: encodeEventToon(request) });
 * assert.equal(outcome.status, "ok");
 * assert.equal(new TextDecoder().decode(outcome.stdout), "hello");
 * await sandbox.close?.();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function createSkillSandbox(options: SkillSandboxOptions): Promise<SkillSandbox> {
  const probe = await probeSandbox(options.mode);
  if (probe.mode === "root" && !othersMay(DENO_BINARY, 0o005)) {
    throw new SkillSandboxUnavailableError(
      `jobs run as nobody, who may not run ${DENO_BINARY} (mode ${modeOf(DENO_BINARY)}); ` +
        "give others read and execute on the file (its directories may stay private), " +
        "or run the provider with --sandbox rootless",
    );
  }
  await Deno.mkdir(options.jobsRoot, { recursive: true });
  const cache = options.denoCacheDir;
  if (cache !== undefined) {
    // Written during warm-ups only; its parent (the state dir) keeps others out.
    await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
    if (probe.mode === "root") await Deno.chown(cache, SANDBOX_UID, SANDBOX_UID);
  }
  const hostDir = `${await Deno.realPath(options.jobsRoot)}/${SANDBOX_HOST_DIR}`;
  const cgroups = {
    memory: probe.limits.memory === "cgroup",
    pids: probe.limits.processes === "cgroup",
  };
  // What a crashed provider's prepared sandboxes left, before its cgroups go and any is made.
  await reapPreparedSandboxes(options.jobsRoot);
  if (cgroups.memory || cgroups.pids) await reapPooledCgroups();
  const host: SandboxHost = {
    mode: probe.mode,
    limits: probe.limits,
    cgroups,
    cgroupPool: cgroups.memory || cgroups.pids
      ? new JobCgroupPool({ controllers: cgroups })
      : undefined,
    ...await systemMounts(SYSTEM_DIRS),
    root: `${hostDir}/root`,
    devSkeleton: `${hostDir}/dev`,
    binSkeleton: `${hostDir}/bin`,
    deniedFile: `${hostDir}/denied`,
    denoCacheDir: cache === undefined ? undefined : await Deno.realPath(cache),
    pool: options.prepared === undefined ? undefined : new PreparedSandboxPool(options.prepared),
  };
  ensureHostFiles(host);
  const setupWanted = options.setup ?? setupFromEnvironment();
  if (setupWanted !== "shell") {
    host.init = await sandboxInitBinary({ dir: sandboxInitDir(hostDir) });
    if (host.init === undefined && setupWanted === "compiled") {
      throw new SkillSandboxUnavailableError(
        "the compiled sandbox setup was asked for, and no C compiler (cc, gcc, clang) built " +
          "roles/provider/sandbox/sandbox_init.c here",
      );
    }
  }
  const denoCache = cache === undefined ? undefined : "ro";
  return {
    mode: probe.mode,
    setup: host.init === undefined ? "shell" : "compiled",
    modeReason: probe.reason,
    limits: probe.limits,
    memoryLimits: probe.limits.memory !== "none",
    run: (job) => runJob(job, options, host, denoCache),
    close: async () => {
      await host.pool?.close();
      await host.cgroupPool?.close();
    },
    prepare: async (skill) => {
      const job = { skillDir: skill.skillDir, manifest: skill.manifest, jobId: "-", input: "" };
      const key = host.pool === undefined ? undefined : poolKey(job, options);
      if (key !== undefined) await fillPool(key, job, options, host, denoCache);
      return host.pool?.ready.some((p) => p.key === key) ?? false;
    },
    preparedNow: () =>
      (host.pool?.ready ?? []).map((p) => ({ pid: p.child.pid, workDir: p.workDir })),
    async warmDenoCache({ skillDir, manifest }) {
      if (cache === undefined || !isDenoScript(`${skillDir}/run`)) return undefined;
      const jobId = `warm-${crypto.randomUUID()}`;
      const job = { jobId, skillDir, manifest, input: "" };
      const outcome = await runJob(job, options, host, "rw");
      await Deno.remove(outcome.workDir, { recursive: true }).catch(() => {});
      return outcome;
    },
  };
}

/** Whether a skill's `run` is a Deno script (`#!... deno ...` on its first line). */
function isDenoScript(path: string): boolean {
  try {
    const file = Deno.openSync(path);
    try {
      const head = new Uint8Array(256);
      const n = file.readSync(head) ?? 0;
      const line = new TextDecoder().decode(head.subarray(0, n)).split("\n", 1)[0];
      return /^#!.*\bdeno\b/.test(line);
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}

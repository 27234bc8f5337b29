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
 * @module
 */
import { SkillJobError, SkillSandboxUnavailableError } from "./skill_sandbox_errors.ts";
import type { SkillManifest } from "../skills/skill_manifest.ts";
import { JobCgroupPool, reapPooledCgroups } from "./job_cgroup_pool.ts";
import { emptyOutcome, superviseJob } from "./sandbox_supervisor.ts";
import { type SandboxGateway, sandboxGatewayPlan } from "./sandbox_gateway.ts";
import { SKILL_PATH, skillEnvironment } from "../../../protocol/skill_contract.ts";
import {
  buildSandboxFstab,
  DEVICE_FILES,
  DEVICE_LINKS,
  type HiddenPath,
  SANDBOX_DENO_BIN_DIR,
  SANDBOX_DENO_DIR,
  SANDBOX_TOON_MODULE,
  SANDBOX_WORK_DIR,
  sandboxTreeClash,
  SYSTEM_DIRS,
} from "./sandbox_mounts.ts";
import { systemMounts } from "./system_mounts.ts";
import { DIE_WITH_PARENT, PDEATHSIG_OPTION } from "./parent_death.ts";
import {
  SANDBOX_GO_LINE,
  SANDBOX_SETUP_EXIT,
  SANDBOX_SETUP_SCRIPT,
  SANDBOX_UID,
} from "./sandbox_setup_script.ts";
import { type PreparedSandboxOptions, PreparedSandboxPool } from "./sandbox_pool.ts";
import { PREPARED_PREFIX, reapPreparedSandboxes, reapSkillProcesses } from "./orphan_reaper.ts";
import {
  DATA_LIMIT_HEADROOM,
  DEFAULT_MAX_PROCESSES,
  type JobCgroups,
  killTree,
  probeCgroupControllers,
} from "./sandbox_limits.ts";

export {
  SANDBOX_DENO_BIN_DIR,
  SANDBOX_DENO_DIR,
  SANDBOX_SETUP_EXIT,
  SANDBOX_UID,
  SANDBOX_WORK_DIR,
};

/** In the work dir: the job's input files (TURNPIKE_INPUTS). */
export const INPUTS_DIR = "inputs";
/** In the work dir: files the skill leaves for the result (TURNPIKE_OUTPUTS). */
export const OUTPUTS_DIR = "out";

/** How the sandbox gets its privileges: as root, or inside a user namespace. */
export type SandboxMode = "root" | "rootless";

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
  /** Most processes of one job (fork bombs); default {@linkcode DEFAULT_MAX_PROCESSES}. */
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
}

/** How the sandbox bounds a job's memory and processes. */
export interface SandboxLimits {
  /** `cgroup` (exact, root), `sampled` (rootless, see sandbox_limits.ts) or `none`. */
  memory: "cgroup" | "sampled" | "none";
  /** `cgroup` (root), `rlimit` (rootless, within the job's user namespace) or `none`. */
  processes: "cgroup" | "rlimit" | "none";
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
   * job of it does); whether one waits for it now. Each serves one job, never two.
   */
  prepare?(skill: { skillDir: string; manifest: SkillManifest }): boolean;
  /** The prepared sandboxes waiting now: the pid of each one's `unshare`, its work dir. */
  preparedNow?(): { pid: number; workDir: string }[];
}

export { SkillJobError, SkillSandboxUnavailableError };

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** The running Deno: bound at SANDBOX_DENO_BIN_DIR/deno, that dir first on PATH. */
const DENO_BINARY = Deno.realPathSync(Deno.execPath());
/**
 * The TOON module this process runs with, when it is a file (from node_modules): bound into
 * every sandbox so a skill anywhere imports it offline. Absent in a compiled binary.
 */
const TOON_MODULE = toonModuleFile();
const MiB = 1024 * 1024;
/** In `jobsRoot`: the sandbox's fixed host files (mount point, /dev skeleton, denied file). */
const SANDBOX_HOST_DIR = ".sandbox";

/** The machine facts a job's mounts depend on, probed once per sandbox. */
interface SandboxHost {
  mode: SandboxMode;
  limits: SandboxLimits;
  cgroups: { memory: boolean; pids: boolean };
  /** Root mode with a cgroup controller: the jobs' cgroups, reused while clean. */
  cgroupPool?: JobCgroupPool;
  /** Which of SYSTEM_DIRS exist here, and the mounts below them (system_mounts.ts). */
  systemDirs: string[];
  systemSubmounts: string[];
  /** The empty dir every job's root tmpfs is mounted on (in its own mount namespace). */
  root: string;
  devSkeleton: string;
  binSkeleton: string;
  /** The mode-000 file bound over hidden files. */
  deniedFile: string;
  /** `denoCacheDir`, resolved. */
  denoCacheDir?: string;
  /** With `prepared` in the options: the sandboxes set up ahead. */
  pool?: PreparedSandboxPool<PreparedJob>;
}

/** What {@linkcode probeSandbox} found. */
export interface SandboxProbe {
  mode: SandboxMode;
  /** Why this mode, e.g. `running as uid 1000: user namespaces`. */
  reason: string;
  limits: SandboxLimits;
}

/**
 * Which sandbox mode this machine and user get, and how limits are enforced; throws
 * {@linkcode SkillSandboxUnavailableError} (with the reason) when no mode works.
 *
 * @example
 * ```ts
 * const { mode, reason, limits } = await probeSandbox();
 * ```
 */
export async function probeSandbox(want: SandboxMode | "auto" = "auto"): Promise<SandboxProbe> {
  const uid = Deno.uid() ?? -1;
  const mode: SandboxMode = want === "auto" ? (uid === 0 ? "root" : "rootless") : want;
  if (mode === "root" && uid !== 0) {
    throw new SkillSandboxUnavailableError(
      `the root sandbox needs uid 0 (running as uid ${uid}); use the rootless mode`,
    );
  }
  const userns = mode === "rootless" ? ["--user", "--map-root-user"] : [];
  const probe = await commandOutput("unshare", [
    ...userns,
    "--mount",
    "--pid",
    "--net",
    "--fork",
    "setpriv",
    PDEATHSIG_OPTION,
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "true",
  ]);
  if (!probe.ok) {
    throw new SkillSandboxUnavailableError(
      mode === "rootless"
        ? `user namespaces are not usable by uid ${uid} (${probe.text}); enable them ` +
          "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone; in a container " +
          "run with --security-opt seccomp=unconfined) or run the provider as root"
        : `unshare/setpriv failed (${probe.text})`,
    );
  }
  if (mode === "rootless") {
    // What SANDBOX_SETUP_SCRIPT does before the job starts (with the job's own /proc, as there): a
    // kernel or /proc that refuses it would fail every job, so say so here, once.
    const nested = await commandOutput("unshare", [
      ...userns,
      "--mount",
      "--pid",
      "--ipc",
      "--fork",
      "--mount-proc",
      "sh",
      "-c",
      "echo 1 > /proc/sys/user/max_user_namespaces && echo 1 > /proc/sys/kernel/shm_rmid_forced",
    ]);
    if (!nested.ok) {
      throw new SkillSandboxUnavailableError(
        `a job's user namespace cannot be denied nested ones (${nested.text}): a job could ` +
          "mount memory its limit does not see; run the provider as root",
      );
    }
    // The helper that counts a job's socket queues and SysV segments (job_kernel_meter.ts).
    const meter = await commandOutput("sh", ["-c", "nsenter --version && perl -e 1"]);
    if (!meter.ok) {
      throw new SkillSandboxUnavailableError(
        `a job's socket and SysV memory cannot be counted without nsenter and perl ` +
          `(${meter.text}): install util-linux and perl, or run the provider as root`,
      );
    }
  }
  const cgroups = mode === "root" ? await probeCgroupControllers() : { memory: false, pids: false };
  const limits: SandboxLimits = mode === "root"
    ? {
      memory: cgroups.memory ? "cgroup" : "none",
      processes: cgroups.pids ? "cgroup" : "none",
    }
    : { memory: "sampled", processes: "rlimit" };
  const reason = mode === "root"
    ? "running as root: namespaces, jobs as nobody, cgroup limits"
    : `running as uid ${uid}${want === "rootless" ? " (rootless asked for)" : ""}: ` +
      "a user namespace per job, jobs without capabilities";
  return { mode, reason, limits };
}

async function commandOutput(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return { ok: out.success, text: text.slice(0, 300) || `exit ${out.code}` };
  } catch (err) {
    return { ok: false, text: `${cmd}: ${(err as Error).message}` };
  }
}

/**
 * Build a sandbox. Probes the machine once and throws {@linkcode SkillSandboxUnavailableError}
 * when jobs could not be isolated (never runs a skill unsandboxed).
 *
 * @example
 * ```ts
 * declare const manifest: Parameters<SkillSandbox["run"]>[0]["manifest"];
 * declare const input: Parameters<SkillSandbox["run"]>[0]["input"];
 * const sandbox = await createSkillSandbox({ jobsRoot: "/state/jobs", hiddenPaths: ["/state"] });
 * const outcome = await sandbox.run({ jobId: "j1", skillDir: "skills/echo", manifest, input });
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
  const denoCache = cache === undefined ? undefined : "ro";
  return {
    mode: probe.mode,
    modeReason: probe.reason,
    limits: probe.limits,
    memoryLimits: probe.limits.memory !== "none",
    run: (job) => runJob(job, options, host, denoCache),
    close: async () => {
      await host.pool?.close();
      await host.cgroupPool?.close();
    },
    prepare: (skill) => {
      const job = { skillDir: skill.skillDir, manifest: skill.manifest, jobId: "-", input: "" };
      const key = host.pool === undefined ? undefined : poolKey(job, options);
      if (key !== undefined) fillPool(key, job, options, host, denoCache);
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

/**
 * The sandbox's fixed host files, (re)made when absent or changed: the empty root mount point,
 * the /dev skeleton (empty files the devices are bound on, links, shm/) and the denied file
 * (this user's, mode 000: without capabilities not even its owner reads it, so the job reads
 * "Permission denied" and the outcome names the denial from that).
 */
function ensureHostFiles(host: SandboxHost): void {
  Deno.mkdirSync(host.root, { recursive: true, mode: 0o755 });
  Deno.mkdirSync(`${host.devSkeleton}/shm`, { recursive: true, mode: 0o755 });
  Deno.mkdirSync(host.binSkeleton, { recursive: true, mode: 0o755 });
  for (const name of ["deno", "toon.mjs"]) {
    if (statOrNull(`${host.binSkeleton}/${name}`)?.isFile !== true) {
      Deno.writeFileSync(`${host.binSkeleton}/${name}`, new Uint8Array(), { mode: 0o755 });
    }
  }
  for (const name of DEVICE_FILES) {
    const path = `${host.devSkeleton}/${name}`;
    if (statOrNull(path)?.isFile !== true) {
      Deno.writeFileSync(path, new Uint8Array(), { mode: 0o644 });
    }
  }
  for (const [name, target] of Object.entries(DEVICE_LINKS)) {
    const path = `${host.devSkeleton}/${name}`;
    let current: string | null = null;
    try {
      current = Deno.readLinkSync(path);
    } catch { /* absent */ }
    if (current === target) continue;
    try {
      Deno.removeSync(path);
    } catch { /* absent */ }
    Deno.symlinkSync(target, path);
  }
  ensureDeniedFile(host.deniedFile);
}

function ensureDeniedFile(path: string): void {
  const st = (() => {
    try {
      return Deno.lstatSync(path);
    } catch {
      return null;
    }
  })();
  if (st?.isFile && st.uid === Deno.uid() && ((st.mode ?? 0) & 0o777) === 0 && st.size === 0) {
    return;
  }
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* absent */ }
  Deno.writeFileSync(path, new Uint8Array(), { mode: 0, createNew: true });
  Deno.chmodSync(path, 0);
}

async function runJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  if (!JOB_ID.test(job.jobId)) throw new SkillJobError(`bad job id ${JSON.stringify(job.jobId)}`);
  const input = typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input;
  const maxStdin = options.maxStdinBytes ?? MiB;
  if (input.length > maxStdin) {
    throw new SkillJobError(`input is ${input.length} bytes, over the ${maxStdin}-byte limit`);
  }
  // Only a job whose sandbox is the same whatever the job: no gateway, no warm-up.
  const key = host.pool !== undefined && job.gateway === undefined && denoCache !== "rw"
    ? poolKey(job, options)
    : undefined;
  if (key === undefined) return await runFresh(job, options, host, input, denoCache);
  try {
    const prepared = host.pool!.take(key);
    if (prepared === undefined) {
      // One made for this skill before it changed (manifest, paths) serves no job: gone now.
      const skill = `${JSON.stringify([JSON.parse(key)[0]]).slice(0, -1)},`;
      host.pool!.discardWhere((p) => p.key.startsWith(skill) && p.key !== key);
      return await runFresh(job, options, host, input, denoCache);
    }
    return await runPrepared(prepared, job, options, host, input);
  } finally {
    fillPool(key, job, options, host, denoCache, true);
  }
}

/** Today's path: the job's sandbox made now, for it. */
async function runFresh(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  input: Uint8Array,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  const plan = prepareJob(job, options, host, job.jobId, denoCache);
  if ("refusal" in plan) return plan.refusal;
  let cgroups: JobCgroups = {};
  try {
    const started = startSandbox(plan, job, options, host, denoCache, false);
    cgroups = started.cgroups;
    const sampled = host.limits.memory === "sampled";
    return await superviseJob(job, options, sampled, plan.workDir, started.child, input, cgroups);
  } finally {
    try {
      Deno.removeSync(plan.fstab);
    } catch { /* already gone */ }
    await host.cgroupPool?.release(cgroups);
  }
}

/** A sandbox set up ahead, waiting for its job's `go` (sandbox_setup_script.ts). */
interface PreparedJob {
  key: string;
  child: Deno.ChildProcess;
  /** `<jobsRoot>/.pool-<random>`, the work dir of the job that takes it. */
  readonly workDir: string;
  fstab: string;
  cgroups: JobCgroups;
  exited: Promise<Deno.CommandStatus>;
  discard(): Promise<void>;
}

/**
 * What a skill's sandbox depends on besides the job's id and input: the same key, the same
 * setup. Read again for every job, so a changed manifest, project, read path or hidden path
 * never meets a sandbox prepared before the change.
 */
function poolKey(job: SkillJob, options: SkillSandboxOptions): string | undefined {
  try {
    const skillDir = Deno.realPathSync(job.skillDir);
    return JSON.stringify([
      skillDir,
      projectDirOf(skillDir) ?? null,
      resolvedPaths(job.manifest.permissions.read),
      hiddenPaths([...options.hiddenPaths, options.jobsRoot]),
      job.manifest,
    ], (_, v) => typeof v === "bigint" ? `${v}n` : v);
  } catch {
    return undefined; // no such skill: the job's own path says so
  }
}

/** Prepares sandboxes ahead for `key`'s skill, up to the pool's limits (now, or `later`). */
function fillPool(
  key: string,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
  later = false,
): void {
  const make = () => {
    const name = `${PREPARED_PREFIX}${crypto.randomUUID()}`;
    let plan: ReturnType<typeof prepareJob>;
    try {
      plan = prepareJob({ ...job, files: [] }, options, host, name, denoCache);
    } catch {
      return undefined; // the job's own path reports what is wrong
    }
    if ("refusal" in plan) {
      Deno.removeSync(plan.refusal.workDir, { recursive: true });
      return undefined;
    }
    let started: ReturnType<typeof startSandbox>;
    try {
      started = startSandbox(plan, job, options, host, denoCache, true);
    } catch {
      // No process, no cgroup, or no spawn now (out of descriptors...): the next job makes its
      // own, as without a pool.
      for (const path of [plan.workDir, plan.fstab]) {
        try {
          Deno.removeSync(path, { recursive: true });
        } catch { /* not made */ }
      }
      return undefined;
    }
    const { child, cgroups } = started;
    const prepared: PreparedJob = {
      key,
      child,
      workDir: plan.workDir,
      fstab: plan.fstab,
      cgroups,
      exited: child.status,
      discard: async () => {
        killTree(child.pid);
        await child.status;
        await Promise.all([
          child.stdin.close().catch(() => {}),
          child.stdout.cancel().catch(() => {}),
          child.stderr.cancel().catch(() => {}),
        ]);
        // Killed while unshare was forking its child (before that child asked to die with its
        // parent), the setup may live on: it carries the work dir among its arguments.
        await reapSkillProcesses(prepared.workDir);
        for (const path of [prepared.workDir, plan.fstab]) {
          await Deno.remove(path, { recursive: true }).catch(() => {});
        }
        await host.cgroupPool?.release(cgroups);
      },
    };
    return prepared;
  };
  if (later) host.pool?.fillLater(key, make);
  else host.pool?.fill(key, make);
}

/** Runs `job` in a prepared sandbox: its files into the work dir, then go and its input. */
async function runPrepared(
  prepared: PreparedJob,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  input: Uint8Array,
): Promise<SkillOutcome> {
  // The work dir keeps its prepared name while the job runs (its mount may still be under way:
  // the go line waits in the pipe), found by the job's id through a link; once the job's
  // processes are gone it takes the job's id. A crash mid-job leaves the link (recovery removes
  // it) and the `.pool-` entries (removed when the next sandbox opens, its processes killed).
  const workDir = prepared.workDir;
  const byId = `${options.jobsRoot}/${job.jobId}`;
  try {
    Deno.removeSync(byId, { recursive: true });
  } catch { /* none yet */ }
  try {
    Deno.symlinkSync(workDir.slice(workDir.lastIndexOf("/") + 1), byId);
    copyInputFiles(workDir, job.files ?? []);
  } catch (err) {
    try {
      Deno.removeSync(byId);
    } catch { /* not made */ }
    await host.pool!.discard(prepared);
    throw err;
  }
  const go = new TextEncoder().encode(SANDBOX_GO_LINE);
  const stdin = new Uint8Array(go.length + input.length);
  stdin.set(go);
  stdin.set(input, go.length);
  try {
    const outcome = await superviseJob(
      job,
      options,
      host.limits.memory === "sampled",
      workDir,
      prepared.child,
      stdin,
      prepared.cgroups,
    );
    Deno.removeSync(byId);
    Deno.renameSync(workDir, byId);
    return { ...outcome, workDir: byId, prepared: true };
  } finally {
    try {
      Deno.removeSync(prepared.fstab);
    } catch { /* already gone */ }
    await host.cgroupPool?.release(prepared.cgroups);
  }
}

/** Takes the job's cgroups and spawns its sandbox (`wait`: prepared, waiting for go). */
function startSandbox(
  plan: JobPlan,
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  denoCache: "ro" | "rw" | undefined,
  wait: boolean,
): { child: Deno.ChildProcess; cgroups: JobCgroups } {
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const cgroups = host.cgroupPool?.acquire({
    memoryBytes: job.manifest.memoryBytes,
    maxProcesses,
  }) ?? {};
  const rootless = host.mode === "rootless";
  const limits = [
    cgroups.memory ?? "-",
    cgroups.pids ?? "-",
    rootless ? String(maxProcesses) : "-",
    rootless ? String(Math.ceil((job.manifest.memoryBytes + DATA_LIMIT_HEADROOM) / 1024)) : "-",
    String(Math.ceil(job.manifest.diskBytes / 1024)),
    rootless ? "self" : "nobody",
    wait ? "go" : "-",
  ];
  const args = [...plan.args.slice(0, plan.limitsAt), ...limits, ...plan.args.slice(plan.limitsAt)];
  try {
    return { child: spawnSandbox(args, denoCache, plan.env), cgroups };
  } catch (err) {
    host.cgroupPool?.release(cgroups);
    throw err;
  }
}

interface JobPlan {
  workDir: string;
  /** The job's mounts (in jobsRoot, beside its work dir), removed when the job ends. */
  fstab: string;
  /** unshare's arguments, without the limits... */
  args: string[];
  /** ...which go in at this index. */
  limitsAt: number;
  /** Added to the job's environment (its gateway's URLs). */
  env: Record<string, string>;
}

/**
 * The job's work dir, fstab and unshare arguments. Synchronous on purpose: these are a dozen
 * metadata calls of microseconds each (no fsync), and as async ops each would wait for a turn
 * of an event loop that, in a provider, is busy with the town link, signatures and fsyncs
 * (measured: 15 ms -> 42 ms per sandboxed no-op job with the loop busy 5 ms of every turn).
 */
function prepareJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  name: string,
  denoCache: "ro" | "rw" | undefined,
): JobPlan | { refusal: SkillOutcome } {
  const skillDir = Deno.realPathSync(job.skillDir);
  const workDir = `${options.jobsRoot}/${name}`;
  const run = statOrNull(`${skillDir}/run`);
  // In root mode the skill runs as nobody: `run` must be executable by "others".
  const execBit = host.mode === "root" ? 0o001 : 0o111;
  if (run === null || !run.isFile || ((run.mode ?? 0) & execBit) === 0) {
    const whom = host.mode === "root" ? " by others" : "";
    throw new SkillJobError(`${skillDir}/run is missing or not executable${whom}`);
  }
  const projectDir = projectDirOf(skillDir);
  const clash = sandboxTreeClash(projectDir ?? skillDir);
  if (clash !== undefined) throw new SkillJobError(clash);
  if (host.mode === "root") {
    // Only the bound dirs themselves and what lies between them matter: the sandbox builds
    // the path leading to them, so a private home above the project is no obstacle.
    const between = projectDir === undefined ? [skillDir] : pathsBetween(projectDir, skillDir);
    const closed = between.find((d) => !othersMay(d, 0o005));
    if (closed !== undefined) {
      throw new SkillJobError(
        `${closed} (mode ${modeOf(closed)}) is closed to the sandbox user nobody; ` +
          "give others read and execute on it, or run the provider with --sandbox rootless",
      );
    }
  }
  freshWorkDir(workDir, host.mode, job.files ?? []);
  const refusal = permissionRefusal(job.manifest, options);
  if (refusal !== null) {
    return { refusal: emptyOutcome("denied", refusal, workDir) };
  }
  ensureHostFiles(host);
  const gateway = sandboxGatewayPlan(job.gateway, {
    hostDir: host.root.slice(0, host.root.lastIndexOf("/")),
    dropTo: host.mode === "root" ? "nobody" : "self",
    network: job.manifest.permissions.network,
  });
  const fstab = `${options.jobsRoot}/${name}.fstab`;
  // Not fsynced: it only has to outlive this job's start; a crash leaves a stray file.
  Deno.writeTextFileSync(
    fstab,
    buildSandboxFstab({
      root: host.root,
      devSkeleton: host.devSkeleton,
      binSkeleton: host.binSkeleton,
      deniedFile: host.deniedFile,
      systemDirs: host.systemDirs,
      systemSubmounts: host.systemSubmounts,
      workDir: Deno.realPathSync(workDir),
      denoBinary: DENO_BINARY,
      toonModule: TOON_MODULE,
      skillDir,
      projectDir,
      readPaths: resolvedPaths(job.manifest.permissions.read),
      binds: gateway.binds,
      denoCache: denoCache === undefined || host.denoCacheDir === undefined
        ? undefined
        : { dir: host.denoCacheDir, mode: denoCache },
      hidden: hiddenPaths([...options.hiddenPaths, options.jobsRoot]),
      tmpBytes: Math.min(options.tmpBytes ?? 256 * MiB, job.manifest.memoryBytes),
    }),
    { mode: 0o600 },
  );
  const args = [
    ...(host.mode === "rootless" ? ["--user", "--map-root-user"] : []),
    "--mount",
    "--propagation=private",
    "--pid",
    "--fork",
    "--kill-child",
    "--ipc",
    "--uts",
    ...(job.manifest.permissions.network ? [] : ["--net"]),
    "bash",
    "-c",
    SANDBOX_SETUP_SCRIPT,
    "turnpike-sandbox",
    fstab,
    host.root,
    // The work dir stays a whole argument of unshare: the orphan reaper finds jobs by it.
    workDir,
    gateway.setup,
  ];
  const limitsAt = args.length;
  args.push("--", `${skillDir}/run`);
  return { workDir, fstab, args, limitsAt, env: gateway.env };
}

/**
 * The job's work dir: empty but for `inputs/` (the job's files, copied: the job may not change
 * the provider's cached originals) and an empty `out/` (files the skill leaves there are the
 * result's blobs).
 */
function freshWorkDir(
  workDir: string,
  mode: SandboxMode,
  files: readonly { path: string; name: string }[],
): void {
  try {
    Deno.removeSync(workDir, { recursive: true });
  } catch { /* none yet */ }
  Deno.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(`${workDir}/${OUTPUTS_DIR}`, { mode: 0o700 });
  Deno.mkdirSync(`${workDir}/${INPUTS_DIR}`, { mode: 0o755 });
  copyInputFiles(workDir, files);
  if (mode === "root") {
    Deno.chownSync(workDir, SANDBOX_UID, SANDBOX_UID);
    Deno.chownSync(`${workDir}/${OUTPUTS_DIR}`, SANDBOX_UID, SANDBOX_UID);
  }
}

/** The job's files into `inputs/`, read-only there. */
function copyInputFiles(workDir: string, files: readonly { path: string; name: string }[]): void {
  for (const f of files) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(f.name)) {
      throw new SkillJobError(`bad input file name ${JSON.stringify(f.name)}`);
    }
    const to = `${workDir}/${INPUTS_DIR}/${f.name}`;
    Deno.copyFileSync(f.path, to);
    Deno.chmodSync(to, 0o444);
  }
}

/** Whether "others" have all of `bits` (0o005: read and execute) on `path`. */
function othersMay(path: string, bits: number): boolean {
  const st = statOrNull(path);
  return st !== null && ((st.mode ?? 0) & bits) === bits;
}

function modeOf(path: string): string {
  return ((statOrNull(path)?.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
}

/** `top`, `inner` and every directory between them (`inner` lies under `top`). */
function pathsBetween(top: string, inner: string): string[] {
  const paths = [top];
  for (const part of inner.slice(top.length).split("/").filter((p) => p !== "")) {
    paths.push(`${paths.at(-1)}/${part}`);
  }
  return paths;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Why the manifest asks for more than the operator allows, or null. */
function permissionRefusal(manifest: SkillManifest, options: SkillSandboxOptions): string | null {
  const { network, read, write } = manifest.permissions;
  const allowNet = options.allowNetwork === true ||
    (Array.isArray(options.allowNetwork) && options.allowNetwork.includes(manifest.name));
  if (network && !allowNet) {
    return `network denied: skill ${manifest.name} asks for network; the operator does not allow it`;
  }
  const allowed = options.allowPaths ?? [];
  for (const p of [...read, ...write]) {
    if (!allowed.includes(p)) {
      return `path denied: skill ${manifest.name} asks for ${p}; the operator does not allow it`;
    }
  }
  if (write.length > 0) {
    return `path denied: extra write paths are not supported by this sandbox (${write[0]})`;
  }
  return null;
}

function toonModuleFile(): string | undefined {
  try {
    const url = new URL(import.meta.resolve("@toon-format/toon"));
    if (url.protocol !== "file:") return undefined;
    const path = Deno.realPathSync(url.pathname);
    // Bound as is into every job: it must be readable by the sandbox user (nobody, as root).
    return (statOrNull(path)?.mode ?? 0) & 0o004 ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The nearest ancestor of the skill dir holding a deno.json (Deno-script skills need it). */
function projectDirOf(skillDir: string): string | undefined {
  let dir = skillDir;
  while (dir !== "/" && dir !== "") {
    if (statOrNull(`${dir}/deno.json`) !== null) return dir;
    dir = dir.replace(/\/[^/]*$/, "") || "/";
  }
  return undefined;
}

/** Paths that exist, resolved (a mount needs the real path). */
function resolvedPaths(paths: readonly string[]): string[] {
  const found: string[] = [];
  for (const p of paths) {
    try {
      found.push(Deno.realPathSync(p));
    } catch { /* absent: nothing to bind */ }
  }
  return found;
}

/** The hidden paths that exist, resolved, and their kind. */
function hiddenPaths(paths: string[]): HiddenPath[] {
  const found: HiddenPath[] = [];
  for (const path of resolvedPaths(paths)) {
    const st = statOrNull(path);
    if (st !== null) found.push({ path, isDirectory: st.isDirectory });
  }
  return found;
}

function spawnSandbox(
  args: string[],
  denoCache: "ro" | "rw" | undefined,
  extraEnv: Record<string, string>,
): Deno.ChildProcess {
  // unshare, dying with the provider (parent_death.ts): the setup joins the cgroups first.
  return new Deno.Command(DIE_WITH_PARENT[0], {
    args: [...DIE_WITH_PARENT.slice(1), "unshare", ...args],
    clearEnv: true,
    env: skillEnvironment({
      inputs: `${SANDBOX_WORK_DIR}/${INPUTS_DIR}`,
      outputs: `${SANDBOX_WORK_DIR}/${OUTPUTS_DIR}`,
      toonModule: TOON_MODULE === undefined ? undefined : SANDBOX_TOON_MODULE,
    }, {
      PATH: `${SANDBOX_DENO_BIN_DIR}:${SKILL_PATH}`,
      HOME: SANDBOX_WORK_DIR,
      TMPDIR: SANDBOX_WORK_DIR,
      LANG: "C.UTF-8",
      ...(denoCache === undefined ? {} : { DENO_DIR: SANDBOX_DENO_DIR }),
      ...extraEnv,
    }),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Runs one job through a skill's `run` in a sandboxed subprocess. The layout the job sees is
 * built from nothing (roles/provider/sandbox_mounts.ts): system dirs read-only, its work dir,
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
 *   pages and the job's tmpfs mounts' own counters; the job may create no user namespace of
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
import type { SkillManifest } from "./skill_manifest.ts";
import { JobCgroupPool, reapPooledCgroups } from "./job_cgroup_pool.ts";
import { readCapped, readTail } from "./output_capture.ts";
import { type SandboxGateway, sandboxGatewayPlan } from "./sandbox_gateway.ts";
import { SKILL_PATH, skillEnvironment, skillExitStatus } from "../../protocol/skill_contract.ts";
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
import {
  DATA_LIMIT_HEADROOM,
  DEFAULT_MAX_PROCESSES,
  type JobCgroups,
  type JobTmpfsMeter,
  jobTmpfsMeter,
  killTree,
  MEMORY_SAMPLE_MS,
  oomKills,
  probeCgroupControllers,
  processTree,
  treeMemoryBytes,
} from "./sandbox_limits.ts";

export { SANDBOX_DENO_BIN_DIR, SANDBOX_DENO_DIR, SANDBOX_WORK_DIR };

/** The sandbox user in root mode (nobody). */
export const SANDBOX_UID = 65534;
/** In the work dir: the job's input files (TURNPIKE_INPUTS). */
export const INPUTS_DIR = "inputs";
/** In the work dir: files the skill leaves for the result (TURNPIKE_OUTPUTS). */
export const OUTPUTS_DIR = "out";
/** Exit code of the sandbox's own setup script when it cannot build the sandbox. */
export const SANDBOX_SETUP_EXIT = 125;

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
  /** Removes what the sandbox keeps between jobs (its pooled cgroups); the provider stops. */
  close?(): Promise<void>;
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

// Runs inside the new namespaces as (namespace) root, then drops privileges. bash, not sh:
// closing descriptors above 9 needs it. Positional args:
//   fstab root work gateway memcg pidscg nproc datakb fsizekb dropto -- command...
// Every mount is ONE `mount --all` over an fstab the provider wrote (sandbox_mounts.ts), not
// one `mount` process each: the job starts unshare, bash, mount, pivot_root, umount, setpriv
// and its own run, the rest is builtins.
const SETUP_SCRIPT = `
fail() { echo "turnpike-sandbox: $*" >&2; exit ${SANDBOX_SETUP_EXIT}; }
# pivot_root lives in sbin, which the job's own PATH leaves out.
jobpath=$PATH; PATH=$PATH:/usr/sbin:/sbin
fstab=$1; root=$2; gateway=$4; memcg=$5; pidscg=$6; nproc=$7; datakb=$8; fsizekb=$9; dropto=\${10}
shift 10
# The cgroups first: everything the job allocates from here on (its tmpfs too) counts.
if [ "$memcg" != - ]; then echo 0 > "$memcg/cgroup.procs" || fail "cannot join $memcg"; fi
if [ "$pidscg" != - ]; then echo 0 > "$pidscg/cgroup.procs" || fail "cannot join $pidscg"; fi
# Descriptors the provider inherited from its own parent are not the job's business.
for fd in /proc/self/fd/*; do
  fd=\${fd##*/}
  case $fd in 0|1|2) ;; *) eval "exec $fd<&-" 2>/dev/null ;; esac
done
mount --all --no-canonicalize --fstab "$fstab" || fail "mounts failed"
cd "$root" || fail "cd $root"
pivot_root . . || fail "pivot_root failed"
umount -l . || fail "cannot detach the host's root"
cd ${SANDBOX_WORK_DIR} || fail "cd ${SANDBOX_WORK_DIR}"
unset OLDPWD
if [ "$nproc" != - ]; then ulimit -u "$nproc" || fail "ulimit -u"; fi
if [ "$datakb" != - ]; then ulimit -d "$datakb" || fail "ulimit -d"; fi
# No one file larger than the work dir may hold (the sum is sampled: see superviseJob).
ulimit -f "$fsizekb" || fail "ulimit -f"
if [ "$gateway" != - ]; then eval "$gateway"; fi # its forwarder: sandbox_gateway.ts
[ "$1" = "--" ] && shift
PATH=$jobpath
# env -u: bash re-exports SHLVL on exec even when unset.
if [ "$dropto" = nobody ]; then
  exec env -u SHLVL setpriv --reuid=${SANDBOX_UID} --regid=${SANDBOX_UID} --clear-groups \\
    --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
fi
# Rootless: a nested user namespace maps the job to uid/gid 65534 too (inside it), so tools
# that act differently as root (tar restoring owners, package managers) behave as for nobody.
# That one is the last: a user namespace of the job's own would let it mount a tmpfs that no
# limit sees (its pages are in no process and no cgroup). The limit is this namespace's (its
# root may set it) and the kernel checks it for namespaces made at any depth below, so the job,
# without capabilities here, can neither raise it nor get around it: unshare gets ENOSPC.
echo 1 > /proc/sys/user/max_user_namespaces || fail "cannot limit nested user namespaces"
exec env -u SHLVL unshare --user --map-user=${SANDBOX_UID} --map-group=${SANDBOX_UID} --keep-caps \\
  setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
`;

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
    // What SETUP_SCRIPT does before the job starts (with the job's own /proc, as there): a
    // kernel or /proc that refuses it would fail every job, so say so here, once.
    const nested = await commandOutput("unshare", [
      ...userns,
      "--mount",
      "--pid",
      "--fork",
      "--mount-proc",
      "sh",
      "-c",
      "echo 1 > /proc/sys/user/max_user_namespaces",
    ]);
    if (!nested.ok) {
      throw new SkillSandboxUnavailableError(
        `a job's user namespace cannot be denied nested ones (${nested.text}): a job could ` +
          "mount memory its limit does not see; run the provider as root",
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
  };
  ensureHostFiles(host);
  return {
    mode: probe.mode,
    modeReason: probe.reason,
    limits: probe.limits,
    memoryLimits: probe.limits.memory !== "none",
    run: (job) => runJob(job, options, host, cache === undefined ? undefined : "ro"),
    close: async () => await host.cgroupPool?.close(),
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
  const input = typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input;
  const plan = prepareJob(job, options, host, input, denoCache);
  if ("refusal" in plan) return plan.refusal;
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  let cgroups: JobCgroups = {};
  try {
    if (host.cgroupPool !== undefined) {
      cgroups = host.cgroupPool.acquire({ memoryBytes: job.manifest.memoryBytes, maxProcesses });
    }
    const rootless = host.mode === "rootless";
    const limits = [
      cgroups.memory ?? "-",
      cgroups.pids ?? "-",
      rootless ? String(maxProcesses) : "-",
      rootless ? String(Math.ceil((job.manifest.memoryBytes + DATA_LIMIT_HEADROOM) / 1024)) : "-",
      String(Math.ceil(job.manifest.diskBytes / 1024)),
      rootless ? "self" : "nobody",
    ];
    const args = [
      ...plan.args.slice(0, plan.limitsAt),
      ...limits,
      ...plan.args.slice(plan.limitsAt),
    ];
    const env = plan.env;
    return await superviseJob(
      job,
      options,
      host,
      plan.workDir,
      args,
      input,
      cgroups,
      denoCache,
      env,
    );
  } finally {
    try {
      Deno.removeSync(plan.fstab);
    } catch { /* already gone */ }
    await host.cgroupPool?.release(cgroups);
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
  input: Uint8Array,
  denoCache: "ro" | "rw" | undefined,
): JobPlan | { refusal: SkillOutcome } {
  if (!JOB_ID.test(job.jobId)) throw new SkillJobError(`bad job id ${JSON.stringify(job.jobId)}`);
  const maxStdin = options.maxStdinBytes ?? MiB;
  if (input.length > maxStdin) {
    throw new SkillJobError(`input is ${input.length} bytes, over the ${maxStdin}-byte limit`);
  }
  const skillDir = Deno.realPathSync(job.skillDir);
  const workDir = `${options.jobsRoot}/${job.jobId}`;
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
  const fstab = `${options.jobsRoot}/${job.jobId}.fstab`;
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
    SETUP_SCRIPT,
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
  for (const f of files) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(f.name)) {
      throw new SkillJobError(`bad input file name ${JSON.stringify(f.name)}`);
    }
    const to = `${workDir}/${INPUTS_DIR}/${f.name}`;
    Deno.copyFileSync(f.path, to);
    Deno.chmodSync(to, 0o444);
  }
  if (mode === "root") {
    Deno.chownSync(workDir, SANDBOX_UID, SANDBOX_UID);
    Deno.chownSync(`${workDir}/${OUTPUTS_DIR}`, SANDBOX_UID, SANDBOX_UID);
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

function emptyOutcome(status: SkillOutcomeStatus, reason: string, workDir: string): SkillOutcome {
  return {
    status,
    reason,
    exitCode: null,
    stdout: new Uint8Array(),
    stderrTail: "",
    stderrTruncated: false,
    durationMs: 0,
    workDir,
  };
}

type KillReason = "timeout" | "cancelled" | "output-too-large" | "memory-limit" | "disk-limit";

/** How often a job's work dir is measured against its disk limit. */
const DISK_SAMPLE_MS = 250;
/** Most files a work dir may hold (files cost inodes whatever their size). */
const MAX_WORK_FILES = 100_000;

async function superviseJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  workDir: string,
  args: string[],
  input: Uint8Array,
  cgroups: JobCgroups,
  denoCache: "ro" | "rw" | undefined,
  extraEnv: Record<string, string>,
): Promise<SkillOutcome> {
  const started = performance.now();
  // unshare directly: SETUP_SCRIPT joins the cgroups before anything else runs.
  const child = new Deno.Command("unshare", {
    args,
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

  let killedFor: KillReason | null = null;
  const kill = (why: KillReason) => {
    if (killedFor !== null) return;
    killedFor = why;
    killTree(child.pid);
  };
  const timer = setTimeout(() => kill("timeout"), job.manifest.timeoutMs);
  // Rootless, the job's tmpfs mounts (/tmp, /var/tmp, /dev/shm...) are charged to no cgroup
  // and pages written to them are in no process's RSS: what each holds (statfs, unlinked files
  // too) counts in the job's memory, sampled with the processes. As root the cgroup charges them.
  // unshare (--fork) has one child for the job's whole life: the PID namespace's init.
  let tmpfs: JobTmpfsMeter | undefined;
  const overMemory = () => {
    const initPid = tmpfs === undefined ? processTree(child.pid)[1] : undefined;
    if (initPid !== undefined) tmpfs = jobTmpfsMeter(initPid);
    return treeMemoryBytes(child.pid) + (tmpfs?.bytes() ?? 0) > job.manifest.memoryBytes;
  };
  const sampler = host.limits.memory === "sampled"
    ? setInterval(() => {
      if (overMemory()) kill("memory-limit");
    }, MEMORY_SAMPLE_MS)
    : undefined;
  // The work dir is a host directory, which no mount limits: its files are summed while the
  // job runs (each one is capped by RLIMIT_FSIZE already), the job killed past the limit.
  let measuring = false;
  const disk = setInterval(async () => {
    if (measuring || killedFor !== null) return;
    measuring = true;
    try {
      const used = await dirUsage(workDir, job.manifest.diskBytes, MAX_WORK_FILES);
      if (used === "over") kill("disk-limit");
    } finally {
      measuring = false;
    }
  }, DISK_SAMPLE_MS);
  const onAbort = () => kill("cancelled");
  if (job.signal?.aborted) onAbort();
  job.signal?.addEventListener("abort", onAbort);

  const maxStdout = options.maxStdoutBytes ?? MiB;
  const maxStderr = options.maxStderrBytes ?? 64 * 1024;
  try {
    const [, stdout, stderr, status] = await Promise.all([
      feedStdin(child.stdin, input),
      readCapped(child.stdout, maxStdout, () => kill("output-too-large")),
      readTail(child.stderr, maxStderr),
      child.status,
    ]);
    const durationMs = performance.now() - started;
    const stderrText = new TextDecoder().decode(stderr.bytes);
    const base = {
      exitCode: status.signal === null ? status.code : null,
      stdout: stdout.bytes,
      stderrTail: stderrText,
      stderrTruncated: stderr.truncated,
      durationMs,
      workDir,
    };
    const ooms = killedFor === "memory-limit" ? 1 : oomKills(cgroups.memory);
    const [kind, reason] = classify(status.code, killedFor, ooms, stderrText, job, options);
    return { status: kind, reason, ...base };
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    clearInterval(disk);
    job.signal?.removeEventListener("abort", onAbort);
  }
}

async function feedStdin(stdin: WritableStream<Uint8Array>, input: Uint8Array): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(input);
    await writer.close();
  } catch {
    // The skill exited without reading all its input (EPIPE): its exit status tells the story.
  }
}

/**
 * Bytes of the regular files under `dir`, or `over` as soon as they pass `limit` or the files
 * pass `maxFiles` (the walk stops there: a job cannot make the measuring slow).
 */
async function dirUsage(dir: string, limit: number, maxFiles: number): Promise<number | "over"> {
  let bytes = 0;
  let files = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    let entries: AsyncIterable<Deno.DirEntry>;
    try {
      entries = Deno.readDir(current);
      for await (const e of entries) {
        if (++files > maxFiles) return "over";
        const path = `${current}/${e.name}`;
        if (e.isDirectory) stack.push(path);
        else if (e.isFile) {
          bytes += (await Deno.lstat(path).catch(() => ({ size: 0 }))).size;
          if (bytes > limit) return "over";
        }
      }
    } catch {
      // gone while walking: nothing to count
    }
  }
  return bytes;
}

// Signatures of a denied read or connect in a skill's stderr (shell tools, Deno, Node, Python).
const NET_DENIED =
  /Network is unreachable|ENETUNREACH|os error 101|Cannot assign requested address/;
const READ_DENIED = /Permission denied|EACCES|os error 13|No such file|ENOENT|os error 2\b/;

function classify(
  code: number,
  killedFor: KillReason | null,
  ooms: number,
  stderr: string,
  job: SkillJob,
  options: SkillSandboxOptions,
): [SkillOutcomeStatus, string] {
  if (killedFor === "timeout") return ["timeout", `timeout after ${job.manifest.timeoutMs} ms`];
  if (killedFor === "cancelled") return ["cancelled", "cancelled; the job's processes were killed"];
  if (killedFor === "output-too-large") {
    return ["output-too-large", `result over ${options.maxStdoutBytes ?? MiB} bytes`];
  }
  if (ooms > 0) return ["memory-limit", `killed over ${job.manifest.memoryBytes} bytes of memory`];
  if (killedFor === "disk-limit") {
    return [
      "disk-limit",
      `killed over ${job.manifest.diskBytes} bytes (or ${MAX_WORK_FILES} files) in its work dir`,
    ];
  }
  // A write past RLIMIT_FSIZE raises SIGXFSZ (signal 25).
  if (code === 128 + 25 || /File size limit exceeded/.test(stderr)) {
    return ["disk-limit", `a file over the ${job.manifest.diskBytes}-byte work dir limit`];
  }
  if (code === SANDBOX_SETUP_EXIT && stderr.includes("turnpike-sandbox:")) {
    return ["sandbox-error", stderr.trim().split("\n").at(-1) ?? "sandbox setup failed"];
  }
  if (code !== 0) {
    const denial = findDenial(stderr, options.hiddenPaths, job.manifest.permissions.network);
    if (denial !== null) return ["denied", denial];
  }
  return skillExitStatus(code);
}

/**
 * The kernel enforces the denial; this only names it for the outcome, from the skill's own
 * error messages (best effort: a skill that hides its errors still got nothing).
 */
function findDenial(stderr: string, hidden: string[], networkAllowed: boolean): string | null {
  for (const line of stderr.split("\n")) {
    if (!networkAllowed && NET_DENIED.test(line)) {
      return `network denied: ${line.trim().slice(0, 300)}`;
    }
    if (READ_DENIED.test(line) && hidden.some((h) => line.includes(h))) {
      return `read denied: ${line.trim().slice(0, 300)}`;
    }
  }
  return null;
}

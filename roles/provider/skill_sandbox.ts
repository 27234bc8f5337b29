/**
 * Runs one job through a skill's `run` in a sandboxed subprocess (issue #5, DESIGN.md §7).
 *
 * Mechanism (verified on this machine kind: Linux, root, no Docker, no systemd-run, no bwrap):
 * - `unshare --mount --pid --fork --kill-child --mount-proc` (+ `--net` unless the manifest asks
 *   for network AND the operator allows it): a new network namespace has only a downed loopback,
 *   so every connection fails with ENETUNREACH; a new PID namespace means the job's whole process
 *   tree dies with its init: on timeout or cancel the sandbox SIGKILLs `unshare` and its
 *   descendants (found through /proc), and the kernel kills whatever else lives in the namespace.
 * - In the new mount namespace, tmpfs mounts hide every `hiddenPaths` entry (state dir, key
 *   file) and give the job a private `/tmp`, `/var/tmp`, `/dev/shm`; the job's host work dir is
 *   bind-mounted at `/tmp/job` (read-write) and the skill's dir at its own path (read-only).
 *   All of them are one `mount --all` over a per-job fstab (one process, not one per mount).
 * - `setpriv` drops to uid/gid 65534 (nobody) with no capabilities, so the skill cannot undo
 *   the mounts, and cannot read root's 0600 files even where they are not hidden.
 * - Memory: a cgroup v1 memory controller (`/sys/fs/cgroup/memory/turnpike-*`), limit = the
 *   manifest's memory, joined by the setup script before anything else; the kernel OOM-kills
 *   the job past it. `prlimit --as` is NOT used: V8 reserves a large address space up front,
 *   so Deno skills die at start under any sane RLIMIT_AS.
 * - Environment: cleared; only PATH (the running Deno's directory first, so `#!/usr/bin/env -S
 *   deno run` skills work on a machine where Deno is not installed), HOME=TMPDIR=/tmp/job, LANG,
 *   and with `denoCacheDir` DENO_DIR (that cache, read-only, at SANDBOX_DENO_DIR).
 *
 * The `run` contract (skills/*): the raw TOON event on stdin; the result on stdout; logs on
 * stderr; exit 0 ok, 1 job failed, 2 bad input, 3 refused (will not do this job). Any other
 * exit is "crashed".
 *
 * @module
 */
import type { SkillManifest } from "./skill_manifest.ts";

/** The sandbox user (nobody). */
export const SANDBOX_UID = 65534;
/** Where the job's work dir appears inside the sandbox (also HOME and TMPDIR). */
export const SANDBOX_WORK_DIR = "/tmp/job";
/** Where `denoCacheDir` appears inside the sandbox (the skill's DENO_DIR). */
export const SANDBOX_DENO_DIR = "/tmp/.turnpike-deno";
/** Exit code of the sandbox's own setup script when it cannot build the sandbox. */
export const SANDBOX_SETUP_EXIT = 125;

/** Exit codes of a skill's `run`. */
export const SKILL_EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3 } as const;

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
  /** Paths the skill must never see (the state dir, the key file...). */
  hiddenPaths: string[];
  /** Operator's consent to network for skills whose manifest asks: true, or skill names. */
  allowNetwork?: boolean | string[];
  /** Extra host paths the operator lets skills have when their manifest asks for them. */
  allowPaths?: string[];
  /** Largest stdin (the TOON event); default 1 MiB. */
  maxStdinBytes?: number;
  /** Largest result; past it the job is killed (`output-too-large`). Default 1 MiB. */
  maxStdoutBytes?: number;
  /** Tail of stderr kept; default 64 KiB. */
  maxStderrBytes?: number;
  /** Size of the job's private /tmp tmpfs; default 256 MiB (charged to the memory cgroup). */
  tmpBytes?: number;
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
  /** Kind 5 cancellation (or shutdown): aborting kills the job. */
  signal?: AbortSignal;
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
  /** Whether memory limits are enforced (a writable cgroup v1 memory controller). */
  readonly memoryLimits: boolean;
}

/** The sandbox cannot be built on this machine (not root, no `unshare`...): fail closed. */
export class SkillSandboxUnavailableError extends Error {
  override name = "SkillSandboxUnavailableError";
}

/** A job the sandbox refuses before starting (bad job id, input too large, no `run`). */
export class SkillJobError extends Error {
  override name = "SkillJobError";
}

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** The directory of the running Deno binary: on the skill's PATH and kept visible. */
const DENO_DIR = Deno.execPath().replace(/\/[^/]*$/, "");
const CGROUP_MEMORY_ROOT = "/sys/fs/cgroup/memory";
const MiB = 1024 * 1024;

/** The directories the sandbox replaces with a private tmpfs (see SETUP_SCRIPT). */
const PRIVATE_TMP_DIRS = ["/tmp", "/var/tmp", "/dev/shm"];
/** In `jobsRoot`: a root-owned mode-000 file bind-mounted over every hidden file. */
const DENIED_FILE = ".turnpike-denied";

// Runs as root inside the new namespaces (unshare's own --propagation private already keeps
// these mounts from the host), then drops to nobody. Positional args:
// work skill keepDeno keepProject denoCache deniedFile fstabFile cgroup -- command...
// Every mount is ONE `mount --all` over an fstab the provider wrote (see buildFstab), not one
// `mount` process each: a job used to start ~14 helper processes (8 mount, 2 mkdir, chmod, sh,
// unshare, setpriv), 35-60 ms before a 3 ms skill ran; now unshare, sh, mount and setpriv, the
// rest is shell builtins. The fstab is a file (libmount cannot parse one from a pipe). Every
// bind source is an fd opened before the first mount: the mounts hide their host paths (the
// private /tmp, the state dir) before the binds that need them.
const SETUP_SCRIPT = `
fail() { echo "turnpike-sandbox: $*" >&2; exit ${SANDBOX_SETUP_EXIT}; }
work=$1; skill=$2; keepdeno=$3; keepproject=$4; denocache=$5; denied=$6; fstab=$7; cg=$8
shift 8
# The memory cgroup first: everything the job allocates from here on (its tmpfs too) counts.
if [ "$cg" != "-" ]; then echo 0 > "$cg/cgroup.procs" || fail "cannot join $cg"; fi
exec 3<"$work" 4<"$skill" || fail "cannot open work or skill dir"
if [ "$keepdeno" != "-" ]; then exec 5<"$keepdeno" || fail "cannot open $keepdeno"; fi
if [ "$keepproject" != "-" ]; then exec 6<"$keepproject" || fail "cannot open $keepproject"; fi
if [ "$denocache" != "-" ]; then exec 9<"$denocache" || fail "cannot open $denocache"; fi
exec 7<"$fstab" 8<"$denied" || fail "cannot open $fstab or $denied"
mount --all --no-canonicalize --fstab /proc/self/fd/7 || fail "mounts failed"
exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-
cd ${SANDBOX_WORK_DIR} || fail "cd"
unset OLDPWD
[ "$1" = "--" ] && shift
exec setpriv --reuid=${SANDBOX_UID} --regid=${SANDBOX_UID} --clear-groups \\
  --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
`;

/** The machine facts a job's mounts depend on, probed once per sandbox. */
interface SandboxHost {
  /** Which of PRIVATE_TMP_DIRS exist here. */
  tmpDirs: string[];
  /** The mode-000 file bound over hidden files. */
  deniedFile: string;
  /** `denoCacheDir`, resolved. */
  denoCacheDir?: string;
}

/** One hidden path, resolved, and whether it is a directory. */
interface HiddenPath {
  path: string;
  isDirectory: boolean;
}

/** Options for {@linkcode buildFstab}. */
interface FstabOptions {
  host: SandboxHost;
  hidden: HiddenPath[];
  skillDir: string;
  tmpBytes: number;
  keepDeno: boolean;
  keepProject: string | undefined;
  /** The Deno cache: "ro" for jobs, "rw" for a warm-up run, absent without one. */
  denoCache: "ro" | "rw" | undefined;
}

/**
 * The job's mounts, in the order the old one-mount-per-process script made them: the private
 * tmp dirs; Deno's dir and the skill's project bound back read-only when those tmpfs hid them;
 * then the hidden paths still in view (a state dir inside a bound-back project is hidden
 * again); last the work dir at /tmp/job and the skill dir read-only. Bind sources are the fds
 * SETUP_SCRIPT opened (3 work dir, 4 skill dir, 5 Deno's dir, 6 project, 8 the denied file, 9
 * the Deno cache).
 * `bind,ro` is bind + read-only remount (util-linux >= 2.27); X-mount.mkdir makes mount points.
 */
function buildFstab(o: FstabOptions): string {
  const line = (source: string, target: string, type: string, opts: string) =>
    [fstabField(source), fstabField(target), type, opts, "0", "0"].join(" ");
  const lines: string[] = [];
  for (const d of o.host.tmpDirs) {
    lines.push(line("turnpike-tmp", d, "tmpfs", `size=${o.tmpBytes},mode=1777`));
  }
  const keeps: [number, string][] = [];
  if (o.keepDeno) keeps.push([5, DENO_DIR]);
  if (o.keepProject !== undefined) keeps.push([6, o.keepProject]);
  for (const [fd, dir] of keeps) {
    lines.push(line(`/proc/self/fd/${fd}`, dir, "none", "bind,ro,X-mount.mkdir"));
  }
  const kept = keeps.map(([, dir]) => dir);
  // Under a private tmp dir and not bound back: already gone, and no mount point left for it.
  const inView = (p: string) =>
    o.host.tmpDirs.every((d) => !isUnder(p, d)) || kept.some((k) => isUnder(p, k));
  for (const h of o.hidden.filter((h) => inView(h.path))) {
    lines.push(
      h.isDirectory
        ? line("turnpike-hidden", h.path, "tmpfs", "size=64k,mode=0711")
        : line("/proc/self/fd/8", h.path, "none", "bind"),
    );
  }
  lines.push(line("/proc/self/fd/3", SANDBOX_WORK_DIR, "none", "bind,X-mount.mkdir"));
  lines.push(line("/proc/self/fd/4", o.skillDir, "none", "bind,ro,X-mount.mkdir"));
  if (o.denoCache !== undefined) {
    const ro = o.denoCache === "ro" ? ",ro" : "";
    lines.push(line("/proc/self/fd/9", SANDBOX_DENO_DIR, "none", `bind${ro},X-mount.mkdir`));
  }
  return lines.join("\n");
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** fstab(5) escaping: whitespace and backslash as octal, so any path is one field. */
function fstabField(value: string): string {
  return value.replace(/[\s\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

/**
 * Build a sandbox. Probes the machine once and throws {@linkcode SkillSandboxUnavailableError}
 * when jobs could not be isolated (never runs a skill unsandboxed).
 *
 * @example
 * ```ts
 * const sandbox = await createSkillSandbox({ jobsRoot: "/state/jobs", hiddenPaths: ["/state"] });
 * const outcome = await sandbox.run({ jobId: "j1", skillDir: "skills/echo", manifest, input });
 * ```
 */
export async function createSkillSandbox(options: SkillSandboxOptions): Promise<SkillSandbox> {
  await probeNamespaces();
  const memoryLimits = await probeCgroup();
  await Deno.mkdir(options.jobsRoot, { recursive: true });
  const cache = options.denoCacheDir;
  if (cache !== undefined) {
    // Nobody writes it during warm-ups only; its parent (the state dir) keeps others out.
    await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
    await Deno.chown(cache, SANDBOX_UID, SANDBOX_UID);
  }
  const host: SandboxHost = {
    tmpDirs: await existingDirs(PRIVATE_TMP_DIRS),
    deniedFile: `${await Deno.realPath(options.jobsRoot)}/${DENIED_FILE}`,
    denoCacheDir: cache === undefined ? undefined : await Deno.realPath(cache),
  };
  ensureDeniedFile(host.deniedFile);
  return {
    memoryLimits,
    run: (job) => runJob(job, options, host, memoryLimits, cache === undefined ? undefined : "ro"),
    async warmDenoCache({ skillDir, manifest }) {
      if (cache === undefined || !isDenoScript(`${skillDir}/run`)) return undefined;
      const jobId = `warm-${crypto.randomUUID()}`;
      const job = { jobId, skillDir, manifest, input: "" };
      const outcome = await runJob(job, options, host, memoryLimits, "rw");
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

async function existingDirs(paths: string[]): Promise<string[]> {
  const found = await Promise.all(
    paths.map((p) => Deno.stat(p).then((s) => s.isDirectory, () => false)),
  );
  return paths.filter((_, i) => found[i]);
}

/**
 * The file every hidden file is bound to: root's, mode 000, so nobody reads "Permission
 * denied" (the outcome names the denial from that). Re-made when someone removed or changed it.
 */
function ensureDeniedFile(path: string): void {
  let st: Deno.FileInfo | null = null;
  try {
    st = Deno.lstatSync(path);
  } catch { /* absent */ }
  if (st?.isFile && st.uid === 0 && ((st.mode ?? 0) & 0o777) === 0 && st.size === 0) return;
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* absent */ }
  Deno.writeFileSync(path, new Uint8Array(), { mode: 0, createNew: true });
  Deno.chmodSync(path, 0);
}

async function probeNamespaces(): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new SkillSandboxUnavailableError(
      "the skill sandbox needs root (mount/PID/network namespaces, setpriv to nobody)",
    );
  }
  try {
    const { success, stderr } = await new Deno.Command("unshare", {
      args: ["--net", "--mount", "--pid", "--fork", "setpriv", "--reuid=65534", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new SkillSandboxUnavailableError(
        `unshare/setpriv probe failed: ${new TextDecoder().decode(stderr).trim()}`,
      );
    }
  } catch (err) {
    if (err instanceof SkillSandboxUnavailableError) throw err;
    throw new SkillSandboxUnavailableError(`unshare/setpriv not usable: ${String(err)}`);
  }
}

async function probeCgroup(): Promise<boolean> {
  const dir = `${CGROUP_MEMORY_ROOT}/turnpike-probe-${crypto.randomUUID()}`;
  try {
    await Deno.mkdir(dir);
    await Deno.remove(dir);
    return true;
  } catch {
    return false;
  }
}

async function runJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  host: SandboxHost,
  memoryLimits: boolean,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  const input = typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input;
  const plan = prepareJob(job, options, host, input, denoCache);
  if ("refusal" in plan) return plan.refusal;
  let cgroup: string | undefined;
  try {
    cgroup = memoryLimits ? createCgroup(job) : undefined;
    const args = [
      ...plan.args.slice(0, plan.cgroupAt),
      cgroup ?? "-",
      ...plan.args.slice(plan.cgroupAt),
    ];
    return await superviseJob(job, options, plan.workDir, args, input, cgroup, denoCache);
  } finally {
    try {
      Deno.removeSync(plan.fstab);
    } catch { /* already gone */ }
    if (cgroup !== undefined) await removeCgroup(cgroup);
  }
}

interface JobPlan {
  workDir: string;
  /** The job's mounts (in jobsRoot, beside its work dir), removed when the job ends. */
  fstab: string;
  /** unshare's arguments, without the cgroup... */
  args: string[];
  /** ...which goes in at this index. */
  cgroupAt: number;
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
  // The skill runs as nobody: `run` must be executable by "others".
  if (run === null || !run.isFile || ((run.mode ?? 0) & 0o001) === 0) {
    throw new SkillJobError(`${skillDir}/run is missing or not executable by others`);
  }
  freshWorkDir(workDir);
  const refusal = permissionRefusal(job.manifest, options);
  if (refusal !== null) {
    return { refusal: emptyOutcome("denied", refusal, workDir) };
  }
  ensureDeniedFile(host.deniedFile);
  const hidden = hiddenPaths(options.hiddenPaths);
  const projectDir = projectDirOf(skillDir);
  const network = job.manifest.permissions.network;
  const keepDeno = underPrivateTmp(DENO_DIR);
  const keepProject = projectDir !== undefined && underPrivateTmp(projectDir)
    ? projectDir
    : undefined;
  const fstab = `${options.jobsRoot}/${job.jobId}.fstab`;
  // Not fsynced: it only has to outlive this job's start; a crash leaves a stray file.
  Deno.writeTextFileSync(
    fstab,
    buildFstab({
      host,
      hidden,
      skillDir,
      tmpBytes: options.tmpBytes ?? 256 * MiB,
      keepDeno,
      keepProject,
      denoCache,
    }),
    { mode: 0o600 },
  );
  const args = [
    "--mount",
    "--propagation=private",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    ...(network ? [] : ["--net"]),
    "sh",
    "-c",
    SETUP_SCRIPT,
    "turnpike-sandbox",
    // The work dir stays a whole argument of unshare: the orphan reaper finds jobs by it.
    workDir,
    skillDir,
    keepDeno ? DENO_DIR : "-",
    keepProject ?? "-",
    denoCache === undefined ? "-" : host.denoCacheDir!,
    host.deniedFile,
    fstab,
  ];
  const cgroupAt = args.length;
  args.push("--", `${skillDir}/run`);
  return { workDir, fstab, args, cgroupAt };
}

function freshWorkDir(workDir: string): void {
  try {
    Deno.removeSync(workDir, { recursive: true });
  } catch { /* none yet */ }
  Deno.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  Deno.chownSync(workDir, SANDBOX_UID, SANDBOX_UID);
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
  // Extra read paths stay visible as nobody sees them; extra write paths are not wired yet.
  if (write.length > 0) {
    return `path denied: extra write paths are not supported by this sandbox (${write[0]})`;
  }
  return null;
}

/** Whether a path would be hidden by the sandbox's private /tmp, /var/tmp or /dev/shm. */
function underPrivateTmp(path: string): boolean {
  return PRIVATE_TMP_DIRS.some((d) => isUnder(path, d));
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

/** The hidden paths that exist, resolved (a mount needs the real path), and their kind. */
function hiddenPaths(paths: string[]): HiddenPath[] {
  const found: HiddenPath[] = [];
  for (const p of paths) {
    let path: string;
    try {
      path = Deno.realPathSync(p);
    } catch {
      continue; // absent: nothing to hide
    }
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

/** Synchronous, like prepareJob: cgroupfs calls, no disk, no waiting. */
function createCgroup(job: SkillJob): string {
  const dir = `${CGROUP_MEMORY_ROOT}/turnpike-${job.jobId}-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(dir);
  const limit = String(job.manifest.memoryBytes);
  Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, limit);
  try {
    // Swap would let a job exceed its limit; not every kernel has memsw accounting.
    Deno.writeTextFileSync(`${dir}/memory.memsw.limit_in_bytes`, limit);
  } catch { /* no memsw accounting */ }
  return dir;
}

function cgroupPids(dir: string): number[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(`${dir}/cgroup.procs`);
  } catch { /* gone */ }
  return text.split("\n").filter((l) => l !== "").map(Number);
}

async function removeCgroup(dir: string): Promise<void> {
  // The PID namespace normally takes every process down; this sweep covers a job that escaped
  // it (it cannot: kept as defence in depth) before the cgroup can be removed.
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  try {
    Deno.removeSync(dir);
  } catch { /* still busy after the sweep, or already gone */ }
}

/**
 * SIGKILL `pid` and its descendants, children first seen first. Killing the PID namespace's
 * init takes the whole namespace down; `unshare --kill-child` alone is not enough, because the
 * parent-death signal it sets is cleared when setpriv changes the uid.
 */
function killTree(pid: number): void {
  const seen: number[] = [];
  const walk = (p: number) => {
    seen.push(p);
    for (const c of childrenOf(p)) walk(c);
  };
  walk(pid);
  for (const p of seen.reverse()) {
    try {
      Deno.kill(p, "SIGKILL");
    } catch { /* already gone */ }
  }
}

function childrenOf(pid: number): number[] {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
    return text.split(" ").filter((t) => t.trim() !== "").map(Number);
  } catch {
    return [];
  }
}

function oomKills(dir: string | undefined): number {
  if (dir === undefined) return 0;
  let text = "";
  try {
    text = Deno.readTextFileSync(`${dir}/memory.oom_control`);
  } catch { /* no cgroup */ }
  const m = /oom_kill (\d+)/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function superviseJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  workDir: string,
  args: string[],
  input: Uint8Array,
  cgroup: string | undefined,
  denoCache: "ro" | "rw" | undefined,
): Promise<SkillOutcome> {
  const denoDir = DENO_DIR;
  const started = performance.now();
  // unshare directly: SETUP_SCRIPT joins the memory cgroup before anything else runs.
  const child = new Deno.Command("unshare", {
    args,
    clearEnv: true,
    env: {
      PATH: `${denoDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: SANDBOX_WORK_DIR,
      TMPDIR: SANDBOX_WORK_DIR,
      LANG: "C.UTF-8",
      ...(denoCache === undefined ? {} : { DENO_DIR: SANDBOX_DENO_DIR }),
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let killedFor: "timeout" | "cancelled" | "output-too-large" | null = null;
  const kill = (why: "timeout" | "cancelled" | "output-too-large") => {
    if (killedFor !== null) return;
    killedFor = why;
    killTree(child.pid);
  };
  const timer = setTimeout(() => kill("timeout"), job.manifest.timeoutMs);
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
    const ooms = oomKills(cgroup);
    const [kind, reason] = classify(status.code, killedFor, ooms, stderrText, job, options);
    return { status: kind, reason, ...base };
  } finally {
    clearTimeout(timer);
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

interface Captured {
  bytes: Uint8Array;
  truncated: boolean;
}

async function readCapped(
  stream: ReadableStream<Uint8Array>,
  max: number,
  onOverflow: () => void,
): Promise<Captured> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (truncated) continue; // keep draining so the pipe closes
    if (size + chunk.length > max) {
      parts.push(chunk.subarray(0, max - size));
      size = max;
      truncated = true;
      onOverflow();
      continue;
    }
    parts.push(chunk);
    size += chunk.length;
  }
  return { bytes: concat(parts, size), truncated };
}

async function readTail(stream: ReadableStream<Uint8Array>, max: number): Promise<Captured> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    parts.push(chunk);
    size += chunk.length;
    while (size - parts[0].length >= max) {
      size -= parts.shift()!.length;
      truncated = true;
    }
  }
  const all = concat(parts, size);
  if (all.length <= max) return { bytes: all, truncated };
  return { bytes: all.subarray(all.length - max), truncated: true };
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, size - at), at);
    at += Math.min(p.length, size - at);
  }
  return out;
}

// Signatures of a denied read or connect in a skill's stderr (shell tools, Deno, Node, Python).
const NET_DENIED =
  /Network is unreachable|ENETUNREACH|os error 101|Cannot assign requested address/;
const READ_DENIED = /Permission denied|EACCES|os error 13|No such file|ENOENT|os error 2\b/;

function classify(
  code: number,
  killedFor: "timeout" | "cancelled" | "output-too-large" | null,
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
  if (code === SANDBOX_SETUP_EXIT && stderr.includes("turnpike-sandbox:")) {
    return ["sandbox-error", stderr.trim().split("\n").at(-1) ?? "sandbox setup failed"];
  }
  if (code !== 0) {
    const denial = findDenial(stderr, options.hiddenPaths, job.manifest.permissions.network);
    if (denial !== null) return ["denied", denial];
  }
  switch (code) {
    case SKILL_EXIT.ok:
      return ["ok", "exit 0"];
    case SKILL_EXIT.failed:
      return ["failed", "exit 1: the job failed"];
    case SKILL_EXIT.badInput:
      return ["bad-input", "exit 2: the skill rejected its input"];
    case SKILL_EXIT.refused:
      return ["refused", "exit 3: the skill refused the job"];
    default:
      return ["crashed", code > 128 ? `killed by signal ${code - 128}` : `exit ${code}`];
  }
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

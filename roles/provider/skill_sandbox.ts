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
 * - `setpriv` drops to uid/gid 65534 (nobody) with no capabilities, so the skill cannot undo
 *   the mounts, and cannot read root's 0600 files even where they are not hidden.
 * - Memory: a cgroup v1 memory controller (`/sys/fs/cgroup/memory/turnpike-*`), limit = the
 *   manifest's memory; the kernel OOM-kills the job past it. `prlimit --as` is NOT used: V8
 *   reserves a large address space up front, so Deno skills die at start under any sane RLIMIT_AS.
 * - Environment: cleared; only PATH (the running Deno's directory first, so `#!/usr/bin/env -S
 *   deno run` skills work on a machine where Deno is not installed), HOME=TMPDIR=/tmp/job, LANG.
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

// Runs as root inside the new namespaces, then drops to nobody. Positional args:
// work skillDir tmpBytes keepDeno keepProject nHidden hidden... -- command...
// keepDeno (the running Deno's dir, on the skill's PATH) and keepProject (the skill's deno.json
// and node_modules) are bound back read-only after the private /tmp is mounted, when they lie
// under it ("-" otherwise): a checkout or a Deno under /tmp (CI clones) would vanish for the skill.
const SETUP_SCRIPT = `
fail() { echo "turnpike-sandbox: $*" >&2; exit ${SANDBOX_SETUP_EXIT}; }
work=$1; skill=$2; tmpsize=$3; keepdeno=$4; keepproject=$5; n=$6; shift 6
mount --make-rprivate / || fail "cannot make mounts private"
exec 3<"$work" 4<"$skill" || fail "cannot open work or skill dir"
if [ "$keepdeno" != "-" ]; then exec 5<"$keepdeno" || fail "cannot open $keepdeno"; fi
if [ "$keepproject" != "-" ]; then exec 6<"$keepproject" || fail "cannot open $keepproject"; fi
for d in ${PRIVATE_TMP_DIRS.join(" ")}; do
  [ -d "$d" ] && { mount -t tmpfs -o "size=$tmpsize,mode=1777" turnpike-tmp "$d" || fail "tmpfs $d"; }
done
keep() {
  mkdir -p "$2" && mount --no-canonicalize --bind "/proc/self/fd/$1" "$2" &&
    mount -o remount,bind,ro "$2" || fail "keep $2"
}
if [ "$keepdeno" != "-" ]; then keep 5 "$keepdeno"; fi
if [ "$keepproject" != "-" ]; then keep 6 "$keepproject"; fi
exec 5<&- 6<&-
mkdir -m 0700 /tmp/.turnpike && : > /tmp/.turnpike/denied && chmod 000 /tmp/.turnpike/denied
while [ "$n" -gt 0 ]; do
  h=$1; shift; n=$((n-1))
  if [ -d "$h" ]; then mount -t tmpfs -o size=64k,mode=0711 turnpike-hidden "$h" || fail "hide $h"
  elif [ -e "$h" ]; then mount --bind /tmp/.turnpike/denied "$h" || fail "hide $h"; fi
done
mkdir -p ${SANDBOX_WORK_DIR} "$skill" || fail "mkdir"
mount --no-canonicalize --bind /proc/self/fd/3 ${SANDBOX_WORK_DIR} || fail "bind work dir"
mount --no-canonicalize --bind /proc/self/fd/4 "$skill" || fail "bind skill dir"
mount -o remount,bind,ro "$skill" || fail "skill dir read-only"
exec 3<&- 4<&-
cd ${SANDBOX_WORK_DIR} || fail "cd"
unset OLDPWD
[ "$1" = "--" ] && shift
exec setpriv --reuid=${SANDBOX_UID} --regid=${SANDBOX_UID} --clear-groups \
  --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
`;

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
  return {
    memoryLimits,
    run: (job) => runJob(job, options, memoryLimits),
  };
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
  memoryLimits: boolean,
): Promise<SkillOutcome> {
  const input = typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input;
  const plan = await prepareJob(job, options, input);
  if ("refusal" in plan) return plan.refusal;
  const cgroup = memoryLimits ? await createCgroup(job) : undefined;
  try {
    return await superviseJob(job, options, plan.workDir, plan.args, input, cgroup);
  } finally {
    if (cgroup !== undefined) await removeCgroup(cgroup);
  }
}

interface JobPlan {
  workDir: string;
  args: string[];
}

async function prepareJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  input: Uint8Array,
): Promise<JobPlan | { refusal: SkillOutcome }> {
  if (!JOB_ID.test(job.jobId)) throw new SkillJobError(`bad job id ${JSON.stringify(job.jobId)}`);
  const maxStdin = options.maxStdinBytes ?? MiB;
  if (input.length > maxStdin) {
    throw new SkillJobError(`input is ${input.length} bytes, over the ${maxStdin}-byte limit`);
  }
  const skillDir = await Deno.realPath(job.skillDir);
  const run = await Deno.stat(`${skillDir}/run`).catch(() => null);
  // The skill runs as nobody: `run` must be executable by "others".
  if (run === null || !run.isFile || ((run.mode ?? 0) & 0o001) === 0) {
    throw new SkillJobError(`${skillDir}/run is missing or not executable by others`);
  }
  const workDir = `${options.jobsRoot}/${job.jobId}`;
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(workDir, { recursive: true, mode: 0o700 });
  await Deno.chown(workDir, SANDBOX_UID, SANDBOX_UID);
  const refusal = permissionRefusal(job.manifest, options);
  if (refusal !== null) {
    return { refusal: emptyOutcome("denied", refusal, workDir) };
  }
  const network = job.manifest.permissions.network;
  const hidden = await existingPaths(options.hiddenPaths);
  const args = [
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    ...(network ? [] : ["--net"]),
    "sh",
    "-c",
    SETUP_SCRIPT,
    "turnpike-sandbox",
    workDir,
    skillDir,
    String(options.tmpBytes ?? 256 * MiB),
    underPrivateTmp(DENO_DIR) ? DENO_DIR : "-",
    keepProjectArg(await projectDirOf(skillDir)),
    String(hidden.length),
    ...hidden,
    "--",
    `${skillDir}/run`,
  ];
  return { workDir, args };
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
  return PRIVATE_TMP_DIRS.some((d) => path === d || path.startsWith(`${d}/`));
}

function keepProjectArg(projectDir: string | undefined): string {
  return projectDir !== undefined && underPrivateTmp(projectDir) ? projectDir : "-";
}

/** The nearest ancestor of the skill dir holding a deno.json (Deno-script skills need it). */
async function projectDirOf(skillDir: string): Promise<string | undefined> {
  let dir = await Deno.realPath(skillDir);
  while (dir !== "/" && dir !== "") {
    const found = await Deno.stat(`${dir}/deno.json`).then(() => true, () => false);
    if (found) return dir;
    dir = dir.replace(/\/[^/]*$/, "") || "/";
  }
  return undefined;
}

async function existingPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const real = await Deno.realPath(p).catch(() => null);
    if (real !== null) out.push(real);
  }
  return out;
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

async function createCgroup(job: SkillJob): Promise<string> {
  const dir = `${CGROUP_MEMORY_ROOT}/turnpike-${job.jobId}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir);
  const limit = String(job.manifest.memoryBytes);
  await Deno.writeTextFile(`${dir}/memory.limit_in_bytes`, limit);
  // Swap would let a job exceed its limit; not every kernel has memsw accounting.
  await Deno.writeTextFile(`${dir}/memory.memsw.limit_in_bytes`, limit).catch(() => {});
  return dir;
}

async function cgroupPids(dir: string): Promise<number[]> {
  const text = await Deno.readTextFile(`${dir}/cgroup.procs`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map(Number);
}

async function removeCgroup(dir: string): Promise<void> {
  // The PID namespace normally takes every process down; this sweep covers a job that escaped
  // it (it cannot: kept as defence in depth) before the cgroup can be removed.
  for (let i = 0; i < 50; i++) {
    const pids = await cgroupPids(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Deno.remove(dir).catch(() => {});
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

async function oomKills(dir: string | undefined): Promise<number> {
  if (dir === undefined) return 0;
  const text = await Deno.readTextFile(`${dir}/memory.oom_control`).catch(() => "");
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
): Promise<SkillOutcome> {
  const denoDir = DENO_DIR;
  // The cgroup is joined by the wrapper shell before it execs unshare, so every descendant
  // is charged to it from the first instruction.
  const command = cgroup === undefined ? "unshare" : "sh";
  const commandArgs = cgroup === undefined
    ? args
    : ["-c", 'echo $$ > "$0/cgroup.procs" && exec unshare "$@"', cgroup, ...args];
  const started = performance.now();
  const child = new Deno.Command(command, {
    args: commandArgs,
    clearEnv: true,
    env: {
      PATH: `${denoDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: SANDBOX_WORK_DIR,
      TMPDIR: SANDBOX_WORK_DIR,
      LANG: "C.UTF-8",
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
    const ooms = await oomKills(cgroup);
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

/**
 * A sandboxed job once its process runs (roles/provider/sandbox/skill_sandbox.ts makes the sandbox,
 * fresh or prepared ahead): its input fed, its result and logs read within their caps, its
 * timeout, memory, disk and output limits and its cancellation enforced by killing the whole
 * tree, and how it ended classified. docs/ARCHITECTURE.md "Skills".
 *
 * @module
 */
import type {
  SkillJob,
  SkillOutcome,
  SkillOutcomeStatus,
  SkillSandboxOptions,
} from "./skill_sandbox.ts";
import { readCapped, readTail } from "./output_capture.ts";
import { skillExitStatus } from "../../../protocol/skill_contract.ts";
import { SANDBOX_SETUP_EXIT } from "./sandbox_setup_script.ts";
import {
  type JobCgroups,
  type JobTmpfsMeter,
  jobTmpfsMeter,
  killTree,
  MEMFD_SAMPLE_EVERY,
  MEMORY_SAMPLE_MS,
  oomKills,
  processTree,
  treeMemfdBytes,
  treeMemoryBytes,
} from "./sandbox_limits.ts";
import { type JobKernelMeter, startJobKernelMeter } from "./job_kernel_meter.ts";

const MiB = 1024 * 1024;

/**
 * An outcome with no run behind it (a job refused before it started).
 *
 * @example
 * ```ts
 * const o = emptyOutcome("denied", "network denied", "/w/j1");
 * if (o.exitCode !== null) throw new Error("ran");
 * ```
 */
export function emptyOutcome(
  status: SkillOutcomeStatus,
  reason: string,
  workDir: string,
): SkillOutcome {
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

/**
 * Supervises a spawned sandbox from its input on: feeds stdin, reads the result and the logs'
 * tail, enforces the timeout, memory (when `sampled`, else the cgroup's count), disk and output
 * limits and cancellation, and classifies the outcome. The clock starts here.
 *
 * It needs a sandbox's process started by runJob: no example that runs here:
 * tests/unit/roles/provider/skill_sandbox_test.ts.
 */
export async function superviseJob(
  job: SkillJob,
  options: SkillSandboxOptions,
  sampled: boolean,
  workDir: string,
  child: Deno.ChildProcess,
  input: Uint8Array,
  cgroups: JobCgroups,
): Promise<SkillOutcome> {
  const started = performance.now();
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
  // Its sockets' queues and SysV segments are in no RSS either: counted per namespace by a
  // helper in the job's network and IPC namespaces (job_kernel_meter.ts), one sample behind.
  let tmpfs: JobTmpfsMeter | undefined;
  let kernel: JobKernelMeter | undefined;
  let memfds = 0;
  let samples = 0;
  const overMemory = () => {
    if (samples++ % MEMFD_SAMPLE_EVERY === 0) memfds = treeMemfdBytes(child.pid);
    const initPid = tmpfs === undefined ? processTree(child.pid)[1] : undefined;
    if (initPid !== undefined) {
      tmpfs = jobTmpfsMeter(initPid);
      // unshare itself, not the init: it stays in the user namespace that owns the job's network
      // and IPC namespaces, where the init moves on into the job's nested one.
      kernel = startJobKernelMeter(child.pid);
    }
    kernel?.sample();
    const bytes = treeMemoryBytes(child.pid) + memfds + (tmpfs?.bytes() ?? 0) +
      (kernel?.bytes() ?? 0);
    return bytes > job.manifest.memoryBytes;
  };
  const sampler = sampled
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
    await kernel?.close();
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

/**
 * How a sandboxed job's memory and process count are bounded, and how its process tree is
 * found and killed. Two mechanisms, one per sandbox mode (sandbox_probe.ts):
 *
 * - **root**: a cgroup v1 `memory` group (limit = the manifest's memory; the kernel OOM-kills
 *   past it, exactly) and a `pids` group (`pids.max`), both joined by the setup script before
 *   anything else runs.
 * - **rootless**: cgroups cannot be created without root (nothing delegates them on cgroup v1),
 *   so memory is SAMPLED: every {@linkcode MEMORY_SAMPLE_MS} ms the anonymous and shared-memory
 *   pages (RssAnon + RssShmem) of the job's processes are summed and the tree is killed past the
 *   limit. A job can overshoot for one interval; a per-process data limit (`ulimit -d`, set to
 *   the limit + {@linkcode DATA_LIMIT_HEADROOM}) bounds any single process outright. The limit
 *   alone cannot be the data limit: V8 reserves over 512 MiB of data address space at start, so
 *   a Deno skill dies at any smaller RLIMIT_DATA. Processes: `ulimit -u`, which inside the
 *   job's own user namespace counts only the job's processes. Pages in the job's tmpfs mounts
 *   (/, /tmp, /var/tmp, /dev/shm, /run) are in no process's RSS: {@linkcode jobTmpfsMeter}
 *   adds what each tmpfs holds by its own counters, files unlinked but held open included;
 *   {@linkcode treeMemfdBytes} the memfds the processes hold; job_kernel_meter.ts the job's
 *   socket queues and System V segments (per namespace: the job has its own network and IPC
 *   ones), and a segment nothing maps dies at once (`kernel.shm_rmid_forced`, set by the setup).
 *   The job can mount no tmpfs of its own: the setup allows its user namespace no nested one
 *   (docs/OPERATIONS.md, "Sandbox").
 *
 * @module
 */
import { statfsSync } from "node:fs";
import { sleep } from "../../../protocol/backoff.ts";
import { SANDBOX_ROOT_SOURCE } from "./sandbox_mounts.ts";

/** How often a rootless job's memory is sampled. */
export const MEMORY_SAMPLE_MS = 50;
/** Every how many memory samples a rootless job's memfds are counted again (250 ms). */
export const MEMFD_SAMPLE_EVERY = 5;
/** Added to the memory limit for a rootless job's per-process data limit (see module doc). */
export const DATA_LIMIT_HEADROOM = 1024 * 1024 * 1024;
/** Default largest number of processes of one job. */
export const DEFAULT_MAX_PROCESSES = 256;

/** Where the cgroup v1 controllers are mounted. */
export const CGROUP_ROOT = "/sys/fs/cgroup";

/** A job's cgroups (root mode). */
export interface JobCgroups {
  memory?: string;
  pids?: string;
}

/** Options for {@linkcode createJobCgroups}. */
export interface JobCgroupsOptions {
  /** Names the groups (`turnpike-<name>-<random>`). */
  name: string;
  memoryBytes: number;
  maxProcesses: number;
  /** Which controllers to use (probed once by {@linkcode probeCgroupControllers}). */
  controllers: { memory: boolean; pids: boolean };
}

/**
 * Which cgroup v1 controllers this process may create groups in (root on a cgroup v1 or
 * hybrid host).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeCgroupControllers } from "./sandbox_limits.ts";
 *
 * const { memory, pids } = await probeCgroupControllers(); // both false unless root on cgroup v1
 * assert.equal(typeof memory, "boolean");
 * assert.equal(typeof pids, "boolean");
 * ```
 */
export async function probeCgroupControllers(): Promise<{ memory: boolean; pids: boolean }> {
  const probe = async (controller: string) => {
    const dir = `${CGROUP_ROOT}/${controller}/turnpike-probe-${crypto.randomUUID()}`;
    try {
      await Deno.mkdir(dir);
      await Deno.remove(dir);
      return true;
    } catch {
      return false;
    }
  };
  const [memory, pids] = await Promise.all([probe("memory"), probe("pids")]);
  return { memory, pids };
}

/**
 * Creates a job's cgroups. Synchronous: cgroupfs calls, no disk, no waiting on a busy loop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJobCgroups, probeCgroupControllers, removeJobCgroups } from "./sandbox_limits.ts";
 *
 * const controllers = await probeCgroupControllers();
 * const groups = createJobCgroups({ name: "job1", memoryBytes: 2 ** 28, maxProcesses: 256, controllers });
 * assert.equal(groups.memory !== undefined, controllers.memory);
 * if (groups.pids) assert.equal(await Deno.readTextFile(`${groups.pids}/pids.max`), "256\n");
 * await removeJobCgroups(groups);
 * ```
 */
export function createJobCgroups(o: JobCgroupsOptions): JobCgroups {
  const suffix = `turnpike-${o.name}-${crypto.randomUUID().slice(0, 8)}`;
  const groups: JobCgroups = {};
  if (o.controllers.memory) {
    const dir = `${CGROUP_ROOT}/memory/${suffix}`;
    Deno.mkdirSync(dir);
    groups.memory = dir;
    const limit = String(o.memoryBytes);
    Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, limit);
    try {
      // Swap would let a job exceed its limit; not every kernel has memsw accounting.
      Deno.writeTextFileSync(`${dir}/memory.memsw.limit_in_bytes`, limit);
    } catch { /* no memsw accounting */ }
  }
  if (o.controllers.pids) {
    const dir = `${CGROUP_ROOT}/pids/${suffix}`;
    Deno.mkdirSync(dir);
    groups.pids = dir;
    Deno.writeTextFileSync(`${dir}/pids.max`, String(o.maxProcesses));
  }
  return groups;
}

/**
 * Removes a job's cgroups, first killing anything still in them (the PID namespace normally
 * took every process down already: this is defence in depth).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJobCgroups, probeCgroupControllers, removeJobCgroups } from "./sandbox_limits.ts";
 *
 * const controllers = await probeCgroupControllers();
 * const groups = createJobCgroups({ name: "job1", memoryBytes: 2 ** 28, maxProcesses: 256, controllers });
 * await removeJobCgroups(groups);
 * for (const dir of [groups.memory, groups.pids]) {
 *   if (dir) await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
 * }
 * ```
 */
export async function removeJobCgroups(groups: JobCgroups): Promise<void> {
  for (const dir of [groups.memory, groups.pids]) {
    if (dir === undefined) continue;
    await killCgroupProcesses(dir);
    try {
      Deno.removeSync(dir);
    } catch { /* still busy after the sweep, or already gone */ }
  }
}

/**
 * SIGKILLs every process in cgroup `dir` until none is left (cgroup v1 has no `cgroup.kill`:
 * a process forked between the read and the kill is found by the next read; `pids.max` bounds
 * how many). True when the group is empty (or there is no group), false when processes were
 * still in it after about half a second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJobCgroups, killCgroupProcesses, probeCgroupControllers, removeJobCgroups } from "./sandbox_limits.ts";
 *
 * const controllers = await probeCgroupControllers();
 * const groups = createJobCgroups({ name: "job1", memoryBytes: 2 ** 28, maxProcesses: 256, controllers });
 * assert.equal(await killCgroupProcesses(groups.memory), true); // no process in it: empty at once
 * assert.equal(await killCgroupProcesses(undefined), true); // no group
 * await removeJobCgroups(groups);
 * ```
 */
export async function killCgroupProcesses(dir: string | undefined): Promise<boolean> {
  if (dir === undefined) return true;
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(dir);
    if (pids.length === 0) return true;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await sleep(10);
  }
  return cgroupPids(dir).length === 0;
}

/**
 * How many times the kernel OOM-killed in a job's memory cgroup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJobCgroups, oomKills, probeCgroupControllers, removeJobCgroups } from "./sandbox_limits.ts";
 *
 * const controllers = await probeCgroupControllers();
 * const groups = createJobCgroups({ name: "job1", memoryBytes: 2 ** 28, maxProcesses: 256, controllers });
 * assert.equal(oomKills(groups.memory), 0); // nothing ran in it yet
 * await removeJobCgroups(groups);
 * ```
 */
export function oomKills(dir: string | undefined): number {
  if (dir === undefined) return 0;
  let text = "";
  try {
    text = Deno.readTextFileSync(`${dir}/memory.oom_control`);
  } catch { /* no cgroup */ }
  const m = /oom_kill (\d+)/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

function cgroupPids(dir: string): number[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(`${dir}/cgroup.procs`);
  } catch { /* gone */ }
  return text.split("\n").filter((l) => l !== "").map(Number);
}

/**
 * `pid` and its descendants, parents first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { killTree, processTree } from "./sandbox_limits.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * assert.deepEqual(processTree(child.pid), [child.pid]); // no descendants
 * killTree(child.pid);
 * await child.status;
 * ```
 */
export function processTree(pid: number): number[] {
  const seen: number[] = [];
  const walk = (p: number) => {
    seen.push(p);
    for (const c of childrenOf(p)) walk(c);
  };
  walk(pid);
  return seen;
}

/**
 * SIGKILLs `pid` and its descendants, parents first. Killing the PID namespace's init takes
 * the whole namespace down; `unshare --kill-child` alone is not enough, because the
 * parent-death signal it sets is cleared when setpriv changes the uid. Parents first, not
 * children: a child killed first lets its parent run on until its own signal comes (a loaded
 * machine's CI saw a job's shell print after its `sleep` was killed for memory), where the
 * namespace's init killed first takes every process in it down at once, one forked since the
 * walk too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { killTree } from "./sandbox_limits.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * killTree(child.pid);
 * assert.equal((await child.status).signal, "SIGKILL");
 * ```
 */
export function killTree(pid: number): void {
  for (const p of processTree(pid)) {
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

/**
 * Bytes of anonymous and shared memory held by `pid` and its descendants: what a memory
 * cgroup would charge them for, less page cache. File-backed pages (the Deno binary's own
 * ~50 MB of code, shared with every other process) are left out on purpose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { killTree, treeMemoryBytes } from "./sandbox_limits.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * const limit = 2 ** 28;
 * const bytes = treeMemoryBytes(child.pid);
 * assert(bytes > 0 && bytes < limit); // a sleep is far under the limit: not killed for it
 * killTree(child.pid);
 * await child.status;
 * ```
 */
export function treeMemoryBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    let status = "";
    try {
      status = Deno.readTextFileSync(`/proc/${p}/status`);
    } catch {
      continue; // exited between the walk and the read
    }
    for (const m of status.matchAll(/^(?:RssAnon|RssShmem):\s+(\d+) kB$/gm)) {
      total += Number(m[1]) * 1024;
    }
  }
  return total;
}

/**
 * Bytes of the memfds (`memfd_create`) that `pid` and its descendants hold descriptors to. A
 * memfd is a file in no mount the job has, its pages in no RSS until mapped: each one counts
 * whole, once however many hold it (its mapped pages count twice then, which errs towards the
 * limit). Slower than {@linkcode treeMemoryBytes} (a readlink per descriptor: about 0.8 ms for a
 * Deno process's 21 against 0.16 ms for its status), so it is sampled less often.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { killTree, treeMemfdBytes } from "./sandbox_limits.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * assert.equal(treeMemfdBytes(child.pid), 0); // a sleep holds no memfd
 * killTree(child.pid);
 * await child.status;
 * ```
 */
export function treeMemfdBytes(pid: number): number {
  const seen = new Set<string>();
  let total = 0;
  for (const p of processTree(pid)) total += memfdBytes(p, seen);
  return total;
}

/** Bytes of the memfds `pid` holds descriptors to, each file once across calls (`seen`). */
function memfdBytes(pid: number, seen: Set<string>): number {
  let total = 0;
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
      const fd = `/proc/${pid}/fd/${entry.name}`;
      try {
        if (!Deno.readLinkSync(fd).startsWith("/memfd:")) continue;
        const st = Deno.statSync(fd);
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += (st.blocks ?? 0) * 512;
      } catch { /* closed between the read and the stat */ }
    }
  } catch { /* exited */ }
  return total;
}

/** `f_type` of a tmpfs in statfs(2). */
const TMPFS_MAGIC = 0x01021994;

/** What a job's tmpfs mounts hold, from {@linkcode jobTmpfsMeter}. */
export interface JobTmpfsMeter {
  /** Bytes in use in all of them now; 0 until the job's own root is in place. */
  bytes(): number;
}

/**
 * Measures the tmpfs mounts of the job whose PID namespace's init is `initPid` (unshare's child;
 * it lives as long as the job), each as its own statfs counts it: blocks in use, not a sum of
 * the files one can find, so a file unlinked but held open counts all the same. Statfs reaches
 * each mount through `/proc/<init>/root` (the job's mount namespace and root; the provider owns
 * the job's user namespace, so it may look). Deno has no statfs of its own; node:fs's is the
 * same syscall, with no helper process: about 50 us a sample for a job's five mounts here
 * (the process walk beside it: 125 us), where walking the files cost a directory read per
 * directory and a stat per file, and missed the unlinked ones.
 *
 * The mounts are read once from the job's mountinfo, as soon as the setup has detached the
 * host's root (the table then has one mount at `/`, the job's root tmpfs): before that no job
 * code runs and paths could still be the host's. They cannot change after it: the job may not
 * mount (no capability, no user namespace of its own) and its root is read-only, so it cannot
 * rename a directory above a mount point either (sandbox_mounts.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobTmpfsMeter } from "./sandbox_limits.ts";
 *
 * // A job whose init is gone (or not started) weighs nothing; a job's /tmp filled past its size:
 * // tests/unit/roles/provider/skill_sandbox_test.ts.
 * const child = new Deno.Command("true").spawn();
 * await child.status;
 * assert.equal(jobTmpfsMeter(child.pid).bytes(), 0);
 * ```
 */
export function jobTmpfsMeter(initPid: number): JobTmpfsMeter {
  let paths: string[] | undefined;
  return {
    bytes() {
      paths ??= jobTmpfsPaths(initPid);
      let total = 0;
      for (const path of paths ?? []) {
        try {
          const st = statfsSync(path);
          if (st.type === TMPFS_MAGIC) total += (st.blocks - st.bfree) * st.bsize;
        } catch { /* the job is gone */ }
      }
      return total;
    },
  };
}

/** One path per tmpfs of the job, through its root; undefined until its root is in place. */
function jobTmpfsPaths(initPid: number): string[] | undefined {
  let text = "";
  try {
    text = Deno.readTextFileSync(`/proc/${initPid}/mountinfo`);
  } catch {
    return undefined; // gone, or not started
  }
  const mounts = parseMountinfo(text);
  const roots = mounts.filter((m) => m.mountPoint === "/");
  if (roots.length !== 1 || roots[0].source !== SANDBOX_ROOT_SOURCE) return undefined;
  const devices = new Set<string>();
  const paths: string[] = [];
  for (const m of mounts) {
    if (m.fsType !== "tmpfs" || devices.has(m.device)) continue;
    devices.add(m.device);
    paths.push(`/proc/${initPid}/root${m.mountPoint}`);
  }
  return paths;
}

interface MountinfoLine {
  /** major:minor of the mounted file system (one per tmpfs instance). */
  device: string;
  /** Relative to the reading process's root, unescaped. */
  mountPoint: string;
  fsType: string;
  source: string;
}

/** proc(5) mountinfo: `id parent maj:min root mountpoint opts [optional...] - type source ...`. */
function parseMountinfo(text: string): MountinfoLine[] {
  const lines: MountinfoLine[] = [];
  for (const line of text.split("\n")) {
    const dash = line.indexOf(" - ");
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(" ");
    const right = line.slice(dash + 3).split(" ");
    if (left.length < 5 || right.length < 2) continue;
    lines.push({
      device: left[2],
      mountPoint: unescapeOctal(left[4]),
      fsType: right[0],
      source: unescapeOctal(right[1]),
    });
  }
  return lines;
}

/** Space, tab, newline and backslash are written as `\ooo` in mountinfo. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

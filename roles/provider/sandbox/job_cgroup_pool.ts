/**
 * A sandbox's job cgroups (root mode, cgroup v1 `memory` and `pids`), reused across jobs instead
 * of made and removed for each (docs/ARCHITECTURE.md "Skills"). A pair goes back to the
 * pool only when it is clean for the next job:
 *
 * - every process in it was SIGKILLed and is gone (cgroup v1 has no `cgroup.kill`: the pids are
 *   read from `cgroup.procs` and killed until none is left, as when a group is removed);
 * - the job left less than {@linkcode POOLED_CHARGE_FLOOR} charged to it
 *   (`memory.usage_in_bytes`: page cache of the files it wrote, tmpfs pages, kernel memory): the
 *   next job's limit is its own. Dropping a larger charge (`memory.force_empty`) costs more
 *   CPU than a new group (docs/SCALE.md), so such a pair is removed instead;
 * - the kernel OOM-killed nothing in it (`memory.oom_control` counts for the group's life, and
 *   the next job's outcome reads that count);
 *
 * otherwise the pair is removed and the next job gets a new one. Each job's limits are written
 * when it takes the pair. The groups are named `turnpike-pool-<pid>-<random>`: a crashed
 * process's are removed by {@linkcode reapPooledCgroups} when a sandbox starts.
 *
 * @module
 */
import {
  CGROUP_ROOT,
  createJobCgroups,
  type JobCgroups,
  killCgroupProcesses,
  oomKills,
  removeJobCgroups,
} from "./sandbox_limits.ts";
import { isProcessAlive } from "../../../state/process_lock.ts";

/** Most free pairs a pool keeps (a sandbox runs a few jobs at once). */
export const MAX_POOLED_CGROUPS = 8;
/** Most bytes still charged to a freed memory group for it to be reused. */
export const POOLED_CHARGE_FLOOR = 1024 * 1024;

/** Options for {@linkcode JobCgroupPool}. */
export interface JobCgroupPoolOptions {
  /** Which controllers to use (see `probeCgroupControllers`). */
  controllers: { memory: boolean; pids: boolean };
  /** Most free pairs kept ({@linkcode MAX_POOLED_CGROUPS}). */
  size?: number;
}

/** One job's limits, written when it takes a pair. */
export interface JobCgroupLimits {
  memoryBytes: number;
  maxProcesses: number;
}

/**
 * Job cgroups reused while clean (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobCgroupPool } from "./job_cgroup_pool.ts";
 * import { probeCgroupControllers } from "./sandbox_limits.ts";
 *
 * const pool = new JobCgroupPool({ controllers: await probeCgroupControllers() });
 * const groups = pool.acquire({ memoryBytes: 2 ** 28, maxProcesses: 256 });
 * // ... the job joins them and runs ...
 * await pool.release(groups);
 * assert.deepEqual(pool.acquire({ memoryBytes: 2 ** 28, maxProcesses: 256 }), groups); // reused
 * await pool.release(groups);
 * await pool.close();
 * ```
 */
export class JobCgroupPool {
  #o: JobCgroupPoolOptions;
  #free: JobCgroups[] = [];
  /** Pairs made, reused and removed so far. */
  readonly counts = { created: 0, reused: 0, removed: 0 };

  constructor(options: JobCgroupPoolOptions) {
    this.#o = options;
  }

  /** A clean pair with `limits` written: a free one, or a new one. Synchronous: cgroupfs only. */
  acquire(limits: JobCgroupLimits): JobCgroups {
    while (this.#free.length > 0) {
      const groups = this.#free.pop()!;
      try {
        if (groups.memory !== undefined) setMemoryLimit(groups.memory, limits.memoryBytes);
        if (groups.pids !== undefined) {
          Deno.writeTextFileSync(`${groups.pids}/pids.max`, String(limits.maxProcesses));
        }
        this.counts.reused++;
        return groups;
      } catch {
        // Gone or refused (removed behind our back): drop it and try the next.
        void removeJobCgroups(groups);
      }
    }
    this.counts.created++;
    return createJobCgroups({
      name: `pool-${Deno.pid}`,
      memoryBytes: limits.memoryBytes,
      maxProcesses: limits.maxProcesses,
      controllers: this.#o.controllers,
    });
  }

  /** Kills what is left in `groups`, then keeps them if clean (module doc) or removes them. */
  async release(groups: JobCgroups): Promise<void> {
    if (groups.memory === undefined && groups.pids === undefined) return;
    const empty = await killCgroupProcesses(groups.memory) &&
      await killCgroupProcesses(groups.pids);
    if (empty && this.#free.length < (this.#o.size ?? MAX_POOLED_CGROUPS) && isClean(groups)) {
      this.#free.push(groups);
      return;
    }
    this.counts.removed++;
    await removeJobCgroups(groups);
  }

  /** Removes the free pairs (the provider stops). */
  async close(): Promise<void> {
    const free = this.#free.splice(0);
    for (const groups of free) await removeJobCgroups(groups);
  }
}

/** Whether an emptied pair can take the next job: no charge left, no OOM kill, no process. */
function isClean(groups: JobCgroups): boolean {
  try {
    if (groups.pids !== undefined) {
      if (Number(Deno.readTextFileSync(`${groups.pids}/pids.current`)) !== 0) return false;
    }
    if (groups.memory !== undefined) {
      if (oomKills(groups.memory) > 0) return false;
      // Not `memory.force_empty`: reclaiming 8 MiB of page cache that way cost 4.4 ms of CPU a
      // job more than a new group (bench/job_cgroup_cost_probe_script.ts, docs/SCALE.md).
      const usage = Number(Deno.readTextFileSync(`${groups.memory}/memory.usage_in_bytes`));
      if (!(usage < POOLED_CHARGE_FLOOR)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The memory (and memory+swap, where the kernel accounts it) limit: memsw may never be below
 * the memory limit, so raising writes memsw first and lowering the memory limit first.
 */
function setMemoryLimit(dir: string, bytes: number): void {
  const limit = String(bytes);
  const memsw = `${dir}/memory.memsw.limit_in_bytes`;
  try {
    Deno.writeTextFileSync(memsw, limit);
    Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, limit);
    return;
  } catch { /* lowering, or no memsw accounting */ }
  Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, limit);
  try {
    Deno.writeTextFileSync(memsw, limit);
  } catch { /* no memsw accounting */ }
}

/**
 * Removes the pooled cgroups of processes that are gone (`turnpike-pool-<pid>-*` whose pid is
 * not running), killing what is left in them first; returns how many were removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reapPooledCgroups } from "./job_cgroup_pool.ts";
 *
 * // A pooled cgroup left by a process that is gone (a directory under the controller's root).
 * const gone = new Deno.Command("true").spawn();
 * await gone.status;
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/turnpike-pool-${gone.pid}-1`);
 * assert.equal(await reapPooledCgroups([root]), 1);
 * await Deno.remove(root);
 * ```
 */
export async function reapPooledCgroups(
  roots: readonly string[] = [`${CGROUP_ROOT}/memory`, `${CGROUP_ROOT}/pids`],
): Promise<number> {
  let removed = 0;
  for (const root of roots) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(root)) {
        const m = /^turnpike-pool-(\d+)-/.exec(e.name);
        if (e.isDirectory && m !== null && !(await isProcessAlive(Number(m[1])))) {
          names.push(e.name);
        }
      }
    } catch {
      continue; // no such controller
    }
    for (const name of names) {
      const dir = `${root}/${name}`;
      await killCgroupProcesses(dir);
      try {
        Deno.removeSync(dir);
        removed++;
      } catch { /* still busy, or another sandbox reaped it */ }
    }
  }
  return removed;
}

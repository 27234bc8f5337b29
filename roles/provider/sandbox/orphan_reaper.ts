/**
 * After a provider is SIGKILLed, the sandboxes of the jobs it was running live on: nothing
 * enforces their timeout any more. At restart the provider reaps them: every process whose
 * command line names the job's work dir (the sandbox's `unshare` carries it as an argument) is
 * SIGKILLed by pid; killing `unshare --kill-child` takes down the job's PID namespace with it.
 *
 * @module
 */
import { sleep } from "../../../protocol/backoff.ts";

/**
 * Kills the processes whose command line contains `workDir`, and all their descendants (the
 * namespace's processes do not all die with `unshare`); returns the pids killed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reapSkillProcesses } from "./orphan_reaper.ts";
 *
 * // A process left over from a job naming its work dir (as the sandbox's unshare does) is killed.
 * const workDir = await Deno.makeTempDir();
 * const orphan = new Deno.Command("sh", { args: ["-c", "sleep 30; true", "job", workDir] }).spawn();
 * assert((await reapSkillProcesses(workDir)).includes(orphan.pid)); // with its sleep, once forked
 * assert.equal((await orphan.status).signal, "SIGKILL");
 * await Deno.remove(workDir);
 * ```
 */
export function reapSkillProcesses(workDir: string): Promise<number[]> {
  return reapProcesses((arg) => arg === workDir);
}

/** The name prefix of a prepared sandbox's work dir in the jobs root (sandbox_pool.ts). */
export const PREPARED_PREFIX = ".pool-";

/**
 * After a crash, what prepared sandboxes (sandbox_pool.ts) leave in `jobsRoot`: those still
 * waiting exit by themselves (their stdin ends with the provider), but a job running in one
 * carries the prepared name (`<jobsRoot>/.pool-<random>`) in its `unshare`, not its job id.
 * When any `.pool-` entry is left in `jobsRoot` (a work dir or an fstab), kills every process
 * with such an argument, and removes those entries; returns the pids killed. Call it before the
 * sandbox prepares any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reapPreparedSandboxes } from "./orphan_reaper.ts";
 *
 * const jobsRoot = await Deno.makeTempDir();
 * await Deno.mkdir(`${jobsRoot}/.pool-x`);
 * await reapPreparedSandboxes(jobsRoot);
 * assert.deepEqual([...Deno.readDirSync(jobsRoot)], []); // nothing left behind
 * await Deno.remove(jobsRoot);
 * ```
 */
export async function reapPreparedSandboxes(jobsRoot: string): Promise<number[]> {
  const left: string[] = [];
  try {
    for await (const e of Deno.readDir(jobsRoot)) {
      if (e.name.startsWith(PREPARED_PREFIX)) left.push(`${jobsRoot}/${e.name}`);
    }
  } catch {
    return []; // no jobs root yet
  }
  if (left.length === 0) return [];
  const prefix = `${jobsRoot}/${PREPARED_PREFIX}`;
  const killed = await reapProcesses((arg) => arg.startsWith(prefix));
  for (const path of left) await Deno.remove(path, { recursive: true }).catch(() => {});
  return killed;
}

async function reapProcesses(matches: (arg: string) => boolean): Promise<number[]> {
  const parents = new Map<number, number>();
  const roots: number[] = [];
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      if (pid === Deno.pid) continue;
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
      // Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (Number.isInteger(ppid)) parents.set(pid, ppid);
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      // Arguments are NUL-separated: match the work dir as a whole argument.
      if (cmdline.split("\0").some(matches)) roots.push(pid);
    }
  } catch {
    return []; // no /proc: nothing to find
  }
  const doomed = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (doomed.has(ppid) && !doomed.has(pid)) {
        doomed.add(pid);
        grew = true;
      }
    }
  }
  const killed: number[] = [];
  for (const pid of doomed) {
    try {
      Deno.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}

/**
 * Removes the memory and pids cgroups (`/sys/fs/cgroup/{memory,pids}/turnpike-<jobId>-*`) a
 * killed provider left behind, SIGKILLing (by pid) any process still in them first; returns how many were removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reapSkillCgroups } from "./orphan_reaper.ts";
 *
 * // A killed provider left a memory cgroup of job j1 (a directory under the controller's root).
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/turnpike-j1-0a1b2c3d`);
 * assert.equal(await reapSkillCgroups("j1", [root]), 1);
 * assert.deepEqual([...Deno.readDirSync(root)], []);
 * await Deno.remove(root);
 * ```
 */
export async function reapSkillCgroups(
  jobId: string,
  roots: readonly string[] = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"],
): Promise<number> {
  let removed = 0;
  for (const root of roots) removed += await reapCgroupsUnder(root, jobId);
  return removed;
}

async function reapCgroupsUnder(root: string, jobId: string): Promise<number> {
  let removed = 0;
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && e.name.startsWith(`turnpike-${jobId}-`)) names.push(e.name);
    }
  } catch {
    return 0; // no such cgroup v1 controller
  }
  for (const name of names) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const procs = await Deno.readTextFile(`${root}/${name}/cgroup.procs`).catch(() => "");
      for (const pid of procs.split("\n").filter((l) => /^\d+$/.test(l))) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      try {
        await Deno.remove(`${root}/${name}`);
        removed++;
        break;
      } catch {
        await sleep(20); // processes still exiting
      }
    }
  }
  return removed;
}

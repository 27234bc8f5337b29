/**
 * What a sandboxed job's cgroups cost the provider's process (root mode, cgroup v1), per job:
 * creating and removing them for each job (main before the pool) against the pool
 * (roles/provider/sandbox/job_cgroup_pool.ts: the limits rewritten, a pair reused while under 1 MiB
 * charged), each with a stand-in job (a `sh` that joins both groups and leaves `--leave-mib`
 * MiB of page cache, 8 by default; `--no-join` for no process). This process's CPU (user +
 * system, /proc/self/stat, not the children's) and wall time per job.
 *
 * ```sh
 * deno run -A bench/job_cgroup_cost_probe_script.ts --jobs 300 [--leave-mib 8] [--no-join]
 * ```
 *
 * @module
 */
import {
  createJobCgroups,
  type JobCgroups,
  removeJobCgroups,
} from "../roles/provider/sandbox/sandbox_limits.ts";
import { JobCgroupPool } from "../roles/provider/sandbox/job_cgroup_pool.ts";

const at = Deno.args.indexOf("--jobs");
const jobs = at < 0 ? 300 : Number(Deno.args[at + 1]);
/** `--no-join`: the groups alone, no process in them. */
const join = !Deno.args.includes("--no-join");
const leaveAt = Deno.args.indexOf("--leave-mib");
/** MiB of page cache the stand-in job leaves charged (8). */
const leaveMiB = leaveAt < 0 ? 8 : Number(Deno.args[leaveAt + 1]);
const scratch = await Deno.makeTempDir({ prefix: "cgroup-probe-" });
const controllers = { memory: true, pids: true };
const ticks = 100; // USER_HZ

function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 1000 / ticks;
}

async function measure(name: string, fn: (i: number) => Promise<void>): Promise<void> {
  await fn(-1); // warm
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < jobs; i++) await fn(i);
  const wall = (performance.now() - t0) / jobs;
  const cpu = (cpuMs() - c0) / jobs;
  console.log(`${name.padEnd(34)} ${cpu.toFixed(3)} CPU ms/job  ${wall.toFixed(3)} wall ms/job`);
}

/** A job's stand-in: a process that joins the groups, leaves page cache (a file) and exits. */
async function job(groups: JobCgroups): Promise<void> {
  if (!join) return;
  const file = `${scratch}/f`;
  const script = [
    groups.memory ? `echo $$ > ${groups.memory}/cgroup.procs` : "",
    groups.pids ? `echo $$ > ${groups.pids}/cgroup.procs` : "",
    leaveMiB > 0 ? `head -c ${leaveMiB * 2 ** 20} /dev/zero > ${file}` : "true",
  ].filter((l) => l !== "").join("; ");
  const out = await new Deno.Command("sh", { args: ["-c", script] }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const limits = { memoryBytes: 256 * 2 ** 20, maxProcesses: 256 };
await measure("create + remove (main)", async (i) => {
  const g = createJobCgroups({ name: `probe${i + 1}`, ...limits, controllers });
  await job(g);
  await removeJobCgroups(g);
});

const pool = new JobCgroupPool({ controllers });
await measure("pool: acquire + release", async () => {
  const g = pool.acquire(limits);
  await job(g);
  await pool.release(g);
});
console.log(`pool: ${JSON.stringify(pool.counts)}`);
await pool.close();
await Deno.remove(scratch, { recursive: true });

/**
 * The sandbox's pooled job cgroups (roles/provider/sandbox/job_cgroup_pool.ts), with real cgroup v1
 * groups and real processes: a pair is reused only after what a job left in it is killed and
 * what it left charged is dropped; a pair still charged is not reused; a dead process's pool is
 * reaped. Root with the v1 `memory` and `pids` controllers only (ignored elsewhere).
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import {
  JobCgroupPool,
  POOLED_CHARGE_FLOOR,
  reapPooledCgroups,
} from "../../../../roles/provider/sandbox/job_cgroup_pool.ts";
import {
  type JobCgroups,
  probeCgroupControllers,
} from "../../../../roles/provider/sandbox/sandbox_limits.ts";

const controllers = await probeCgroupControllers();
const ignore = !(controllers.memory && controllers.pids);
const MiB = 2 ** 20;
const limits = { memoryBytes: 128 * MiB, maxProcesses: 64 };
/** A hang guard, not a time limit: a wait that would never end fails with this. */
const GUARD_MS = 60_000;

/** Runs `script` in a shell that first joins both groups; resolves when it exits. */
function inGroups(groups: JobCgroups, script: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: [
      "-c",
      `echo $$ > ${groups.memory}/cgroup.procs && echo $$ > ${groups.pids}/cgroup.procs && ${script}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function guarded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${GUARD_MS} ms`)), GUARD_MS);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(what: string, cond: () => boolean): Promise<void> {
  await guarded(
    what,
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, 20));
    })(),
  );
}

const usage = (g: JobCgroups) => Number(Deno.readTextFileSync(`${g.memory}/memory.usage_in_bytes`));
const procs = (dir: string) => Deno.readTextFileSync(`${dir}/cgroup.procs`).trim();

Deno.test({
  name: "job cgroup pool: a job's leftover process is killed before the pair is reused",
  ignore,
  async fn() {
    const pool = new JobCgroupPool({ controllers });
    try {
      const first = pool.acquire(limits);
      // A process the job left behind (escaped its PID namespace's end, say): still in the groups.
      const leftover = inGroups(first, "exec sleep 600");
      await waitUntil("the leftover joins", () => procs(first.memory!) !== "");
      await guarded("release", pool.release(first));
      const status = await guarded("the leftover's end", leftover.status);
      assertEquals(status.signal, "SIGKILL");
      const second = pool.acquire(limits);
      assertEquals(second, first, "the emptied pair is reused");
      assertEquals(procs(second.memory!), "");
      assertEquals(procs(second.pids!), "");
      assertEquals(Deno.readTextFileSync(`${second.pids}/pids.current`).trim(), "0");
      assertEquals(pool.counts, { created: 1, reused: 1, removed: 0 });
      await pool.release(second);
    } finally {
      await pool.close();
    }
  },
});

Deno.test({
  name: "job cgroup pool: a pair the last job left charged is not reused: the next limit is whole",
  ignore,
  async fn() {
    const scratch = await Deno.makeTempDir({ prefix: "cgroup-pool-" });
    const shm = `/dev/shm/cgroup-pool-${crypto.randomUUID()}`;
    const pool = new JobCgroupPool({ controllers });
    try {
      // Page cache (a disk file the job wrote) and tmpfs pages (a file left in /dev/shm): both
      // stay charged to the group after the job's processes are gone.
      for (
        const script of [
          `head -c ${16 * MiB} /dev/zero > ${scratch}/out`,
          `head -c ${4 * MiB} /dev/zero > ${shm}`,
        ]
      ) {
        const first = pool.acquire({ memoryBytes: 96 * MiB, maxProcesses: 64 });
        const writer = inGroups(first, script);
        const wrote = await guarded("the writer", writer.output());
        assert(wrote.success, new TextDecoder().decode(wrote.stderr));
        assert(usage(first) >= POOLED_CHARGE_FLOOR, `the job left ${usage(first)} bytes charged`);
        await guarded("release", pool.release(first));
        assert(!existsSync(first.memory!), "the charged memory group is removed");
        const second = pool.acquire({ memoryBytes: 64 * MiB, maxProcesses: 64 });
        assert(second.memory !== first.memory, "a new pair for the next job");
        assert(usage(second) < POOLED_CHARGE_FLOOR, `${usage(second)} bytes charged`);
        assertEquals(
          Deno.readTextFileSync(`${second.memory}/memory.limit_in_bytes`).trim(),
          String(64 * MiB),
          "the next job's own limit",
        );
        await pool.release(second);
      }
      assertEquals(pool.counts.removed, 2);
    } finally {
      await pool.close();
      await Deno.remove(scratch, { recursive: true });
      await Deno.remove(shm).catch(() => {});
    }
  },
});

Deno.test({
  name: "job cgroup pool: a dead process's pooled groups are reaped, a live one's kept",
  ignore,
  async fn() {
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const dead = `/sys/fs/cgroup/memory/turnpike-pool-${gone.pid}-test`;
    const live = `/sys/fs/cgroup/memory/turnpike-pool-${Deno.pid}-test`;
    Deno.mkdirSync(dead);
    Deno.mkdirSync(live);
    try {
      assert((await reapPooledCgroups()) >= 1);
      assert(!existsSync(dead), "the dead process's group is removed");
      assert(existsSync(live), "this process's group is kept");
    } finally {
      for (const d of [dead, live]) {
        try {
          Deno.removeSync(d);
        } catch { /* reaped */ }
      }
    }
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A requester job's record and audit cost in one process, without the network: per job, the
 * record's create and five updates (sent, processing, paying, paid, done: the writes a paid job
 * makes, each an update that reads the file first), durable (fsynced), with the git audit log
 * committing in process every `--window-ms`; CPU ms (own, of it system) per job, and the audit
 * commits per job. Runs on any tree with `openJobRepository` and `openAuditLog` (to compare
 * trees: the same script in each).
 *
 *     deno run -A bench/requester_record_cost_bench_script.ts [--jobs 200] [--window-ms 200]
 *       [--rounds 2]
 *
 * @module
 */
import { openAuditLog } from "../state/audit/audit_log.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";

const args = Deno.args;
const num = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const jobs = num("jobs", 200);
const windowMs = num("window-ms", 200);
const rounds = num("rounds", 2);

/** utime + stime of this process, in ms (Linux `/proc`). */
async function cpu(): Promise<{ own: number; sys: number }> {
  const f = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ").map(Number);
  return { own: (f[11] + f[12]) * 10, sys: f[12] * 10 };
}

const STATUSES = ["sent", "processing", "paying", "paid", "done"] as const;

for (let round = 0; round < rounds; round++) {
  const dir = await Deno.makeTempDir({ prefix: "record-cost-" });
  try {
    const audit = await openAuditLog({ dir, windowMs });
    const repo = await openJobRepository({ stateDir: dir, audit });
    const commits0 = audit.commits;
    const c0 = await cpu();
    const t0 = performance.now();
    // Ten jobs at a time, as a busy requester has them in flight.
    for (let start = 0; start < jobs; start += 10) {
      await Promise.all(Array.from({ length: Math.min(10, jobs - start) }, async (_, k) => {
        const n = round * 1_000_000 + start + k + 1;
        const now = Date.now();
        const id = n.toString(16).padStart(64, "0");
        await repo.create({
          id,
          kind: 5100,
          skill: "summarize",
          status: "pending-send",
          createdAtMs: now,
          updatedAtMs: now,
          bid: 5000n,
          payments: [],
        }, { action: "submit" });
        for (const status of STATUSES) {
          await repo.update(id, (r) => ({ ...r, status }), { action: status });
        }
      }));
    }
    await audit.flush();
    const c1 = await cpu();
    const ms = performance.now() - t0;
    console.log(
      `round ${round + 1}: ${jobs} jobs, window ${windowMs} ms: own ${
        ((c1.own - c0.own) / jobs).toFixed(2)
      } ms CPU per job (system ${((c1.sys - c0.sys) / jobs).toFixed(2)}), ${
        ((audit.commits - commits0) / jobs).toFixed(2)
      } commits per job, ${(ms / jobs).toFixed(1)} ms wall per job`,
    );
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

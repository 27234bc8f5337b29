/**
 * Job repository scaling: 100k records created 16 at a time (non-durable, so it measures the
 * index and directory, not the disk's fsync), the create rate per 10k batch, the time to list
 * 100 in-flight jobs after each batch, and reopen + listInFlight at the end. The behaviour is
 * tested at a small size in tests/unit/state/jobs/job_repository_test.ts; this script holds the figures.
 *
 * Run: deno run -A bench/job_repository_scaling_bench_script.ts [total=100000]
 *
 * @module
 */
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { makeJobRecord } from "../harness/job_record_factory.ts";

const total = Number(Deno.args[0] ?? "100000");
const batch = Math.max(1, Math.floor(total / 10));
const concurrency = 16;

const dir = await Deno.makeTempDir();
try {
  let repo = await openJobRepository({ stateDir: dir, durable: false });
  const rates: number[] = [];
  const listMs: number[] = [];
  for (let start = 0; start < total; start += batch) {
    const end = Math.min(total, start + batch);
    const t0 = performance.now();
    let next = start;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < end) {
        const i = next++;
        await repo.create(makeJobRecord(i + 1, { status: i % 10 === 0 ? "sent" : "done" }));
      }
    }));
    rates.push(Math.round((end - start) / ((performance.now() - t0) / 1000)));
    const t1 = performance.now();
    repo.list({ status: "sent", limit: 100 });
    listMs.push(+(performance.now() - t1).toFixed(2));
  }
  console.log(`create rate per ${batch} batch (records/s): ${rates.join(", ")}`);
  console.log(`list 100 in-flight after each batch (ms): ${listMs.join(", ")}`);
  repo.close();
  const t2 = performance.now();
  repo = await openJobRepository({ stateDir: dir });
  const inFlight = repo.listInFlight();
  console.log(
    `reopen + listInFlight of ${inFlight.length} (ms): ${(performance.now() - t2).toFixed(1)}`,
  );
  repo.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}

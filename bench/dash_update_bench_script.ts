/**
 * How soon `turnpike dash` sees a state change: a job record is written the way the requester
 * writes it (`JobRepository.create`, then `update` to a new status) and the time is taken until
 * the dashboard's live source (`Deno.watchFs` on the state dir, then a re-read) hands on a state
 * that holds it. The frame itself follows in the same tick (ink redraws on the state change);
 * the tmux end-to-end test measures write-to-screen including tmux's own capture.
 *
 * Run: deno run -A bench/dash_update_bench_script.ts [writes, default 50] [jobs already there, default 200]
 *
 * @module
 */
import { startDashLive } from "../cli/dash_live.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { makeJobRecord } from "../harness/job_record_factory.ts";

const writes = Number(Deno.args[0] ?? 50);
const existing = Number(Deno.args[1] ?? 200);
const stateDir = await Deno.makeTempDir({ prefix: "turnpike-dash-bench-" });
const repo = await openJobRepository({ stateDir });
for (let i = 1; i <= existing; i++) await repo.create(makeJobRecord(i, { status: "done" }));

let waiting: { test: (ids: Map<string, string>) => boolean; resolve: () => void } | undefined;
const afterWrite: number[] = [];
const live = await startDashLive({
  stateDir,
  // Nothing listens there: the bench is about the state dir, the relay link just retries.
  relayUrl: "ws://127.0.0.1:9",
  windowSec: 3600,
  onChange: (s) => {
    const ids = new Map(s.local.jobs.map((j) => [j.record.id, j.record.status]));
    if (waiting?.test(ids)) waiting.resolve();
  },
});

/** Resolves with the time the state that passes `test` arrived. */
function seen(test: (ids: Map<string, string>) => boolean): Promise<number> {
  return new Promise((resolve) => waiting = { test, resolve: () => resolve(performance.now()) });
}

const created: number[] = [];
const updated: number[] = [];
for (let i = 0; i < writes; i++) {
  const record = makeJobRecord(1_000_000 + i, { status: "sent", createdAtMs: Date.now() });
  let shown = seen((ids) => ids.has(record.id));
  let t0 = performance.now();
  await repo.create(record);
  let written = performance.now();
  let at = await shown;
  created.push(at - t0);
  afterWrite.push(Math.max(0, at - written));
  shown = seen((ids) => ids.get(record.id) === "done");
  t0 = performance.now();
  await repo.update(record.id, (r) => ({ ...r, status: "done" }));
  written = performance.now();
  at = await shown;
  updated.push(at - t0);
  afterWrite.push(Math.max(0, at - written));
}
live.stop();
repo.close();
await Deno.remove(stateDir, { recursive: true });

function summary(label: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)].toFixed(1);
  return `${label}: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`;
}
console.log(`${writes} writes beside ${existing} jobs, write start to new dashboard state`);
console.log(summary("new job      ", created));
console.log(summary("status change", updated));
console.log(summary("after the write returned (both)", afterWrite));

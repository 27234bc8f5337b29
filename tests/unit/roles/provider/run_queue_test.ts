/** The provider's run queue: concurrency cap, once per job, cancel, skip, idle and stop. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { RunQueue } from "../../../../roles/provider/jobs/run_queue.ts";

/** A run that ends when told to (or when its signal aborts). */
function gatedRuns() {
  const gates = new Map<string, () => void>();
  const started: string[] = [];
  const aborted: string[] = [];
  const run = (id: string, signal: AbortSignal) => {
    started.push(id);
    return new Promise<void>((resolve, reject) => {
      gates.set(id, resolve);
      signal.addEventListener("abort", () => {
        aborted.push(id);
        reject(signal.reason);
      });
    });
  };
  return { run, started, aborted, finish: (id: string) => gates.get(id)!() };
}

Deno.test("run queue: at most maxConcurrent run, in arrival order, each job once", async () => {
  const g = gatedRuns();
  const settled: string[] = [];
  const queue = new RunQueue({ maxConcurrent: 2, run: g.run, settled: (id) => settled.push(id) });
  for (const id of ["a", "b", "c", "a", "c"]) queue.enqueue(id);
  assertEquals(g.started, ["a", "b"]);
  assertEquals(queue.running, 2);
  g.finish("a");
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(g.started, ["a", "b", "c"]);
  g.finish("b");
  g.finish("c");
  await queue.idle();
  assertEquals(settled.sort(), ["a", "b", "c"]);
  assertEquals(queue.running, 0);
});

Deno.test("run queue: a job no longer runnable is skipped, the next one starts", async () => {
  const started: string[] = [];
  const queue = new RunQueue({
    maxConcurrent: 1,
    run: (id) => {
      if (id === "gone") return undefined;
      started.push(id);
      return Promise.resolve();
    },
  });
  queue.enqueue("gone");
  queue.enqueue("next");
  await queue.idle();
  assertEquals(started, ["next"]);
});

Deno.test("run queue: cancel aborts a running job, or takes a queued one off", async () => {
  const g = gatedRuns();
  const errors: unknown[] = [];
  const queue = new RunQueue({
    maxConcurrent: 1,
    run: g.run,
    settled: (_id, error) => errors.push(error),
  });
  queue.enqueue("a");
  queue.enqueue("b");
  assertEquals(queue.cancel("b", new Error("cancelled")), "queued");
  assertEquals(queue.cancel("a", new Error("cancelled")), "running");
  assertEquals(queue.cancel("nope", new Error("cancelled")), undefined);
  await queue.idle();
  assertEquals(g.started, ["a"]);
  assertEquals(g.aborted, ["a"]);
  assert(errors[0] instanceof Error && errors[0].message === "cancelled");
});

Deno.test("run queue: stop aborts the runs, drops the queue and refuses new jobs", async () => {
  const g = gatedRuns();
  const queue = new RunQueue({ maxConcurrent: 1, run: g.run, settled: () => {} });
  queue.enqueue("a");
  queue.enqueue("b");
  await queue.stop(new Error("stopping"));
  queue.enqueue("c");
  assertEquals([g.started, g.aborted, queue.running], [["a"], ["a"], 0]);
});

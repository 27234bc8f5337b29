import { assert, assertEquals } from "../../../../harness/assert.ts";
import { AFTER_CANCEL_MS, AfterCancel } from "../../../../roles/requester/after_cancel.ts";

const JOB = "ab".repeat(32);

Deno.test("after_cancel: a cancelled job is watched until its error came (drop), and counted while it is", () => {
  const watch = new AfterCancel();
  assertEquals([watch.has(JOB), watch.count], [false, 0]);
  watch.keep(JOB);
  watch.keep(JOB); // kept again: one watch
  assertEquals([watch.has(JOB), watch.count], [true, 1]);
  watch.drop(JOB);
  assertEquals([watch.has(JOB), watch.count], [false, 0]);
  watch.stop();
});

Deno.test("after_cancel: a cancelled job whose error never comes is forgotten after the bound", async () => {
  const watch = new AfterCancel({ ms: 20 });
  watch.keep(JOB);
  while (watch.has(JOB)) await new Promise((r) => setTimeout(r, 10));
  assertEquals(watch.count, 0);
  assert(AFTER_CANCEL_MS >= 30_000, "longer than the provider's write retry");
});

Deno.test("after_cancel: stop forgets every watch (the node closes)", () => {
  const watch = new AfterCancel();
  watch.keep(JOB);
  watch.keep("cd".repeat(32));
  watch.stop();
  assertEquals(watch.count, 0);
});

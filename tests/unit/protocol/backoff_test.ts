import { assert, assertEquals } from "../../../harness/assert.ts";
import { backoffDelay, sleep } from "../../../protocol/backoff.ts";

Deno.test("backoff: 1 s doubling to 30 s, +-20% jitter by default, capped with the jitter", () => {
  const opts = { initialMs: 1000, maxMs: 30_000 };
  const mid = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...opts, random: () => 0.5 }));
  assertEquals(mid, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assertEquals(backoffDelay(0, { ...opts, random: () => 0 }), 800);
  assertEquals(backoffDelay(0, { ...opts, random: () => 1 }), 1200);
  assertEquals(backoffDelay(10, { ...opts, random: () => 1 }), 30000);
  assertEquals(backoffDelay(1000, { ...opts, random: () => 0.5 }), 30000);
});

Deno.test("backoff: no jitter, no cap; a wider jitter", () => {
  assertEquals([0, 1, 2].map((n) => backoffDelay(n, { initialMs: 100, jitter: 0 })), [
    100,
    200,
    400,
  ]);
  assertEquals(backoffDelay(2, { initialMs: 100, jitter: 0.5, random: () => 0 }), 200);
});

Deno.test("sleep: an abort ends it at once; an aborted signal does not wait", async () => {
  const stop = new AbortController();
  const started = performance.now();
  const waiting = sleep(60_000, stop.signal);
  stop.abort();
  await waiting;
  await sleep(60_000, stop.signal);
  assert(performance.now() - started < 30_000, "the aborted sleeps did not wait their 60 s");
});

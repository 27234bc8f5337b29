/** The town's token bucket: taking tokens, charging a debt after the fact, waiting it out. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { TokenBucket } from "../../../../roles/town/token_bucket.ts";

Deno.test("token bucket: a charge may go into debt, refilled at the rate, capped at capacity", () => {
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 100, capacity: 20, now: () => now });
  bucket.charge(30);
  assertEquals(bucket.level(), -10);
  assertEquals(bucket.take(), false);
  now += 150; // +15
  assertEquals(bucket.level(), 5);
  assertEquals(bucket.take(), true);
  now += 60_000;
  assertEquals(bucket.level(), 20);
});

Deno.test("token bucket: untilPositive waits out the debt, and yields when there is none", async () => {
  const bucket = new TokenBucket({ ratePerSecond: 1000, capacity: 20 });
  let yielded = false;
  const waited = bucket.untilPositive().then(() => assert(yielded, "resolved in the same task"));
  yielded = true;
  await waited;
  bucket.charge(45); // 25 in debt at 1000 per second
  const t0 = performance.now();
  await bucket.untilPositive();
  assert(performance.now() - t0 >= 24, "did not wait for the refill");
  assert(bucket.level() > 0);
});

Deno.test("token bucket: many waiters on one debt do not all run at once", async () => {
  const bucket = new TokenBucket({ ratePerSecond: 1000, capacity: 5 });
  const t0 = performance.now();
  // Four waiters charge 5 each: the first runs on the 5 held, the second as soon as the level
  // is above 0 again, the last two each after a 5 ms refill, so they cannot all be done before
  // 10 ms (woken together and run back to back, they would be within a millisecond).
  const done = await Promise.all(Array.from({ length: 4 }, async () => {
    await bucket.untilPositive();
    bucket.charge(5);
    return performance.now() - t0;
  }));
  assert(Math.max(...done) >= 9.5, `all four ran within ${Math.max(...done).toFixed(1)} ms`);
});

/** The scale harness's sustained rate: jobs done over the offer window and per minute of it. */
import { assertEquals } from "../../../harness/assert.ts";
import { offerWindowThroughput } from "../../../bench/scale_throughput.ts";

Deno.test("offerWindowThroughput counts the jobs done while offers ran, not the drain after", () => {
  // Offers from 5 s to 185 s (3 minutes); 100 jobs done before them (another run's), then
  // 10, 12 and 8 a second, then 600 more in the drain.
  const samples = [
    { atMs: 1_000, done: 100 },
    { atMs: 5_000, done: 100 },
    { atMs: 65_000, done: 700 },
    { atMs: 125_000, done: 1420 },
    { atMs: 185_000, done: 1900 },
    { atMs: 245_000, done: 2500 },
  ];
  const t = offerWindowThroughput(samples, 5_000, 180);
  assertEquals(t.perS, 10);
  assertEquals(t.perMinute, [10, 12, 8]);
  assertEquals(t.minMinutePerS, 8);
  // The second half: 95 s to 185 s, counted at the newest sample by then (65 s: 700).
  assertEquals(t.secondHalfPerS, (1900 - 700) / 90);
});

Deno.test("offerWindowThroughput takes samples in any order and a window shorter than a minute", () => {
  const t = offerWindowThroughput([{ atMs: 30_000, done: 90 }, { atMs: 0, done: 0 }], 0, 30);
  assertEquals(t, { perS: 3, secondHalfPerS: 6, perMinute: [], minMinutePerS: 3 });
});

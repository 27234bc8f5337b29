/** The bound that finds itself from the done jobs' latency, on an injected clock. */
import { AdaptiveJobLimit } from "../../../../roles/requester/adaptive_job_limit.ts";
import { JobSlots, RequesterBusyError } from "../../../../roles/requester/job_slots.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../../../harness/assert.ts";

/** A limit on a clock the test moves, target 2 s, decisions at most every 500 ms. */
function clocked(initial: number, more: { min?: number; max?: number } = {}) {
  const clock = { t: 0 };
  const limit = new AdaptiveJobLimit({ initial, now: () => clock.t, ...more });
  return { clock, limit };
}

/** `n` jobs started now, each ended `done` after `latencyMs`, the clock moved on. */
function runDone(
  c: ReturnType<typeof clocked>,
  n: number,
  latencyMs: number,
): void {
  const starts = Array.from({ length: n }, () => c.limit.start());
  c.clock.t += latencyMs;
  for (const s of starts) c.limit.end(s, "done");
}

Deno.test("adaptive job limit: grows while the done jobs' median is under the target and the bound is used", () => {
  const c = clocked(4);
  runDone(c, 4, 600);
  assertEquals(c.limit.current, 6, "4 + sqrt(4)");
  runDone(c, 6, 600);
  assertEquals(c.limit.current, 8, "6 + floor(sqrt(6))");
  // The next decision still counts the 6 jobs in flight at the last one: used.
  runDone(c, 1, 600);
  assertEquals(c.limit.current, 10, "8 + floor(sqrt(8))");
  // Unused room (one job at a time under a bound of 10) says nothing about more: no growth.
  for (let i = 0; i < 10; i++) runDone(c, 1, 600);
  assertEquals(c.limit.current, 10);
});

Deno.test("adaptive job limit: shrinks by target / median when over, once per round trip", () => {
  const c = clocked(20);
  // 20 jobs started together; they end over the target (4 s: shrink by half).
  const starts = Array.from({ length: 20 }, () => c.limit.start());
  c.clock.t += 4000;
  for (const s of starts.slice(0, 5)) c.limit.end(s, "done");
  assertEquals(c.limit.current, 10, "20 x max(0.5, 2/4)");
  // The others started before that shrink: their latency was the larger bound's, not counted.
  c.clock.t += 1000;
  for (const s of starts.slice(5)) c.limit.end(s, "done");
  assertEquals(c.limit.current, 10);
  // Jobs started after it, a little over the target: shrunk by 2/2.5 = 0.8.
  runDone(c, 10, 2500);
  assertEquals(c.limit.current, 8);
  assertMatch(c.limit.describe(), /median 2\.5 s, target 2 s/);
});

Deno.test("adaptive job limit: a timeout halves it at once; other ends and resumed jobs say nothing", () => {
  const c = clocked(16);
  const a = c.limit.start();
  const b = c.limit.start();
  c.clock.t += 30_000;
  c.limit.end(a, "other"); // an error, a cancel, a provider's busy: not this host's load
  assertEquals(c.limit.current, 16);
  c.limit.end(undefined, "done"); // a resumed job: no sample
  assertEquals(c.limit.current, 16);
  c.limit.end(b, "timed-out");
  assertEquals(c.limit.current, 8);
});

Deno.test("adaptive job limit: never under its floor nor over its ceiling", () => {
  const c = clocked(2, { max: 5 });
  for (let i = 0; i < 10; i++) runDone(c, c.limit.current, 600);
  assertEquals(c.limit.current, 5);
  for (let i = 0; i < 10; i++) runDone(c, c.limit.current, 60_000);
  assertEquals(c.limit.current, 1);
  // At the floor, one job at a time under the target grows it again.
  runDone(c, 1, 600);
  assertEquals(c.limit.current, 2);
  assertThrows(() => new AdaptiveJobLimit({ initial: 0 }), RangeError);
  assertThrows(() => new AdaptiveJobLimit({ min: 4, max: 2 }), RangeError);
  assertThrows(() => new AdaptiveJobLimit({ targetMs: 0 }), RangeError);
});

Deno.test("job slots on an adaptive limit: refused busy past the bound it found, the latency measured from admit to a done release", () => {
  const clock = { t: 0 };
  const slots = new JobSlots(new AdaptiveJobLimit({ initial: 2, now: () => clock.t }));
  slots.admit("a");
  slots.admit("b");
  const err = assertThrows(() => slots.admit("c"), RequesterBusyError);
  assertMatch(err.message, /^busy: 2 jobs in flight .* max 2 \(adaptive: no median yet/);
  clock.t += 5000;
  slots.release("a", "done");
  assertEquals(slots.max, 1, "5 s against 2 s: halved");
  assert(slots.full);
  // A job followed again after a restart holds a slot and gives no sample when it ends.
  slots.release("b", "done");
  slots.take("resumed");
  clock.t += 60_000;
  slots.release("resumed", "done");
  assertEquals(slots.max, 1);
  slots.admit("d");
  clock.t += 100;
  slots.release("d", "done");
  assertEquals(slots.max, 2);
});

Deno.test("job slots on an adaptive limit: jobs held past the straggler age stop counting against the bound, at most the bound's worth or 4", () => {
  const clock = { t: 0 };
  const slots = new JobSlots(new AdaptiveJobLimit({ initial: 8, now: () => clock.t }));
  for (const id of ["a", "b", "c", "d", "e", "f", "g", "h"]) slots.admit(id);
  assertThrows(() => slots.admit("i"), RequesterBusyError);
  // Held four times the 2 s target: presumed caught in an outage, excused.
  clock.t += 8000;
  assertEquals(slots.stragglers, 8);
  for (const id of ["i", "j", "k", "l", "m", "n", "o", "p"]) slots.admit(id);
  // Eight stragglers excused at most (the bound): sixteen held, eight counted, full.
  const err = assertThrows(() => slots.admit("q"), RequesterBusyError);
  assertMatch(
    err.message,
    /^busy: 16 jobs in flight on this requester host \(8 of them stragglers\), max 8/,
  );
  // Stragglers that end done still give their latency: 8 s against 2 s halves the bound.
  slots.release("a", "done");
  slots.release("b", "done");
  assertEquals(slots.max, 4);
  for (const id of ["c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"]) {
    slots.release(id);
  }
});

Deno.test("job slots on an adaptive limit: a bound shrunk to 1 is not held by stragglers admitted under a larger one (4 excused at least); resumed jobs become stragglers too", () => {
  const clock = { t: 0 };
  const slots = new JobSlots(new AdaptiveJobLimit({ initial: 1, now: () => clock.t }));
  // Jobs resumed after a restart take slots whatever the bound.
  for (const id of ["r1", "r2", "r3"]) slots.take(id);
  assert(slots.full);
  clock.t += 8000;
  assertEquals(slots.stragglers, 3);
  slots.admit("a");
  assert(slots.full, "three excused, one counted against a bound of 1");
  for (const id of ["r4", "r5", "r6"]) slots.take(id);
  clock.t += 8000;
  // Seven stragglers (r1-r6, a), four excused: three counted against a bound of 1.
  assertEquals(slots.stragglers, 4);
  const err = assertThrows(() => slots.admit("b"), RequesterBusyError);
  assertMatch(
    err.message,
    /^busy: 7 jobs in flight on this requester host \(4 of them stragglers\), max 1/,
  );
  for (const id of ["r1", "r2", "r3"]) slots.release(id);
  assert(!slots.full, "four held, all excused");
  slots.admit("b");
});

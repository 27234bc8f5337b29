/** BTP auth failures throttled per address and in total, without locking out the right token. */
import { assert, assertEquals, assertMatch } from "../../../../harness/assert.ts";
import { AuthFailureThrottle } from "../../../../roles/town/auth_failure_throttle.ts";

function clocked(total?: number) {
  let now = 1_000_000;
  const throttle = new AuthFailureThrottle({
    maxFailuresPerMinute: 5,
    blockMs: 300_000,
    maxFailuresPerMinuteTotal: total,
    trialMs: 10_000,
    now: () => now,
  });
  return { throttle, advance: (ms: number) => now += ms };
}

/** Guesses from `addresses` addresses, each until refused; how many were evaluated. */
function guess(throttle: AuthFailureThrottle, addresses: number, perAddress: number): number {
  let evaluated = 0;
  for (let a = 0; a < addresses; a++) {
    for (let g = 0; g < perAddress; g++) {
      if (throttle.refusal(`10.0.${a}.1`) !== undefined) break;
      evaluated++;
      throttle.recordFailure(`10.0.${a}.1`);
    }
  }
  return evaluated;
}

Deno.test("auth throttle: guesses from 100 addresses are capped in total, not 5 per address", () => {
  const { throttle } = clocked(120);
  const evaluated = guess(throttle, 100, 10);
  // The total's burst is a sixth of a minute's worth (20); without it, 5 x 100 = 500.
  assert(evaluated <= 25, `${evaluated} guesses evaluated`);
  assertMatch(throttle.refusal("10.9.9.9")!, /too many failed BTP auths on this town/);
  assert(throttle.totalRefusedTotal > 0);
});

Deno.test("auth throttle: an address that authenticated before is not held to the total", () => {
  const { throttle } = clocked(120);
  throttle.recordSuccess("192.0.2.7");
  guess(throttle, 100, 10);
  assertEquals(throttle.refusal("192.0.2.7"), undefined);
});

Deno.test("auth throttle: a blocked address gets one try per trial interval (the right token gets in)", () => {
  const { throttle, advance } = clocked();
  for (let i = 0; i < 5; i++) throttle.recordFailure("10.0.0.1");
  assertMatch(throttle.refusal("10.0.0.1")!, /from this address; retry in 10 s/);
  advance(10_000);
  assertEquals(throttle.refusal("10.0.0.1"), undefined, "a try after the trial interval");
  assert(throttle.refusal("10.0.0.1") !== undefined, "only one try per interval");
  advance(10_000);
  assertEquals(throttle.refusal("10.0.0.1"), undefined);
  // Without the trial, the right token from that address waited out the whole 300 s block.
});

/**
 * The scale harness's sustained job rate (docs/SCALE.md, "Where it stands against the goal"): the
 * jobs done while offers were being made, over the offer window, and per minute of it. The
 * report's `jobsPerS` divides by the whole run, the drain after the last offer included (up to
 * the job timeout), so it understates the rate the network sustained while offered work.
 *
 * @module
 */

/** Done jobs counted at one instant of the run (the harness samples once a second). */
export interface DoneSample {
  /** Milliseconds on the harness's clock. */
  atMs: number;
  /** Jobs done by then, cumulative. */
  done: number;
}

/** What {@linkcode offerWindowThroughput} found. */
export interface OfferWindowThroughput {
  /** Jobs done from the first offer to the last, per second of that window. */
  perS: number;
  /** The same over the window's second half. */
  secondHalfPerS: number;
  /** Per whole minute of the window, in order (a shorter tail is left out). */
  perMinute: number[];
  /** The least of {@linkcode OfferWindowThroughput.perMinute} (the window's `perS` when shorter). */
  minMinutePerS: number;
}

/**
 * Jobs done per second over the offer window (`startMs` for `seconds`), from cumulative samples:
 * a count at an instant is the newest sample at or before it (0 before the first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offerWindowThroughput } from "./scale_throughput.ts";
 *
 * const t = offerWindowThroughput([{ atMs: 60_000, done: 600 }, { atMs: 120_000, done: 1260 }], 0, 120);
 * assert.deepEqual([t.perS, t.perMinute], [10.5, [10, 11]]);
 * ```
 */
export function offerWindowThroughput(
  samples: readonly DoneSample[],
  startMs: number,
  seconds: number,
): OfferWindowThroughput {
  const sorted = [...samples].sort((a, b) => a.atMs - b.atMs);
  const doneAt = (ms: number): number => {
    let done = 0;
    for (const s of sorted) {
      if (s.atMs > ms) break;
      done = s.done;
    }
    return done;
  };
  const at = (s: number) => doneAt(startMs + s * 1000);
  const perS = seconds > 0 ? (at(seconds) - at(0)) / seconds : 0;
  const half = seconds / 2;
  const secondHalfPerS = half > 0 ? (at(seconds) - at(half)) / half : 0;
  const perMinute: number[] = [];
  for (let m = 0; (m + 1) * 60 <= seconds; m++) perMinute.push((at(m * 60 + 60) - at(m * 60)) / 60);
  return {
    perS,
    secondHalfPerS,
    perMinute,
    minMinutePerS: perMinute.length > 0 ? Math.min(...perMinute) : perS,
  };
}

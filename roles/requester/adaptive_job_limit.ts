/**
 * A bound on the jobs a requester host follows at once that finds itself from the jobs' own
 * latency (docs/SCALE.md "Graceful overload"): the time from a job's submit to its end `done`,
 * against a target (default 2 s, compared with the median of a few jobs). It grows while that
 * median stays under the target and the bound is in use (by about its square root per decision,
 * as the Gradient2 limit's queue allowance), and shrinks by the ratio target / median (between a
 * half and 0.9) when over; a job `timed-out` halves it at once, as a loss halves a TCP window.
 * Between a floor (1) and a ceiling. Other ends (`error`, `cancelled`, a provider's `busy`
 * refusal, a job refused before it was followed) say nothing about this host's load: ignored.
 *
 * A shrink applies once per round trip: the jobs started before it (whose latency came from the
 * larger bound) are not counted again, so one overload is not answered twice. A resumed job
 * (started before a restart) holds a slot but gives no sample. A job held past `stragglerMs`
 * (default four times the target) is a straggler ({@linkcode AdaptiveJobLimit.counts}): presumed
 * caught in an outage, {@linkcode JobSlots} stops counting it against the bound; it still gives
 * its sample if it ends `done`.
 *
 * Pure: the clock is an option (`now`); {@linkcode JobSlots} (job_slots.ts) calls
 * {@linkcode AdaptiveJobLimit.start} and {@linkcode AdaptiveJobLimit.end}.
 *
 * @module
 */
import type { JobEnd, JobLimit } from "./job_slots.ts";

/** Options for {@linkcode AdaptiveJobLimit}; every one has a default. */
export interface AdaptiveJobLimitOptions {
  /** The latency wanted for a done job, ms (compared with a median). Default 2,000. */
  targetMs?: number;
  /** The bound at start. Default 16. */
  initial?: number;
  /** The floor. Default 1. */
  min?: number;
  /** The ceiling. Default 1,024. */
  max?: number;
  /** Decisions at most this often, ms. Default a quarter of the target. */
  windowMs?: number;
  /** A job held this long is a straggler, not counted against the bound, ms. Default 4 x target. */
  stragglerMs?: number;
  /** The clock, ms. Default `performance.now`. */
  now?: () => number;
}

/** The samples a decision waits for, at most (fewer under a small bound: see `#due`). */
const SAMPLES_PER_DECISION = 8;

/** A bound from the jobs' latency; see the module doc. */
export class AdaptiveJobLimit implements JobLimit {
  /** The latency wanted, ms. */
  readonly targetMs: number;
  readonly #min: number;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #stragglerMs: number;
  readonly #now: () => number;
  #limit: number;
  /** Jobs started and not ended (resumed ones included). */
  #inFlight = 0;
  /** The most jobs in flight since the last decision. */
  #peak = 0;
  /** Latencies of done jobs since the last decision, ms. */
  #window: number[] = [];
  #decidedAt: number;
  /** Jobs started before this instant do not count after a shrink (once per round trip). */
  #shrunkAt = -Infinity;
  /** The last decision's median, ms (for the busy message). */
  #lastMedianMs?: number;

  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * const limit = new AdaptiveJobLimit({ initial: 4 });
   * assert.equal(limit.current, 4);
   * assert.equal(limit.targetMs, 2000);
   * ```
   * @throws {RangeError} when the floor, ceiling, start, target or straggler age are not
   *   consistent.
   */
  constructor(options: AdaptiveJobLimitOptions = {}) {
    this.targetMs = options.targetMs ?? 2000;
    this.#min = options.min ?? 1;
    this.#max = options.max ?? 1024;
    this.#now = options.now ?? (() => performance.now());
    this.#windowMs = options.windowMs ?? this.targetMs / 4;
    this.#stragglerMs = options.stragglerMs ?? this.targetMs * 4;
    const initial = options.initial ?? Math.min(16, this.#max);
    if (
      !(this.targetMs > 0) || !(this.#stragglerMs > 0) || !Number.isSafeInteger(this.#min) ||
      this.#min < 1 ||
      !Number.isSafeInteger(this.#max) || this.#max < this.#min ||
      !Number.isSafeInteger(initial) || initial < this.#min || initial > this.#max
    ) {
      throw new RangeError(
        `an adaptive job bound wants 1 <= min <= initial <= max and a target above 0, not ` +
          `${this.#min} <= ${initial} <= ${this.#max}, ${this.targetMs} ms`,
      );
    }
    this.#limit = initial;
    this.#decidedAt = this.#now();
  }

  /**
   * The bound now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * assert.equal(new AdaptiveJobLimit({ initial: 3 }).current, 3);
   * ```
   */
  get current(): number {
    return this.#limit;
  }

  /**
   * The median latency of a done job at the last decision, ms (undefined: none yet).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * assert.equal(new AdaptiveJobLimit().lastMedianMs, undefined);
   * ```
   */
  get lastMedianMs(): number | undefined {
    return this.#lastMedianMs;
  }

  /**
   * A job takes a slot; returns its start on this limit's clock (for {@linkcode end}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * const limit = new AdaptiveJobLimit({ now: () => 42 });
   * assert.equal(limit.start(), 42);
   * ```
   */
  start(): number {
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    return this.#now();
  }

  /**
   * A job left its slot: `startedAt` from {@linkcode start} (undefined: a resumed job, no
   * sample), and how it ended.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * let t = 0;
   * const limit = new AdaptiveJobLimit({ initial: 8, now: () => t });
   * const started = limit.start();
   * t = 31_000;
   * limit.end(started, "timed-out");
   * assert.equal(limit.current, 4);
   * ```
   */
  end(startedAt: number | undefined, how: JobEnd): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    // Started before the last shrink: its latency came from the larger bound, already answered.
    if (startedAt === undefined || startedAt < this.#shrunkAt) return;
    const now = this.#now();
    if (how === "timed-out") return this.#shrink(0.5, now);
    if (how !== "done") return;
    this.#window.push(now - startedAt);
    if (this.#due(now)) this.#decide(now);
  }

  /**
   * Whether a job held since `startedAt` (from {@linkcode start}) still counts against the bound:
   * false once it is a straggler (held `stragglerMs` or more).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * let t = 0;
   * const limit = new AdaptiveJobLimit({ now: () => t });
   * const started = limit.start();
   * t = 7_999;
   * assert.equal(limit.counts(started), true);
   * t = 8_000;
   * assert.equal(limit.counts(started), false);
   * ```
   */
  counts(startedAt: number): boolean {
    return this.#now() - startedAt < this.#stragglerMs;
  }

  /**
   * What the bound follows, for a `busy` message.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";
   * assert.match(new AdaptiveJobLimit().describe(), /target 2 s/);
   * ```
   */
  describe(): string {
    const median = this.#lastMedianMs === undefined
      ? "no median yet"
      : `median ${(this.#lastMedianMs / 1000).toFixed(1)} s`;
    return `adaptive: ${median}, target ${this.targetMs / 1000} s`;
  }

  /** Enough samples (fewer under a small bound, where jobs end rarely) and time since the last. */
  #due(now: number): boolean {
    const wanted = Math.min(SAMPLES_PER_DECISION, Math.max(1, Math.ceil(this.#limit / 4)));
    return this.#window.length >= wanted && now - this.#decidedAt >= this.#windowMs;
  }

  #decide(now: number): void {
    const sorted = this.#window.sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    this.#lastMedianMs = median;
    const used = this.#peak * 2 >= this.#limit;
    this.#window = [];
    this.#peak = this.#inFlight;
    this.#decidedAt = now;
    if (median > this.targetMs) {
      return this.#shrink(Math.min(0.9, Math.max(0.5, this.targetMs / median)), now);
    }
    // Unused room says nothing about more: grow only a bound that was at least half used.
    if (used) {
      this.#limit = Math.min(
        this.#max,
        this.#limit + Math.max(1, Math.floor(Math.sqrt(this.#limit))),
      );
    }
  }

  #shrink(factor: number, now: number): void {
    this.#limit = Math.max(this.#min, Math.floor(this.#limit * factor));
    this.#shrunkAt = now;
    this.#decidedAt = now;
    this.#window = [];
    this.#peak = this.#inFlight;
  }
}

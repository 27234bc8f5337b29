/**
 * A token bucket: the per-connection message rate limit of the town's NIP-01 server, and the
 * read budget's milliseconds of event-loop time (charged after the fact, so it may go negative).
 *
 * @module
 */
import { setImmediate } from "node:timers";

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond: number;
  /** Most tokens held (the burst). */
  capacity: number;
  /** Monotonic clock in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

/**
 * Allows `capacity` actions at once and `ratePerSecond` sustained.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ ratePerSecond: 20, capacity: 40 });
 * if (!bucket.take()) console.log("rate-limited");
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(options: TokenBucketOptions) {
    this.#rate = options.ratePerSecond;
    this.#capacity = options.capacity;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.capacity;
    this.#last = this.#now();
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty. */
  take(): boolean {
    if (this.level() < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes `tokens` whether or not they are there: the level goes negative, a debt refilled first. */
  charge(tokens: number): void {
    this.level();
    this.#tokens -= tokens;
  }

  /** Tokens held now (negative while in debt). */
  level(): number {
    const now = this.#now();
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + ((now - this.#last) / 1000) * this.#rate,
    );
    this.#last = now;
    return this.#tokens;
  }

  /**
   * Resolves true once the level is positive, always after a macrotask boundary. The level is
   * checked again after each wait: many waiters wake in the same timers phase, and each must
   * find tokens when it runs, not only when it was scheduled. With `deadline` (a time of
   * `now`), resolves false instead once the level cannot be positive by then: a caller that
   * waits must be able to give up and answer.
   */
  async untilPositive(deadline?: number): Promise<boolean> {
    do {
      const debt = -this.level();
      const waitMs = debt < 0 ? 0 : Math.ceil((debt / this.#rate) * 1000) + 1;
      if (deadline !== undefined && this.#now() + waitMs > deadline) return false;
      // With tokens left, only a turn of the event loop: setImmediate, since a zero timer in
      // a loop is clamped to about 2 ms a turn.
      await new Promise((resolve) =>
        debt < 0 ? setImmediate(resolve) : setTimeout(resolve, waitMs)
      );
    } while (this.level() <= 0);
    return true;
  }
}

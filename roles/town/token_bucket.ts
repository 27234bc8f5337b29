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

/** One caller of {@linkcode TokenBucket.untilPositive}. */
interface Waiter {
  resolve(positive: boolean): void;
  deadline: number | undefined;
}

/**
 * Allows `capacity` actions at once and `ratePerSecond` sustained.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./token_bucket.ts";
 *
 * const bucket = new TokenBucket({ ratePerSecond: 20, capacity: 2 });
 * assert.equal(bucket.take(), true);
 * assert.equal(bucket.take(), true);
 * assert.equal(bucket.take(), false); // rate-limited until it refills
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  /** Waiters of {@linkcode TokenBucket.untilPositive}, first come first served. */
  readonly #waiters: Waiter[] = [];
  /** Whether the one wake-up (timer or immediate) is pending. */
  #armed = false;

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
   * Resolves true once the level is positive, always after a macrotask boundary. Waiters are
   * woken one at a time, first come first served, one turn of the event loop apart, by the
   * bucket's one timer (or `setImmediate` while there are tokens): each woken waiter runs and
   * charges before the level is looked at for the next, so many waiters do not all run on the
   * same tokens, and hundreds of them waiting cost one timer, not one each per wait (a timer per
   * waiter per wait was most of the garbage of a town under a read flood, docs/OPERATIONS.md
   * "Peers that do not read"). With `deadline` (a time of `now`), resolves false instead once
   * the level cannot be positive by then: a caller that waits must be able to give up and answer.
   */
  untilPositive(deadline?: number): Promise<boolean> {
    if (deadline !== undefined && this.#now() + this.#refillMs() > deadline) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      this.#waiters.push({ resolve, deadline });
      this.#schedule();
    });
  }

  /** Milliseconds until the level is positive (0 when it is). */
  #refillMs(): number {
    const debt = -this.level();
    return debt < 0 ? 0 : Math.ceil((debt / this.#rate) * 1000) + 1;
  }

  /** Arms the one wake-up (a timer for the debt, or the next turn) unless one is armed. */
  #schedule(): void {
    if (this.#armed || this.#waiters.length === 0) return;
    this.#armed = true;
    const waitMs = this.#refillMs();
    // With tokens left, only a turn of the event loop: setImmediate, since a zero timer in a
    // loop is clamped to about 2 ms a turn.
    if (waitMs === 0) setImmediate(this.#wake);
    else {
      this.#dropExpired(this.#now() + waitMs);
      setTimeout(this.#wake, waitMs);
    }
  }

  /** Wakes the first waiter if the level is positive, then arms the next wake-up. */
  readonly #wake = (): void => {
    this.#armed = false;
    if (this.level() > 0) this.#waiters.shift()?.resolve(true);
    this.#schedule();
  };

  /** Resolves false, and drops, the waiters whose deadline comes before `until`. */
  #dropExpired(until: number): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const { deadline, resolve } = this.#waiters[i];
      if (deadline === undefined || deadline >= until) continue;
      this.#waiters.splice(i, 1);
      resolve(false);
    }
  }
}

/**
 * A token bucket: the per-connection message rate limit of the town's NIP-01 server.
 *
 * @module
 */

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
    const now = this.#now();
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + ((now - this.#last) / 1000) * this.#rate,
    );
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Token buckets in this process's memory with the contract of the town's shared ones
 * (state/postgres/postgres_rate_buckets.ts: `take` one token atomically, `refund` it), so a town on one
 * process reserves its failed BTP auths through the same rules as a town on several
 * (roles/town/shared_auth_failures.ts): every guess, a blocked address's trial included, spends a
 * token of the town's total taken before its auth is read. The most recently used `maxKeys`
 * buckets are kept; one forgotten is full again when next taken, as an idle row swept from the
 * database is.
 *
 * @module
 */
import type { AuthFailureBuckets } from "./shared_auth_failures.ts";

/** Options for {@linkcode MemoryRateBuckets}. */
export interface MemoryRateBucketsOptions {
  /** Buckets kept (the least recently used are forgotten first). Default 10,000. */
  maxKeys?: number;
  /** Clock in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets keyed by name, in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const buckets = new MemoryRateBuckets({ now: () => 0 });
 * assert.equal(await buckets.take("btp-auth:*", 2, 1), true);
 * assert.equal(await buckets.take("btp-auth:*", 2, 1), false);
 * await buckets.refund("btp-auth:*", 1);
 * assert.equal(await buckets.take("btp-auth:*", 2, 1), true);
 * ```
 */
export class MemoryRateBuckets implements AuthFailureBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: MemoryRateBucketsOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes one token from `key`'s bucket (`capacity` tokens, refilled at `ratePerSecond`); false
   * when it is empty (nothing taken).
   */
  take(key: string, ratePerSecond: number, capacity: number): Promise<boolean> {
    const max = Math.max(1, capacity);
    const now = this.#now();
    const kept = this.#buckets.get(key);
    const tokens = kept === undefined
      ? max
      : Math.min(max, kept.tokens + ratePerSecond * (now - kept.at) / 1000);
    const taken = tokens >= 1;
    // Re-inserted so the map's order is least recently used first.
    this.#buckets.delete(key);
    this.#buckets.set(key, { tokens: taken ? tokens - 1 : tokens, at: now });
    for (const oldest of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(oldest);
    }
    return Promise.resolve(taken);
  }

  /** Gives one token back to `key`'s bucket (at most `capacity`). */
  refund(key: string, capacity: number): Promise<void> {
    const kept = this.#buckets.get(key);
    if (kept !== undefined) kept.tokens = Math.min(Math.max(1, capacity), kept.tokens + 1);
    return Promise.resolve();
  }
}

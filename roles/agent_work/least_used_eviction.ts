/**
 * The eviction both agent-work caches share (the requester's sealed repository bundles,
 * `requester/repository_bundle_cache.ts`, and the provider's checkouts,
 * `provider/checkout_cache.ts`; docs/OPERATIONS.md gives their bounds): the most recently used
 * entries are kept while they fit in the bounds, every other one is removed.
 *
 * @module
 */

/** One cache entry as eviction sees it. */
export interface CachedEntry {
  /** When it was last used (ms since the epoch). */
  used: number;
  /** Its size on disk. */
  bytes: number;
  /** Removes it (a failure leaves it for the next eviction). */
  remove(): Promise<void>;
}

/** Options for {@linkcode evictLeastUsed}. */
export interface EvictLeastUsedOptions {
  /** The most bytes kept. */
  maxBytes: number;
  /** The most entries kept. Default: no bound. */
  maxEntries?: number;
}

/**
 * Removes the least recently used of `entries` until the rest fit in both bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evictLeastUsed } from "./least_used_eviction.ts";
 *
 * const removed: number[] = [];
 * const entry = (used: number, bytes: number) => ({
 *   used,
 *   bytes,
 *   remove: () => Promise.resolve(void removed.push(used)),
 * });
 * await evictLeastUsed([entry(1, 10), entry(3, 10), entry(2, 10)], { maxBytes: 25 });
 * assert.deepEqual(removed, [1]);
 * ```
 */
export async function evictLeastUsed(
  entries: CachedEntry[],
  options: EvictLeastUsedOptions,
): Promise<void> {
  const maxEntries = options.maxEntries ?? Infinity;
  const newestFirst = [...entries].sort((a, b) => b.used - a.used);
  let bytes = 0;
  for (const [i, e] of newestFirst.entries()) {
    bytes += e.bytes;
    if (i < maxEntries && bytes <= options.maxBytes) continue;
    await e.remove().catch(() => {});
  }
}

/**
 * Failed BTP auths counted for a whole town on several processes (docs/OPERATIONS.md "A town on
 * several machines"): each failure takes a token from the address's bucket and from the town's
 * total bucket in the database (state/postgres_rate_buckets.ts), at the town's full limits; an
 * empty bucket blocks the address on the process that saw the failure (roles/town/btp_server.ts).
 * Another process learns of the block at the address's next failure there (its bucket is empty),
 * so a guesser gets at most the limit plus one failure per other process before every process
 * refuses it.
 *
 * @module
 */

/** The buckets (state/postgres_rate_buckets.ts). */
export interface AuthFailureBuckets {
  take(key: string, ratePerSecond: number, capacity: number): Promise<boolean>;
}

/** Options for {@linkcode sharedAuthFailures}. */
export interface SharedAuthFailuresOptions {
  buckets: AuthFailureBuckets;
  /** Failures per address per minute, town-wide. */
  perAddressPerMinute: number;
  /** Failures per minute across all addresses, town-wide. */
  totalPerMinute: number;
}

/**
 * The `sharedAuthFailures` hook of the BTP server: true when `address` is over.
 *
 * @example
 * ```ts
 * declare const buckets: Parameters<typeof sharedAuthFailures>[0]["buckets"];
 * const over = sharedAuthFailures({ buckets, perAddressPerMinute: 5, totalPerMinute: 120 });
 * if (await over("10.0.0.7")) console.log("blocked town-wide");
 * ```
 */
export function sharedAuthFailures(
  o: SharedAuthFailuresOptions,
): (address: string) => Promise<boolean> {
  return async (address) => {
    const [mine, all] = await Promise.all([
      // The failure that empties the bucket blocks, as the per-process count does at its limit.
      o.buckets.take(
        `btp-auth:${address}`,
        o.perAddressPerMinute / 60,
        Math.max(1, o.perAddressPerMinute - 1),
      ),
      o.buckets.take("btp-auth:*", o.totalPerMinute / 60, Math.max(1, o.totalPerMinute / 6)),
    ]);
    return !mine || !all;
  };
}

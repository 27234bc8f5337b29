/**
 * The requester's deposit bound from its trust of the provider (docs/PROTOCOL.md "The deposit
 * bound"): how much of its bid it pays before delivery. With `floor` and `ceiling` percent of the
 * bid (`[requester] deposit_share`, `deposit_share_trusted`) and the provider's combined rank
 * (its own receipts and its roster's assertions, protocol/roster_trust.ts),
 *
 * ```
 * bound = bid * floor / 100                                   when its newest receipt counts against it
 *       = bid * floor / 100 + bid * (ceiling - floor) / 100 * rank / 100     otherwise
 * ```
 *
 * so a stranger (rank 0) gets the floor share, one with paid, verified history more, toward the
 * ceiling, and one whose newest delivery failed verification, changed a protected path or failed
 * (a receipt whose evidence is negative, protocol/trust_score.ts) the floor at once, whatever it
 * did before. The same shape as the provider's unpaid share of a requester
 * (roles/provider/payments/requester_share.ts).
 *
 * @module
 */
import { receiptEvidence } from "../../protocol/trust_score.ts";
import type { JobReceipt } from "../../protocol/job_receipt.ts";

/** Options for {@linkcode depositBound}. */
export interface DepositBoundOptions {
  /** The job's bid, base units. */
  bid: bigint;
  /** A stranger's share of the bid, percent (`deposit_share`). */
  floor: number;
  /** The most a trusted provider's share grows to, percent (`deposit_share_trusted`). */
  ceiling: number;
  /** The provider's combined rank, 0-100. */
  rank: number;
  /** The profile's receipts of the provider (others are skipped). */
  receipts: Iterable<JobReceipt>;
  /** The provider's pubkey. */
  provider: string;
}

/**
 * The most paid before delivery, base units; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositBound } from "./deposit_share.ts";
 *
 * const o = { bid: 1_000_000n, floor: 1, ceiling: 3, receipts: [], provider: "cd".repeat(32) };
 * assert.equal(depositBound({ ...o, rank: 0 }), 10_000n); // a stranger: the floor
 * assert.equal(depositBound({ ...o, rank: 50 }), 20_000n); // halfway to the ceiling
 * ```
 */
export function depositBound(o: DepositBoundOptions): bigint {
  const floor = o.bid * BigInt(Math.round(o.floor * 100)) / 10_000n;
  if (o.ceiling <= o.floor) return floor;
  let newest: JobReceipt | undefined;
  for (const r of o.receipts) {
    if (r.counterparty !== o.provider) continue;
    if (newest === undefined || r.endedAtMs > newest.endedAtMs) newest = r;
  }
  if (newest !== undefined && receiptEvidence(newest) < 0) return floor;
  const room = o.bid * BigInt(Math.round((o.ceiling - o.floor) * 100)) / 10_000n;
  const rank = BigInt(Math.round(Math.min(100, Math.max(0, o.rank)) * 10));
  return floor + room * rank / 1000n;
}

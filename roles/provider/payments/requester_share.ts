/**
 * A requester's unpaid share at a provider from its history there (docs/PROTOCOL.md "Unpaid share
 * from trust"): how many of its jobs may wait for payment at once. The provider's receipts of the
 * requester (roles/receipts/receipt_derive.ts: its ended job records here and the payment log)
 * give its trust rank (protocol/trust_score.ts: a paid job counts for it, a declined delivery
 * against);
 *
 * ```
 * share = floor                                          when its newest receipt counts against it
 *       = floor + floor((ceiling - floor) * rank / 100)  otherwise
 * ```
 *
 * so a stranger (no receipts, rank 0) gets the floor, one with paid history more, up to the
 * ceiling (which rank 100 would reach and no finite history does), and one that just refused to
 * pay the floor at once, whatever it paid before.
 *
 * @module
 */
import { receiptEvidence, trustScore } from "../../../protocol/trust_score.ts";
import type { JobReceipt } from "../../../protocol/job_receipt.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { PaymentEntry } from "../../../state/payments/payment_log.ts";
import { paymentsByJob, providerReceipt } from "../../receipts/receipt_derive.ts";

/** Options for {@linkcode requesterShare}. */
export interface RequesterShareOptions {
  /** A stranger's share (`max_unpaid_per_requester`). */
  floor: number;
  /** The most a trusted requester's share grows to (`max_unpaid_per_trusted_requester`). */
  ceiling: number;
  /**
   * The requester's job records here (those of other requesters are skipped): read only when the
   * ceiling is above the floor (`ProviderJobStore.ofCustomer`, not every record the provider
   * ever took: docs/SCALE.md "A job on an aged profile").
   */
  records: () => Iterable<ProviderJobRecord>;
  /** The provider's payment log's entries, read only when the records hold some of its jobs. */
  payments: () => readonly PaymentEntry[];
  /** The clock (unix ms). */
  nowMs: number;
}

/**
 * The requester's share now; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requesterShare } from "./requester_share.ts";
 *
 * // A stranger: the floor.
 * const share = requesterShare("ab".repeat(32), {
 *   floor: 2,
 *   ceiling: 8,
 *   records: () => [],
 *   payments: () => [],
 *   nowMs: Date.now(),
 * });
 * assert.equal(share, 2);
 * ```
 */
export function requesterShare(requester: string, options: RequesterShareOptions): number {
  const { floor, ceiling } = options;
  if (ceiling <= floor) return floor;
  const mine = [...options.records()].filter((r) => r.customer === requester);
  if (mine.length === 0) return floor;
  const ids = new Set(mine.map((r) => r.id));
  const byJob = paymentsByJob(options.payments().filter((e) => ids.has(e.jobId)));
  const receipts = mine.flatMap((r): JobReceipt[] => {
    const receipt = providerReceipt(r, byJob);
    return receipt ? [receipt] : [];
  });
  if (receipts.length === 0) return floor;
  const newest = receipts.reduce((a, b) => b.endedAtMs > a.endedAtMs ? b : a);
  if (receiptEvidence(newest) < 0) return floor;
  const { rank } = trustScore(requester, receipts, { nowMs: options.nowMs });
  return floor + Math.floor((ceiling - floor) * rank / 100);
}

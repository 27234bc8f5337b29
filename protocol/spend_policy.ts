/**
 * The requester's spend policy: a pure decision whether to pay one provider invoice. Amounts are
 * integers in the asset's base units (`bigint`: no float rounding on money).
 *
 * Checks, in order (the first failing one is the reason): the invoice was not paid (or attempted)
 * before, its amount is positive, the asset is the expected one, it does not expire within
 * `minTimeLeftMs` (a payment sent that late cannot arrive before the invoice expires), a deposit
 * is not paid in the job's last moments (`deposit`: protocol/deposit_deadline.ts), the provider
 * is on the allowlist (when there is one), the job's payments stay within the bid and the per-job
 * maximum, and today's spend stays within the per-provider and the daily cap.
 *
 * @module
 */
import { type DepositDeadline, depositTooLate } from "./deposit_deadline.ts";

/** The operator's limits. Absent limits do not apply. */
export interface SpendPolicy {
  /** Most paid for one job (all its invoices together). */
  perJobMax?: bigint;
  /** Most paid to one provider per UTC day. */
  perProviderDailyCap?: bigint;
  /** Most paid in total per UTC day. */
  dailyCap?: bigint;
  /** Providers (pubkeys, lowercase hex) that may be paid at all; absent = any provider. */
  allowlist?: readonly string[];
  /** Pay without a bid on the job (default false: no bid, no payment). */
  allowWithoutBid?: boolean;
}

/** One invoice and everything known about what was spent already. */
export interface SpendRequest {
  invoiceId: string;
  /** Amount asked, base units. */
  amount: bigint;
  /** Asset of the invoice (e.g. "USD"). */
  asset: string;
  /** Asset the requester pays in; a different invoice asset is refused. */
  expectedAsset?: string;
  /** Provider pubkey (lowercase hex). */
  provider: string;
  /** The job's bid (base units), if it had one. */
  bid?: bigint;
  /** Already paid (or in flight) for this job. */
  paidForJob: bigint;
  /** Already paid (or in flight) to this provider today. */
  spentTodayProvider: bigint;
  /** Already paid (or in flight) in total today. */
  spentToday: bigint;
  /** The invoice was paid or attempted before (from the payment log): never pay twice. */
  alreadyAttempted: boolean;
  /** Invoice expiry (unix ms), if it has one. */
  expiresAtMs?: number;
  /** Now (unix ms), for the expiry check. */
  nowMs: number;
  /**
   * Least time the invoice must leave to be paid, ms (default 0: only an expired one is
   * refused); the requester passes {@linkcode MIN_INVOICE_TIME_LEFT_MS}.
   */
  minTimeLeftMs?: number;
  /** A deposit's deadline (protocol/deposit_deadline.ts): not paid past it. */
  deposit?: DepositDeadline;
}

/**
 * Least time an invoice must leave for the requester to send its payment, ms. Below it the
 * PREPARE (whose expiry is the invoice's) would leave with its wait all but spent: the town and
 * the provider cannot answer in time, the payment would end in a misleading "no answer" and the
 * provider would see it too late. Two seconds covers the payment log's fsync, the claim's
 * signature and one round trip through a busy town on a loaded machine (docs/OPERATIONS.md,
 * "Running a requester").
 */
export const MIN_INVOICE_TIME_LEFT_MS = 2_000;

/** Why an invoice is not paid. */
export type SpendRefusalReason =
  | "already-attempted"
  | "invalid-amount"
  | "asset-mismatch"
  | "expired"
  | "too-late"
  | "provider-not-allowed"
  | "no-bid"
  | "over-bid"
  | "over-job-max"
  | "over-provider-cap"
  | "over-daily-cap";

/** The decision: pay, or refuse with a reason and a human detail. */
export type SpendDecision =
  | { pay: true }
  | { pay: false; reason: SpendRefusalReason; detail: string };

/**
 * Decides whether to pay an invoice.
 *
 * @example
 * ```ts
 * const d = decideSpend({ perJobMax: 1000n }, {
 *   invoiceId: "inv1", amount: 500n, asset: "USD", provider: "ab".repeat(32), bid: 600n,
 *   paidForJob: 0n, spentTodayProvider: 0n, spentToday: 0n, alreadyAttempted: false,
 *   nowMs: Date.now(),
 * });
 * d.pay; // true
 * ```
 */
export function decideSpend(policy: SpendPolicy, req: SpendRequest): SpendDecision {
  if (req.alreadyAttempted) {
    return refuse("already-attempted", `invoice ${req.invoiceId} was paid or attempted before`);
  }
  if (req.amount <= 0n) return refuse("invalid-amount", `amount ${req.amount} is not positive`);
  if (req.expectedAsset !== undefined && req.asset !== req.expectedAsset) {
    return refuse("asset-mismatch", `invoice asset ${req.asset}, paying in ${req.expectedAsset}`);
  }
  if (req.expiresAtMs !== undefined && req.expiresAtMs <= req.nowMs) {
    return refuse("expired", `invoice expired at ${new Date(req.expiresAtMs).toISOString()}`);
  }
  if (req.expiresAtMs !== undefined && req.expiresAtMs - req.nowMs < (req.minTimeLeftMs ?? 0)) {
    return refuse("expired", tooSoonToPay(req.expiresAtMs - req.nowMs));
  }
  const late = req.deposit && depositTooLate(req.deposit, req.nowMs);
  if (late) return refuse("too-late", late);
  if (policy.allowlist !== undefined && !policy.allowlist.includes(req.provider)) {
    return refuse("provider-not-allowed", `provider ${req.provider} is not on the allowlist`);
  }
  const jobTotal = req.paidForJob + req.amount;
  if (req.bid === undefined) {
    if (!policy.allowWithoutBid) return refuse("no-bid", "the job has no bid");
  } else if (jobTotal > req.bid) {
    return refuse("over-bid", `job total ${jobTotal} would exceed the bid ${req.bid}`);
  }
  const caps: [bigint | undefined, bigint, SpendRefusalReason, string][] = [
    [policy.perJobMax, jobTotal, "over-job-max", "per-job maximum"],
    [
      policy.perProviderDailyCap,
      req.spentTodayProvider + req.amount,
      "over-provider-cap",
      "per-provider daily cap",
    ],
    [policy.dailyCap, req.spentToday + req.amount, "over-daily-cap", "daily cap"],
  ];
  for (const [cap, total, reason, label] of caps) {
    if (cap !== undefined && total > cap) {
      return refuse(reason, `total ${total} would exceed the ${label} ${cap}`);
    }
  }
  return { pay: true };
}

/**
 * The refusal's detail for an invoice that expires within the least time left to pay it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tooSoonToPay } from "./spend_policy.ts";
 * assert(tooSoonToPay(1) === "invoice expires in 1 ms, too soon to pay");
 * ```
 */
export function tooSoonToPay(leftMs: number): string {
  return `invoice expires in ${Math.max(0, Math.round(leftMs))} ms, too soon to pay`;
}

function refuse(reason: SpendRefusalReason, detail: string): SpendDecision {
  return { pay: false, reason, detail };
}

/**
 * What a provider earned for its jobs: each payment it took for a job (`in`, `fulfilled`, category
 * `job`), less each one taken back (`in`, `reversed`: state/payments/income_reversals.ts) and each
 * deposit it refunded (`out`, `fulfilled`, invoice `refund:<job id>`:
 * roles/provider/payments/refund_desk.ts). The provider's income table keeps these as rows for as
 * long as the profile lives (state/jobs/provider_job_store.ts), where the payment log keeps 30 days:
 * the town-debt guard compares their sum with the town's payout claims, which are all-time too
 * (docs/OPERATIONS.md "Paying providers").
 *
 * A requester's own payments (`out`, `fulfilled`, `job`) and the refunds it takes (`in`,
 * invoice `refund:`) are no earnings: a profile serving both roles keeps them in one log.
 *
 * @module
 */
import { refundInvoiceId } from "../../protocol/job_refund.ts";
import type { PaymentEntry } from "./payment_log.ts";

/**
 * The signed amount an entry adds to a provider's earnings; 0 for an entry that is none of those
 * in the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { earningOf } from "./provider_earnings.ts";
 *
 * const paid = { ts: "2026-11-28T10:00:00.000Z", direction: "in", event: "fulfilled",
 *   jobId: "j1", invoiceId: "i1", amount: "300", asset: "USD", peer: "c".repeat(64),
 *   category: "job" } as const;
 * assert.equal(earningOf(paid), 300n);
 * assert.equal(earningOf({ ...paid, event: "reversed" }), -300n); // taken back
 * const refund = { ...paid, direction: "out", invoiceId: "refund:j1" } as const;
 * assert.equal(earningOf(refund), -300n); // its deposit paid back
 * assert.equal(earningOf({ ...refund, invoiceId: "i2" }), 0n); // a payment made as a requester
 * assert.equal(earningOf({ ...paid, category: "town-write" }), 0n);
 * ```
 */
export function earningOf(entry: PaymentEntry): bigint {
  if ((entry.category ?? "job") !== "job") return 0n; // categoryOf, without importing the log
  const refund = entry.invoiceId === refundInvoiceId(entry.jobId);
  if (entry.direction === "in") {
    if (refund) return 0n;
    if (entry.event === "fulfilled") return BigInt(entry.amount);
    return entry.event === "reversed" ? -BigInt(entry.amount) : 0n;
  }
  return refund && entry.event === "fulfilled" ? -BigInt(entry.amount) : 0n;
}

/**
 * What a log's lines say a provider earned, kept a day at a time as lines arrive and let go with
 * their day (`PaymentLog.earnedInLines`: an older turnpike's income and reversal lines, written
 * before they were income rows). Its refund lines are not counted: the first open of a provider's
 * store copies them into income rows (`ProviderIncomeRows.importRefundLines`), which count them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EarningsByDay } from "./provider_earnings.ts";
 *
 * const days = new EarningsByDay();
 * const paid = { ts: "2026-11-20T10:00:00.000Z", direction: "in", event: "fulfilled",
 *   jobId: "j1", invoiceId: "i1", amount: "30", asset: "USD", peer: "c".repeat(64) } as const;
 * days.add(paid);
 * days.add({ ...paid, ts: "2026-11-21T10:00:00.000Z", amount: "12" });
 * assert.equal(days.total(), 42n);
 * days.forgetBefore("2026-11-21");
 * assert.equal(days.total(), 12n);
 * ```
 */
export class EarningsByDay {
  #byDay = new Map<string, bigint>();

  /** Counts an entry (nothing when it is no earning, or a refund paid: a row counts it). */
  add(entry: PaymentEntry): void {
    const earned = entry.direction === "in" ? earningOf(entry) : 0n;
    if (earned === 0n) return;
    const day = entry.ts.slice(0, 10);
    this.#byDay.set(day, (this.#byDay.get(day) ?? 0n) + earned);
  }

  /** Lets go of the days before `day` (`YYYY-MM-DD`). */
  forgetBefore(day: string): void {
    for (const d of this.#byDay.keys()) if (d < day) this.#byDay.delete(d);
  }

  /** The days' sum. */
  total(): bigint {
    let sum = 0n;
    for (const amount of this.#byDay.values()) sum += amount;
    return sum;
  }
}

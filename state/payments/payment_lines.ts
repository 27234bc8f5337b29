/**
 * The payment log as payments (docs/AGENTS.md "What a job cost"): the log has one line per
 * event of a payment (`intent` when it is sent, then `fulfilled` or `rejected`), so summing its
 * lines counts a payment twice. {@linkcode foldPayments} gives one {@linkcode PaymentLine} per
 * payment instead, whose `amount` is what moved: the payment's amount once fulfilled, `0` when
 * it was rejected or is still in doubt (`requested` keeps the amount asked either way). Summed
 * over `direction: "out"`, the amounts are the books' spend (state/payments/payment_summary.ts).
 *
 * @module
 */
import type { InvoiceParts } from "../../protocol/bill_tag.ts";
import { categoryOf, type PaymentCategory, type PaymentEntry } from "./payment_log.ts";

/**
 * Where a payment stands: `paid` fulfilled (the money moved), `rejected` refused (none moved),
 * `in-doubt` sent with no outcome on the log (a crash between the two: never sent again).
 */
export type PaymentState = "paid" | "rejected" | "in-doubt";

/** One payment, folded from its log lines. */
export interface PaymentLine {
  /** ISO time of its last event (its outcome, or its intent while in doubt). */
  ts: string;
  /** ISO time it was sent, when the log has its `intent` line (town writes have none). */
  sentAt?: string;
  direction: "in" | "out";
  state: PaymentState;
  category: PaymentCategory;
  jobId: string;
  invoiceId: string;
  /** Base units that moved: the amount when `paid`, else "0". Sum these. */
  amount: string;
  /** Base units the payment was for, whatever its state. */
  requested: string;
  asset: string;
  /** Decimal places of `asset`, when known. */
  scale?: number;
  peer: string;
  /** The receipt, when paid. */
  fulfillment?: string;
  /** Why it was rejected. */
  reason?: string;
  /** A provider invoice's parts: its price's share, writes and blobs (protocol/bill_tag.ts). */
  parts?: InvoiceParts;
}

/**
 * One line per payment, in the order they were sent (an `intent` and its outcome are one
 * payment; an outcome with no intent before it, as a town write's, is one of its own). A payment
 * is an invoice to one peer: one event written to two towns is two.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const intent = { ts: "2026-11-02T10:00:00Z", direction: "out", event: "intent", jobId: "j1",
 *   invoiceId: "i1", amount: "1000", asset: "USD", peer: "p" } as const;
 * const paid = { ...intent, event: "fulfilled" as const };
 * const entries = [intent, paid, { ...intent, invoiceId: "i2" }];
 * const lines = foldPayments(entries); // i1 paid, i2 in doubt (sent, no outcome)
 * assert.deepEqual(lines.map((p) => p.amount), ["1000", "0"]);
 * const spent = lines
 *   .filter((p) => p.direction === "out")
 *   .reduce((sum, p) => sum + BigInt(p.amount), 0n);
 * assert.equal(spent, 1000n);
 * ```
 */
export function foldPayments(entries: readonly PaymentEntry[]): PaymentLine[] {
  const lines: PaymentLine[] = [];
  /** The line of each payment sent and not yet settled, by direction, invoice and peer. */
  const open = new Map<string, PaymentLine>();
  for (const e of entries) {
    const key = `${e.direction} ${e.invoiceId} ${e.peer}`;
    if (e.event === "intent") {
      const line = lineOf(e, "in-doubt");
      line.sentAt = e.ts;
      open.set(key, line);
      lines.push(line);
      continue;
    }
    const state: PaymentState = e.event === "fulfilled" ? "paid" : "rejected";
    const line = open.get(key);
    open.delete(key);
    if (line === undefined) {
      lines.push(lineOf(e, state));
      continue;
    }
    Object.assign(line, lineOf(e, state), { sentAt: line.sentAt });
  }
  return lines;
}

function lineOf(e: PaymentEntry, state: PaymentState): PaymentLine {
  return {
    ts: e.ts,
    direction: e.direction,
    state,
    category: categoryOf(e),
    jobId: e.jobId,
    invoiceId: e.invoiceId,
    amount: state === "paid" ? e.amount : "0",
    requested: e.amount,
    asset: e.asset,
    ...(e.scale === undefined ? {} : { scale: e.scale }),
    peer: e.peer,
    ...(e.fulfillment === undefined ? {} : { fulfillment: e.fulfillment }),
    ...(e.reason === undefined ? {} : { reason: e.reason }),
    ...(e.parts === undefined ? {} : { parts: e.parts }),
  };
}

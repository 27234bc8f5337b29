/**
 * A restarted provider opens again the invoices whose payment it recorded but never answered.
 * The payment desk writes a payment's job record first, then its income line, then answers
 * FULFILL (`roles/provider/payments/payment_desk.ts`): a record paid without its line in the
 * payment log was cut off by a crash before the FULFILL left, so its payer was refused (the
 * town answers `T01` for a peer that dropped) and no money moved. Such a record goes back to
 * awaiting its payment (a deposit: `paid` -> `invoiced`; a delivery: its `deliveryPaidAt`
 * dropped, `published` -> `delivered`) as the payment desk opens, before it takes a PREPARE
 * (`roles/provider/jobs/job_lifecycle.ts` `openDesk`), so the job's recovery
 * (`roles/provider/jobs/job_recovery.ts`) opens the same invoice again: a payment sent again pays
 * it once, and the job never runs unpaid (docs/PROTOCOL.md "A crash between a payment's two
 * records").
 *
 * @module
 */
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import type { PaymentEntry } from "../../../state/payments/payment_log.ts";
import { withoutReversed } from "../../../state/payments/income_reversals.ts";

/** The invoices (conditions, hex) the income log holds a `fulfilled` line of, not reversed. */
export function answeredInvoices(entries: readonly PaymentEntry[]): Set<string> {
  const answered = new Set<string>();
  for (const e of withoutReversed(entries)) {
    if (e.direction === "in" && e.event === "fulfilled") answered.add(e.invoiceId);
  }
  return answered;
}

/**
 * The record awaiting its payment again when it says paid and the income log has no line of
 * that payment; undefined when it agrees with the log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unansweredPayment } from "./unanswered_payments.ts";
 *
 * const invoice = "ilp:g.town.provider.e?amount=100&asset=USD&scale=6&condition=" +
 *   "ab".repeat(32) + "&expires=2030-01-01T00:00:00.000Z&job=" + "e".repeat(64);
 * const now = new Date().toISOString();
 * const paid = { // recorded paid, killed before its income line
 *   id: "e".repeat(64), kind: 5601, customer: "c".repeat(64), skill: "echo", price: "100",
 *   status: "paid" as const, requestToon: "", encrypted: false, attempts: 0, admittedAt: now,
 *   updatedAt: now, invoice, fulfillment: "cd".repeat(32), paidAt: now,
 * };
 * const again = unansweredPayment(paid, new Set())!;
 * assert.equal(again.status, "invoiced");
 * assert.equal(again.paidAt, undefined);
 * assert.equal(unansweredPayment(paid, new Set(["ab".repeat(32)])), undefined); // its line is there
 * ```
 */
export function unansweredPayment(
  record: ProviderJobRecord,
  answered: { has(invoiceId: string): boolean },
): ProviderJobRecord | undefined {
  const unanswered = (text: string | undefined) =>
    text !== undefined && !answered.has(parseIlpInvoice(text).condition);
  if (record.status === "paid" && record.paidAt !== undefined && unanswered(record.invoice)) {
    const { paidAt: _paidAt, ...rest } = record;
    return { ...rest, status: "invoiced" };
  }
  if (record.deliveryPaidAt !== undefined && unanswered(record.deliveryInvoice)) {
    const { deliveryPaidAt: _deliveryPaidAt, ...rest } = record;
    return { ...rest, status: record.status === "published" ? "delivered" : record.status };
  }
  return undefined;
}

/** Options for {@linkcode reopenUnanswered}. */
export interface ReopenUnansweredOptions {
  store: Pick<ProviderJobStore, "paidOnRecord" | "put" | "income">;
  /** The payment log's entries (loaded): an older turnpike's income lines. */
  entries: readonly PaymentEntry[];
  log: (line: string) => void;
}

/**
 * Writes each record paid without its income line back to awaiting its payment
 * ({@linkcode unansweredPayment}); returns how many.
 *
 * It needs a provider's store: no example that runs here:
 * tests/e2e/provider_unanswered_payment_test.ts.
 */
export async function reopenUnanswered(o: ReopenUnansweredOptions): Promise<number> {
  const lines = answeredInvoices(o.entries);
  // The rows hold every payment however old; the log's lines only 30 days of an older turnpike's.
  const answered = { has: (c: string) => lines.has(c) || o.store.income.stands(c) };
  let reopened = 0;
  for (const record of o.store.paidOnRecord()) {
    const again = unansweredPayment(record, answered);
    if (again === undefined) continue;
    await o.store.put(again);
    o.log(`recover ${record.id}: paid on record, never answered (no income line): ${again.status}`);
    reopened++;
  }
  return reopened;
}

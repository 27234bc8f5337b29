/**
 * A restarted requester brings its in-flight job records to the payment log
 * (`state/payments/payment_log.ts`): the log takes a payment's outcome first, the job's record
 * after, so a SIGKILL between the two leaves the log right and the record's payment `paying`.
 * Such a payment is written as the log says (`paid` with the log's amount and fulfillment, the
 * job `paying` -> `paid`; or `rejected` with the log's reason) before any event of the job is
 * handled: nothing is paid again and the provider is not asked, and the job carries on as a paid
 * job would (its result ends it `done`). A payment the log holds only the intent of stays in
 * doubt (docs/PROTOCOL.md "The receipt question").
 *
 * A record's payment can be `paying` only while its job is `paying` (the intent's record write
 * sets it, and a job never moves back), so only those records are read.
 *
 * @module
 */
import type { JobSummary, JobWriteOptions } from "../../state/jobs/job_repository.ts";
import type { JobPayment, RequesterJobRecord } from "../../state/jobs/job_record.ts";
import type { PaymentLog } from "../../state/payments/payment_log.ts";

/** The payment log as this file reads it. */
export type LoggedOutcomes = Pick<PaymentLog, "invoiceState" | "invoiceEntry">;

/**
 * The record with each `paying` payment whose outcome the log holds written as the log says
 * (the job `paid` when one of them was fulfilled and it was `paying`); undefined when the record
 * already agrees with the log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 * import { paymentsFromLog } from "./payments_from_log.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const log = await openPaymentLog({ stateDir });
 * const entry = { direction: "out", jobId: "j1", invoiceId: "c1", amount: "1000", asset: "USD",
 *   scale: 6, peer: "p".repeat(64), category: "job" } as const;
 * await log.append({ ...entry, ts: new Date().toISOString(), event: "intent" });
 * await log.append({ ...entry, ts: new Date().toISOString(), event: "fulfilled",
 *   fulfillment: "ab".repeat(32) });
 * // Killed before the record took the outcome: the record still says `paying`.
 * const record = { id: "j1", kind: 5601, skill: "echo", status: "paying" as const,
 *   createdAtMs: 0, updatedAtMs: 0, bid: 5000n, asset: "USD", payments: [{ invoiceId: "c1",
 *   amount: 1000n, asset: "USD", status: "paying" as const, startedAtMs: 0 }] };
 * const brought = paymentsFromLog(record, log)!;
 * assert.equal(brought.status, "paid");
 * assert.deepEqual(brought.payments.map((p) => [p.status, p.amount, p.fulfillment]), [
 *   ["paid", 1000n, "ab".repeat(32)],
 * ]);
 * assert.equal(paymentsFromLog(brought, log), undefined); // it agrees now
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function paymentsFromLog(
  record: RequesterJobRecord,
  log: LoggedOutcomes,
): RequesterJobRecord | undefined {
  const payments = record.payments.map((p) => paymentFromLog(p, log));
  if (payments.every((p, i) => p === record.payments[i])) return undefined;
  const fulfilled = payments.some((p, i) => p.status === "paid" && p !== record.payments[i]);
  const status = fulfilled && record.status === "paying" ? "paid" : record.status;
  return { ...record, status, payments };
}

/** A `paying` payment as the log says it ended; the same object when the log has no outcome. */
function paymentFromLog(p: JobPayment, log: LoggedOutcomes): JobPayment {
  if (p.status !== "paying") return p;
  const state = log.invoiceState(p.invoiceId);
  const entry = log.invoiceEntry(p.invoiceId);
  if (entry === undefined || (state !== "paid" && state !== "rejected")) return p;
  const finishedAtMs = Date.parse(entry.ts) || Date.now();
  if (state === "rejected") {
    return { ...p, status: "rejected", reason: entry.reason ?? "rejected", finishedAtMs };
  }
  return {
    ...p,
    status: "paid",
    amount: BigInt(entry.amount),
    ...(entry.fulfillment === undefined ? {} : { fulfillment: entry.fulfillment }),
    finishedAtMs,
  };
}

/** Options for {@linkcode bringPaymentsToLog}. */
export interface BringPaymentsOptions {
  /** The jobs on record in flight (their summaries: only `paying` ones are read). */
  inFlight: readonly Pick<JobSummary, "id" | "status">[];
  /** The payment log, loaded. */
  log: LoggedOutcomes;
  /** A job's record as it is on disk. */
  read: (id: string) => Promise<RequesterJobRecord | undefined>;
  /** Writes a change to a job's record (the repository's). */
  update: (
    id: string,
    change: (current: RequesterJobRecord) => RequesterJobRecord,
    options?: JobWriteOptions,
  ) => Promise<RequesterJobRecord>;
  /** Told of each record brought to the log, once written. */
  onBrought?: (record: RequesterJobRecord) => void;
}

/**
 * Brings each in-flight `paying` record to the payment log ({@linkcode paymentsFromLog}): one
 * record write for each that differs, none for the others; returns how many were written.
 *
 * It needs a requester's job repository: no example that runs here:
 * tests/e2e/requester_logged_payment_test.ts.
 */
export async function bringPaymentsToLog(o: BringPaymentsOptions): Promise<number> {
  let written = 0;
  for (const summary of o.inFlight) {
    if (summary.status !== "paying") continue;
    const record = await o.read(summary.id);
    const brought = record && paymentsFromLog(record, o.log);
    if (brought === undefined) continue;
    const invoices = brought.payments.filter((p, i) => p.status !== record!.payments[i].status);
    const now = await o.update(
      summary.id,
      (current) => paymentsFromLog(current, o.log) ?? current,
      {
        action: "payment-from-log",
        fields: { Invoice: invoices.map((p) => p.invoiceId).join(" ") },
      },
    );
    written++;
    o.onBrought?.(now);
  }
  return written;
}

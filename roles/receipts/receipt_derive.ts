/**
 * What an ended job's receipt says (protocol/job_receipt.ts), derived from the profile's own
 * books: the job's record (the requester's `jobs/<id>.toml`, the provider's
 * `provider.sqlite`), the payment log's lines for the job, the result's report and, on
 * the requester's side, its own `--verify` verdict (`agent-tasks/<id>.json`). The same derivation
 * writes a receipt (roles/receipts/receipt_catch_up.ts) and checks one (`receipts --check`).
 *
 * A job with no counterparty (cancelled or timed out before any provider answered) has no
 * receipt: there is no one to trust or distrust.
 *
 * @module
 */
import type { JobReceipt, ReceiptOutcome } from "../../protocol/job_receipt.ts";
import { type JobVerdict, verdictOf } from "../../protocol/job_verdict.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { DEPOSIT_OVER_BOUND } from "../../protocol/deposit_bound.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import {
  type ProviderJobRecord,
  TERMINAL_PROVIDER_JOB_STATUSES,
} from "../../state/jobs/provider_job_record.ts";
import { categoryOf, type PaymentEntry } from "../../state/payments/payment_log.ts";
import { readStoredResult } from "../../state/jobs/stored_result.ts";
import { readAgentTask } from "../../state/jobs/agent_task_record.ts";

/** The invoice id under which a provider gives a deposit back (roles/requester/job_refunds.ts). */
const refundInvoice = (jobId: string) => `refund:${jobId}`;

/** The payment log's lines, grouped by job. */
export type PaymentsByJob = ReadonlyMap<string, readonly PaymentEntry[]>;

/**
 * Groups payment log entries by job (the job-category lines only: a town's fees are not the
 * counterparty's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paymentsByJob } from "./receipt_derive.ts";
 * import type { PaymentEntry } from "../../state/payments/payment_log.ts";
 *
 * const paid = (jobId: string, amount: string, category: PaymentEntry["category"]) => ({
 *   ts: "2026-01-01T00:00:00.000Z", direction: "out", event: "fulfilled", jobId,
 *   invoiceId: `${jobId}-${amount}`, amount, asset: "USD", peer: "test.provider", category,
 * } satisfies PaymentEntry);
 * const byJob = paymentsByJob([paid("a", "100", "job"), paid("a", "7", "town-write"),
 *   paid("b", "50", undefined)]);
 * assert.deepEqual([...byJob].map(([job, lines]) => [job, lines.map((e) => e.amount)]),
 *   [["a", ["100"]], ["b", ["50"]]]);
 * ```
 */
export function paymentsByJob(entries: readonly PaymentEntry[]): Map<string, PaymentEntry[]> {
  const byJob = new Map<string, PaymentEntry[]>();
  for (const e of entries) {
    if (e.event !== "fulfilled" || categoryOf(e) !== "job") continue;
    const list = byJob.get(e.jobId);
    if (list === undefined) byJob.set(e.jobId, [e]);
    else list.push(e);
  }
  return byJob;
}

/** The parts of a report a receipt keeps. */
interface ReportFacts {
  verdict?: JobVerdict;
  preset?: string;
  protectedChanged?: number;
}

function reportFacts(content: string | undefined): ReportFacts {
  const text = content?.trim();
  if (!text || text[0] !== "{") return {};
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
  const agent = report.agent as { preset?: unknown } | undefined;
  const touched = report.protectedChanged;
  const omitted = Number(report.protectedChangedOmitted ?? 0);
  return dropUndefined({
    verdict: verdictOf(report),
    preset: typeof agent?.preset === "string" ? agent.preset : undefined,
    protectedChanged: Array.isArray(touched) ? touched.length + omitted : undefined,
  });
}

/** A requester's final status as a receipt's outcome. */
function requesterOutcome(record: RequesterJobRecord, facts: ReportFacts): ReceiptOutcome {
  switch (record.status) {
    case "done":
      return "done";
    case "timed-out":
      return "timed-out";
    case "cancelled":
      return "cancelled";
    case "payment-refused":
      return "refused";
    default:
      // An error after a result whose delivery the requester would not pay (a failed verdict
      // declined, or protected paths changed) is a declined job; any other error failed.
      if ((facts.protectedChanged ?? 0) > 0) return "declined";
      // A provider that refused, before any payment, a deposit over this profile's own bound
      // did what it was asked (docs/PROTOCOL.md "The deposit bound"): nothing about its work.
      if (refusedOverBound(record)) return "refused";
      return record.error?.startsWith("declined:") ? "declined" : "failed";
  }
}

function refusedOverBound(record: RequesterJobRecord): boolean {
  return record.error?.startsWith(`provider error: refused: ${DEPOSIT_OVER_BOUND}:`) === true &&
    record.payments.every((p) => p.status === "rejected");
}

/**
 * The requester's receipt of an ended job, or undefined (in flight, or no provider).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { requesterReceipt } from "./receipt_derive.ts";
 * import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
 * import type { PaymentEntry } from "../../state/payments/payment_log.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no stored result, no agent task
 * const record: RequesterJobRecord = { id: "a1", kind: 5000, skill: "echo", status: "done",
 *   createdAtMs: 1_000, updatedAtMs: 2_000, provider: getPublicKey(generateSecretKey()),
 *   payments: [] };
 * const deposit: PaymentEntry = { ts: "2026-01-01T00:00:00.000Z", direction: "out",
 *   event: "fulfilled", jobId: "a1", invoiceId: "inv-1", amount: "100", asset: "USD",
 *   peer: "test.provider" };
 * const receipt = await requesterReceipt(stateDir, record, new Map([["a1", [deposit]]]));
 * assert.deepEqual([receipt?.outcome, receipt?.deposit, receipt?.delivery], ["done", "100", "0"]);
 * assert.equal(await requesterReceipt(stateDir, { ...record, provider: undefined }, new Map()),
 *   undefined); // no provider answered: no receipt
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function requesterReceipt(
  stateDir: string,
  record: RequesterJobRecord,
  payments: PaymentsByJob,
): Promise<JobReceipt | undefined> {
  if (!TERMINAL_JOB_STATUSES.includes(record.status) || record.provider === undefined) {
    return undefined;
  }
  const stored = await readStoredResult(stateDir, record.id).catch(() => undefined);
  const facts = reportFacts(stored?.content);
  const delivery = stored === undefined ? undefined : deliveryCondition(stored.event.tags);
  const lines = payments.get(record.id) ?? [];
  let deposit = 0n, paidOnDelivery = 0n, refunded = 0n;
  for (const e of lines) {
    if (e.direction === "in" && e.invoiceId === refundInvoice(record.id)) {
      refunded += BigInt(e.amount);
    } else if (e.direction === "out" && e.invoiceId === delivery) {
      paidOnDelivery += BigInt(e.amount);
    } else if (e.direction === "out") deposit += BigInt(e.amount);
  }
  const local = await readAgentTask(stateDir, record.id);
  const seen = local?.verified?.verdict;
  const first = lines[0] ?? record.payments[0];
  return dropUndefined(
    {
      side: "requester",
      job: record.id,
      counterparty: record.provider,
      kind: record.kind,
      skill: record.skill,
      preset: facts.preset,
      outcome: requesterOutcome(record, facts),
      status: record.status,
      asset: first?.asset ?? record.asset,
      scale: first?.scale,
      deposit: String(deposit),
      delivery: String(paidOnDelivery),
      refunded: String(refunded),
      providerVerdict: facts.verdict,
      localVerify: seen === "pass" ? "passed" : seen === "fail" ? "failed" : undefined,
      protectedChanged: facts.protectedChanged,
      onTime: record.status !== "timed-out",
      endedAtMs: record.updatedAtMs,
    } satisfies JobReceipt,
  ) as JobReceipt;
}

/** The condition of the invoice a result carries (its delivery), if it carries one. */
function deliveryCondition(tags: readonly string[][]): string | undefined {
  const invoice = tags.find((t) => t[0] === "amount")?.[2];
  if (invoice === undefined) return undefined;
  try {
    return parseIlpInvoice(invoice).condition;
  } catch {
    return undefined;
  }
}

const PROVIDER_OUTCOMES: Readonly<Record<string, ReceiptOutcome>> = {
  published: "done",
  declined: "declined",
  error: "failed",
  cancelled: "cancelled",
};

/**
 * The provider's receipt of an ended job, or undefined while it is in flight.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { providerReceipt } from "./receipt_derive.ts";
 * import type { ProviderJobRecord } from "../../state/jobs/provider_job_record.ts";
 * import type { PaymentEntry } from "../../state/payments/payment_log.ts";
 *
 * const record: ProviderJobRecord = { id: "a1", kind: 5000, customer: getPublicKey(generateSecretKey()),
 *   skill: "echo", status: "published", price: "100", requestToon: "", encrypted: false,
 *   admittedAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:05.000Z", attempts: 1 };
 * const earned: PaymentEntry = { ts: "2026-01-01T00:00:01.000Z", direction: "in",
 *   event: "fulfilled", jobId: "a1", invoiceId: "inv-1", amount: "100", asset: "USD",
 *   peer: "test.requester", fulfillment: "ab".repeat(32) };
 * const receipt = providerReceipt(record, new Map([["a1", [earned]]]));
 * assert.deepEqual([receipt?.outcome, receipt?.deposit, receipt?.asset], ["done", "100", "USD"]);
 * assert.equal(providerReceipt({ ...record, status: "running" }, new Map()), undefined);
 * ```
 */
export function providerReceipt(
  record: ProviderJobRecord,
  payments: PaymentsByJob,
): JobReceipt | undefined {
  if (!TERMINAL_PROVIDER_JOB_STATUSES.includes(record.status)) return undefined;
  const facts = reportFacts(record.result);
  const lines = payments.get(record.id) ?? [];
  let deposit = 0n, paidOnDelivery = 0n, refunded = 0n;
  for (const e of lines) {
    if (e.direction === "out" && e.invoiceId === refundInvoice(record.id)) {
      refunded += BigInt(e.amount);
    } else if (e.direction === "in" && e.fulfillment === record.deliveryFulfillment) {
      paidOnDelivery += BigInt(e.amount);
    } else if (e.direction === "in") deposit += BigInt(e.amount);
  }
  return dropUndefined(
    {
      side: "provider",
      job: record.id,
      counterparty: record.customer,
      kind: record.kind,
      skill: record.skill,
      preset: facts.preset,
      outcome: PROVIDER_OUTCOMES[record.status],
      status: record.status,
      asset: lines[0]?.asset,
      scale: lines[0]?.scale,
      deposit: String(deposit),
      delivery: String(paidOnDelivery),
      refunded: String(refunded),
      providerVerdict: facts.verdict,
      protectedChanged: facts.protectedChanged,
      onTime: !(record.errorCode ?? "").includes("timeout"),
      endedAtMs: Date.parse(record.updatedAt),
    } satisfies JobReceipt,
  ) as JobReceipt;
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

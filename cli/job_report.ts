/**
 * The agent contract of the job commands (docs/AGENTS.md): with `--output json`, `job submit
 * --wait` and `job wait` print NDJSON on stdout, one object per line, each with a `type`:
 *
 * - `progress`: `{type, job, status, detail?, at}`, as the job moves (sent, payment-required,
 *   paying, paid, processing, feedback, result, done...);
 * - `result`: the last line when the job (or its chain) ended, whatever the status; see
 *   {@linkcode JobResultReport};
 * - `error`: `{type, code, message, context?, suggestion?, exit}` when the command itself
 *   failed (printed by `cli.ts`).
 *
 * Nothing else goes to stdout in json mode; human lines go to stderr.
 *
 * @module
 */
import { type JobVerdict, verdictOf } from "../protocol/job_verdict.ts";
import type { JobProgress } from "../roles/requester/requester_node.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import { blobOutputsOf } from "../protocol/job_blobs.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import type { AgentSpend } from "../protocol/agent_spend.ts";
import { categoryOf, type PaymentEntry } from "../state/payments/payment_log.ts";
import { summarizePayments } from "../state/payments/payment_summary.ts";
import { foldPayments } from "../state/payments/payment_lines.ts";
import type { InvoiceParts } from "../protocol/bill_tag.ts";
import { releasedDeliveryKey } from "../protocol/delivery_key.ts";
import { lazyImport } from "./lazy_import.ts";
import { deliveryProofFile } from "../state/jobs/delivery_proof_file.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import { agentTranscriptFile } from "../state/jobs/agent_task_record.ts";

/** A progress line of the NDJSON stream. */
export interface JobProgressLine {
  type: "progress";
  job: string;
  status: string;
  detail?: string;
  /** An agent-task's model spend so far (docs/AGENTS.md "A coding agent's task"). */
  spend?: AgentSpend;
  /** The job's provider (pubkey), once known. */
  provider?: string;
  /** A `paid` line's amount, base units: what that payment cost. */
  paid?: string;
  /** ISO time. */
  at: string;
}

/**
 * What one job cost, base units as decimal strings, per asset: every payment the payment log has
 * for it (docs/AGENTS.md "What a job cost").
 */
export interface JobCosts {
  asset: string;
  scale?: number;
  /** Paid to the provider (its invoices), net of a deposit it gave back (`refunded`). */
  provider: string;
  /** A deposit the provider gave back (docs/PROTOCOL.md "Refunds: the provider's own failures"). */
  refunded?: string;
  /** Paid to the town for this job's writes (request, cancel...) and its input blobs' uploads. */
  town: string;
  /** provider + town: what this job took from the wallet. */
  total: string;
  /**
   * Of `provider`, its invoices' parts (the price's share, the provider's writes and blobs),
   * when every invoice paid gave them (docs/AGENTS.md "What a job cost").
   */
  providerParts?: InvoiceParts;
}

/** A receipt: an invoice paid and the fulfillment that proves it. */
export interface JobReceipt {
  invoice: string;
  amount: string;
  asset: string;
  fulfillment: string;
}

/** The closing line of the NDJSON stream (and `job results --output json`). */
export interface JobResultReport {
  type: "result";
  job: string;
  kind: number;
  status: string;
  error?: string;
  provider?: string;
  /** Ids of the chain from the first job to this one (one id for a single job). */
  chain: string[];
  costs: JobCosts[];
  receipts: JobReceipt[];
  /** The skill's output parsed as JSON when it is JSON (ci-run, docker-build reports), else null. */
  report: unknown;
  /** The report's verdict (`protocol/job_verdict.ts`), null when it gives none. */
  verdict: JobVerdict | null;
  /** The skill's output as text (the result event's content, or its result blob). */
  content?: string;
  /** Blobs the result points at (logs, artifacts), each checkable by its sha256. */
  artifacts: { name: string; size: number; sha256: string; url: string }[];
  /** The result event's id, when there is one. */
  resultEvent?: string;
  /** The proof kept when the paid delivery broke its commitment (`job results --proof`). */
  proof?: string;
  /**
   * An agent task's transcript in the profile: an applied result's, or the one a job that
   * delivered nothing sent with its error (docs/AGENTS.md "A coding agent's task").
   */
  transcript?: string;
}

/**
 * A progress event as an NDJSON line object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./job_report.ts";
 *
 * const line = progressLine({ jobId: "ab".repeat(32), status: "sent" });
 * assert.equal(line.status, "sent");
 * ```
 */
export function progressLine(p: JobProgress, now: Date = new Date()): JobProgressLine {
  return {
    type: "progress",
    job: p.jobId,
    status: p.status,
    ...(p.detail ? { detail: p.detail } : {}),
    ...(p.spend ? { spend: p.spend } : {}),
    ...(p.provider ? { provider: p.provider } : {}),
    ...(p.paid ? { paid: p.paid } : {}),
    at: now.toISOString(),
  };
}

/** Options for {@linkcode buildResultReport}. */
export interface ResultReportOptions {
  stateDir: string;
  /** The chain's records, first to last (a single job: one record). */
  chain: readonly RequesterJobRecord[];
  /** The requester's payment log entries (for the town's share of the costs). */
  payments: readonly PaymentEntry[];
}

/**
 * The result report of a job (the last of a chain), with costs summed over the whole chain.
 *
 * It reads a job's stored result and payments, so it has no example that runs here:
 * tests/e2e/agent_walk_test.ts
 */
export async function buildResultReport(o: ResultReportOptions): Promise<JobResultReport> {
  const last = o.chain[o.chain.length - 1];
  const stored = await readStoredResult(o.stateDir, last.id);
  const artifacts = stored === undefined ? [] : blobOutputsOf(stored.event.tags).map((b) => ({
    name: b.name,
    size: b.size,
    sha256: b.sha256,
    url: b.url,
  }));
  const report = await withReleasedLogs(parseReport(stored?.content), last);
  return {
    type: "result",
    job: last.id,
    kind: last.kind,
    status: last.status,
    ...(last.error ? { error: last.error } : {}),
    ...(last.provider ? { provider: last.provider } : {}),
    chain: o.chain.map((r) => r.id),
    costs: costsOf(o.chain, o.payments),
    receipts: o.chain.flatMap((r) =>
      r.payments.filter((p) => p.status === "paid" && p.fulfillment).map((p) => ({
        invoice: p.invoiceId,
        amount: p.amount.toString(),
        asset: p.asset,
        fulfillment: p.fulfillment!,
      }))
    ),
    report,
    verdict: verdictOf(report) ?? null,
    ...(stored !== undefined && report === null ? { content: stored.content } : {}),
    artifacts,
    ...(stored ? { resultEvent: stored.event.id } : {}),
    ...(await exists(deliveryProofFile(o.stateDir, last.id))
      ? { proof: deliveryProofFile(o.stateDir, last.id) }
      : {}),
    ...(await exists(agentTranscriptFile(o.stateDir, last.id))
      ? { transcript: agentTranscriptFile(o.stateDir, last.id) }
      : {}),
  };
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}

/**
 * An agent-task's report with its logs opened when the delivery's payment released the key
 * (roles/agent_work/result_logs.ts); any other report, or one whose delivery is not paid,
 * unchanged: before paying, its requester reads no log.
 */
async function withReleasedLogs(report: unknown, record: RequesterJobRecord): Promise<unknown> {
  if (report === null || typeof report !== "object" || Array.isArray(report)) return report;
  const { sealedKey } = report as { sealedKey?: unknown };
  if (typeof sealedKey !== "string") return report;
  const key = await releasedDeliveryKey(
    sealedKey,
    record.payments.flatMap((p) => p.fulfillment ?? []),
  );
  if (key === undefined) return report;
  // Loaded only for a paid agent task's report: `job list` and `job status` stay off roles/.
  const { openResultLogs } = await lazyImport<typeof import("../roles/agent_work/result_logs.ts")>(
    new URL("../roles/agent_work/result_logs.ts", import.meta.url),
  );
  return await openResultLogs(
    report as Record<string, unknown>,
    hexToBytes(key) as Uint8Array<ArrayBuffer>,
  ).catch(() => report);
}

/**
 * A skill's output parsed as its report when it is a JSON object or array; null otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseReport } from "./job_report.ts";
 *
 * assert.deepEqual(parseReport('{"status":"failed"}'), { status: "failed" });
 * assert.equal(parseReport("hello"), null);
 * ```
 */
export function parseReport(content: string | undefined): unknown {
  const text = content?.trim();
  if (!text || (text[0] !== "{" && text[0] !== "[")) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The strings every payment {@linkcode costsOf} counts for `chain` names (its jobs' ids, its
 * inputs' upload invoices): what a command reads of the payment log (`readPaymentEntries`'
 * `mentioning`, state/payments/payment_log_reader.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paymentKeysOf } from "./job_report.ts";
 *
 * const job = { id: "a1", kind: 5000, skill: "echo", status: "done" as const, createdAtMs: 1,
 *   updatedAtMs: 2, payments: [], uploadInvoices: ["u1"] };
 * assert.deepEqual(paymentKeysOf([job]), ["a1", "u1"]);
 * ```
 */
export function paymentKeysOf(chain: readonly RequesterJobRecord[]): string[] {
  return [...chain.map((r) => r.id), ...chain.flatMap((r) => r.uploadInvoices ?? [])];
}

/**
 * A chain's costs per asset from the payment log: the provider's invoices, the town's writes
 * (the request, a cancel's kind 5) and the inputs' uploads its records name.
 *
 * It sums a job's payments from the payment log, so it has no example that runs here:
 * tests/e2e/agent_walk_test.ts
 */
export function costsOf(
  chain: readonly RequesterJobRecord[],
  payments: readonly PaymentEntry[],
): JobCosts[] {
  const ids = new Set(chain.map((r) => r.id));
  // Its inputs' uploads were paid before the job had an id: its record names those payments.
  const uploads = new Set(chain.flatMap((r) => r.uploadInvoices ?? []));
  const mine = payments.filter((e) =>
    ids.has(e.jobId) || (categoryOf(e) === "town-blob" && uploads.has(e.invoiceId))
  );
  const invoices = foldPayments(mine).filter((p) =>
    p.direction === "out" && p.state === "paid" && p.category === "job"
  );
  // A requester earns on a job only its refund: the costs net it.
  return summarizePayments(mine).map((b) => {
    const paid = invoices.filter((p) => p.asset === b.asset);
    const parts = paid.length > 0 && paid.every((p) => p.parts !== undefined)
      ? (["price", "writes", "blobs"] as const).map((k) =>
        paid.reduce((n, p) => n + BigInt(p.parts![k]), 0n)
      )
      : undefined;
    return {
      asset: b.asset,
      ...(b.scale === undefined ? {} : { scale: b.scale }),
      provider: (b.spent.byCategory.job - b.earned.byCategory.job).toString(),
      ...(b.earned.byCategory.job > 0n ? { refunded: b.earned.byCategory.job.toString() } : {}),
      town: (b.spent.byCategory["town-write"] + b.spent.byCategory["town-blob"]).toString(),
      total: (b.spent.total - b.earned.byCategory.job).toString(),
      ...(parts === undefined ? {} : {
        providerParts: {
          price: String(parts[0]),
          writes: String(parts[1]),
          blobs: String(parts[2]),
        },
      }),
    };
  });
}

/**
 * The requester's job record: the schema of `<state dir>/jobs/<id>.toml`, its validation and its
 * TOML form (smol-toml). `stages/job_store.ts` (`DirectoryJobStore`) reads the same files and
 * uses `id`, `skill` and `status`; every other key is ignored there.
 *
 * ```toml
 * id = "<64 hex: the job request's event id>"
 * kind = 5100
 * skill = "summarize"                 # callback skill the results go to
 * status = "sent"
 * created_at_ms = 1762300000000
 * updated_at_ms = 1762300000500
 * bid = "5000"                        # base units, a decimal string (u64 safe)
 * asset = "M2M"
 * provider = "<64 hex pubkey>"
 * last_seen_created_at = 1762300000   # newest feedback/result seen (unix s), to resubscribe
 *
 * upload_invoices = ["blob-..."]     # the payment log's blob payments made for its inputs
 *
 * [bead]                              # the Gas Town bead the job works, when it has one
 * id = "gt-abc12"
 * title = "Fix add"
 * rig = "myrig"                       # the rig and polecat that sent it (GT_RIG, GT_POLECAT)
 * polecat = "p1"
 *
 * [chain]
 * prev = "<64 hex of the job whose result fed this one>"
 * next = "<spec of the job to post with this job's result>"
 *
 * [[payments]]
 * invoice_id = "..."
 * amount = "4000"
 * asset = "M2M"
 * scale = 6                           # the asset's decimal places (4000 = 0.004 M2M)
 * status = "paid"                     # paying | paid | rejected
 * destination = "g.town.prov.ab12"    # the ILP address paid: its receipt is asked there
 * fulfillment = "<64 hex>"            # the receipt
 * started_at_ms = 1762300000100
 * finished_at_ms = 1762300000200
 * ```
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { isValidIlpAddress } from "../../protocol/ilp_packet.ts";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";

/** Where a job stands. `paying` = an invoice payment is in flight (see `state/payments/payment_log.ts`). */
export const JOB_STATUSES = [
  "pending-send",
  "sent",
  "processing",
  "payment-required",
  "paying",
  "paid",
  "done",
  "error",
  "timed-out",
  "cancelled",
  "payment-refused",
] as const;

/** A job status. */
export type JobStatus = typeof JOB_STATUSES[number];

/** The statuses of a job still in flight, in the order a job moves through them. */
export const IN_FLIGHT_JOB_STATUSES: readonly JobStatus[] = JOB_STATUSES.slice(0, 6);

/** Statuses after which nothing more happens to a job. */
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = JOB_STATUSES.slice(6);

/** State of one invoice payment. */
export type JobPaymentStatus = "paying" | "paid" | "rejected";

/** One invoice payment of a job. */
export interface JobPayment {
  invoiceId: string;
  /** Base units. */
  amount: bigint;
  asset: string;
  /** Decimal places of `asset`; absent in records written before it was kept. */
  scale?: number;
  status: JobPaymentStatus;
  /**
   * The invoice's ILP address: a payment in doubt asks its receipt there (docs/PROTOCOL.md "The
   * receipt question"); absent in records written before it was kept.
   */
  destination?: string;
  /** Hex fulfillment: the receipt, once paid. */
  fulfillment?: string;
  startedAtMs: number;
  finishedAtMs?: number;
  /** Reject code/message when rejected. */
  reason?: string;
}

/**
 * A deposit given back by the provider (docs/PROTOCOL.md "Refunds: the provider's own
 * failures"): on the payment log as a payment `in`, keyed `refund:<job id>`.
 */
export interface JobRefund {
  /** Base units. */
  amount: bigint;
  asset: string;
  /** Hex fulfillment of the refund's PREPARE. */
  fulfillment: string;
  atMs: number;
}

/** Links of a job chain (A -> result A -> B). */
export interface JobChain {
  /** Id of the job whose result this job was posted with. */
  prev?: string;
  /** Spec of the job to post with this job's result (opaque to the state layer). */
  next?: string;
}

/**
 * The bead a job works (an agent-task sent with `--bead`, docs/AGENTS.md "A coding agent's
 * task"): its id and title as `bd show` gave them, and the rig and polecat that sent it, so that
 * `job list` and `job status` tell a Mayor which polecat each job is.
 */
export interface JobBead {
  /** The bead's id (`gt-abc12`). */
  id: string;
  title?: string;
  /** The rig of the polecat that sent it (its `GT_RIG`). */
  rig?: string;
  /** The polecat that sent it (its `GT_POLECAT`). */
  polecat?: string;
}

/**
 * The callback skill name meaning "no callback" (a record's `skill` when the job has none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const callback = (skill: string) => skill === NO_CALLBACK ? undefined : skill;
 * assert.equal(callback("none"), undefined);
 * ```
 */
export const NO_CALLBACK = "none";

/** A requester job as stored in `jobs/<id>.toml`. */
export interface RequesterJobRecord {
  /** The job request's event id (64 lowercase hex). */
  id: string;
  /** Request kind, 5000-5999. */
  kind: number;
  /** Callback skill for results and feedback. */
  skill: string;
  status: JobStatus;
  createdAtMs: number;
  updatedAtMs: number;
  /** Bid in base units. */
  bid?: bigint;
  asset?: string;
  /** Provider pubkey (64 lowercase hex), once known. */
  provider?: string;
  /** Newest `created_at` (unix s) of feedback/results seen, for resubscription. */
  lastSeenCreatedAt?: number;
  /** Last error message (status `error`, `payment-refused`...). */
  error?: string;
  chain?: JobChain;
  /** The bead the job works, when it was sent with one. */
  bead?: JobBead;
  payments: JobPayment[];
  /**
   * The invoice ids of the blob payments (`town-blob` on the payment log) made to upload this
   * job's inputs: its costs count them (cli/job_report.ts).
   */
  uploadInvoices?: string[];
  /** The deposit the provider gave back, once it did. */
  refund?: JobRefund;
}

/** A job file's text is not a valid job record. */
export class JobRecordFormatError extends StateError {
  override name = "JobRecordFormatError";
}

/** Largest job file accepted (same bound as `stages/job_store.ts`). */
export const MAX_JOB_RECORD_BYTES = 64 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const SKILL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UINT = /^(0|[1-9][0-9]{0,38})$/;
const SHORT_TEXT = 1024;

/**
 * Renders a job record as TOML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = formatJobRecord({ id: "ab".repeat(32), kind: 5100, skill: "echo",
 *   status: "sent", createdAtMs: 1, updatedAtMs: 1, payments: [] });
 * assert.match(text, /^status = "sent"$/m);
 * ```
 */
export function formatJobRecord(record: RequesterJobRecord): string {
  validateJobRecord(record);
  const doc: Record<string, unknown> = {
    id: record.id,
    kind: record.kind,
    skill: record.skill,
    status: record.status,
    created_at_ms: record.createdAtMs,
    updated_at_ms: record.updatedAtMs,
  };
  if (record.bid !== undefined) doc.bid = record.bid.toString();
  if (record.asset !== undefined) doc.asset = record.asset;
  if (record.provider !== undefined) doc.provider = record.provider;
  if (record.lastSeenCreatedAt !== undefined) doc.last_seen_created_at = record.lastSeenCreatedAt;
  if (record.error !== undefined) doc.error = record.error;
  if (record.uploadInvoices?.length) doc.upload_invoices = [...record.uploadInvoices];
  if (record.bead !== undefined) doc.bead = dropUndefined({ ...record.bead });
  if (record.chain && (record.chain.prev !== undefined || record.chain.next !== undefined)) {
    doc.chain = dropUndefined({ prev: record.chain.prev, next: record.chain.next });
  }
  if (record.payments.length > 0) {
    doc.payments = record.payments.map((p) =>
      dropUndefined({
        invoice_id: p.invoiceId,
        amount: p.amount.toString(),
        asset: p.asset,
        scale: p.scale,
        status: p.status,
        destination: p.destination,
        fulfillment: p.fulfillment,
        started_at_ms: p.startedAtMs,
        finished_at_ms: p.finishedAtMs,
        reason: p.reason,
      })
    );
  }
  if (record.refund !== undefined) {
    const { amount, asset, fulfillment, atMs } = record.refund;
    doc.refund = { amount: amount.toString(), asset, fulfillment, at_ms: atMs };
  }
  return stringifyToml(doc) + "\n";
}

/** What routing a job's results needs from its record: the callback skill. */
export interface JobRoute {
  /** The record's `id`, when it has one. */
  id?: string;
  /** The callback skill (`skill`, or `callback_skill` in hand-written files). */
  skill: string;
  status?: string;
  /** The record's other keys, as parsed. */
  extra: Record<string, unknown>;
}

/** A job file's TOML table, size-checked: the one reader both parsers below start from. */
function jobToml(text: string): Record<string, unknown> {
  if (text.length > MAX_JOB_RECORD_BYTES) {
    throw new JobRecordFormatError(`job record is over ${MAX_JOB_RECORD_BYTES} bytes`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new JobRecordFormatError(`bad TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  return doc;
}

/**
 * Reads only the routing of a job record: the same file as {@linkcode parseJobRecord}, but
 * any record with a skill will do (hand-written fixtures for the pipeline stages have nothing
 * else).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseJobRoute('skill = "echo"').skill, "echo");
 * ```
 * @throws {JobRecordFormatError} for bad TOML, an oversized record or no skill.
 */
export function parseJobRoute(text: string): JobRoute {
  const doc = jobToml(text);
  const { id, skill, callback_skill, status, ...extra } = doc;
  const name = skill ?? callback_skill;
  if (typeof name !== "string") throw new JobRecordFormatError(`no "skill"`);
  return {
    ...(typeof id === "string" ? { id } : {}),
    skill: name,
    ...(typeof status === "string" ? { status } : {}),
    extra,
  };
}

/**
 * Parses and validates a job file's text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * assert.deepEqual(parseJobRecord(formatJobRecord(record)), record);
 * assert.throws(() => parseJobRecord('id = "ab"'), JobRecordFormatError);
 * ```
 * @throws {JobRecordFormatError} bad TOML, a missing or ill-typed key, or over 64 KiB.
 */
export function parseJobRecord(text: string): RequesterJobRecord {
  const doc = jobToml(text);
  const record: RequesterJobRecord = {
    id: str(doc, "id"),
    kind: int(doc, "kind"),
    skill: str(doc, "skill"),
    status: str(doc, "status") as JobStatus,
    createdAtMs: int(doc, "created_at_ms"),
    updatedAtMs: int(doc, "updated_at_ms"),
    payments: [],
  };
  if (doc.bid !== undefined) record.bid = amount(doc, "bid");
  if (doc.asset !== undefined) record.asset = str(doc, "asset");
  if (doc.provider !== undefined) record.provider = str(doc, "provider");
  if (doc.last_seen_created_at !== undefined) {
    record.lastSeenCreatedAt = int(doc, "last_seen_created_at");
  }
  if (doc.error !== undefined) record.error = str(doc, "error");
  if (doc.chain !== undefined) {
    const chain = table(doc.chain, "chain");
    record.chain = dropUndefined({
      prev: chain.prev === undefined ? undefined : str(chain, "prev"),
      next: chain.next === undefined ? undefined : str(chain, "next"),
    });
  }
  if (doc.bead !== undefined) {
    const bead = table(doc.bead, "bead");
    const optional = (key: string) => bead[key] === undefined ? undefined : str(bead, key);
    record.bead = dropUndefined({
      id: str(bead, "id"),
      title: optional("title"),
      rig: optional("rig"),
      polecat: optional("polecat"),
    });
  }
  if (doc.upload_invoices !== undefined) {
    const invoices = doc.upload_invoices;
    if (!Array.isArray(invoices) || !invoices.every((i) => typeof i === "string")) {
      throw new JobRecordFormatError(`"upload_invoices" is not a list of strings`);
    }
    record.uploadInvoices = invoices;
  }
  if (doc.payments !== undefined) {
    if (!Array.isArray(doc.payments)) throw new JobRecordFormatError(`"payments" is not a list`);
    record.payments = doc.payments.map((p, i) => parsePayment(table(p, `payments[${i}]`)));
  }
  if (doc.refund !== undefined) {
    const t = table(doc.refund, "refund");
    const [asset, fulfillment] = [str(t, "asset"), str(t, "fulfillment")];
    record.refund = { amount: amount(t, "amount"), asset, fulfillment, atMs: int(t, "at_ms") };
  }
  validateJobRecord(record);
  return record;
}

/**
 * Checks a record's invariants (ids, kind range, status, amounts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * validateJobRecord(record);
 * assert.throws(() => validateJobRecord({ ...record, kind: 1 }), JobRecordFormatError);
 * ```
 */
export function validateJobRecord(r: RequesterJobRecord): void {
  const fail = (msg: string): never => {
    throw new JobRecordFormatError(msg);
  };
  if (!HEX64.test(r.id)) fail(`"id" is not 64 lowercase hex`);
  if (!Number.isInteger(r.kind) || r.kind < 5000 || r.kind > 5999) fail(`"kind" not 5000-5999`);
  if (!SKILL.test(r.skill)) fail(`"skill" is not a valid skill name`);
  if (!(JOB_STATUSES as readonly string[]).includes(r.status)) {
    fail(`"status" ${JSON.stringify(r.status)} is not a job status`);
  }
  if (r.bid !== undefined && r.bid < 0n) fail(`"bid" is negative`);
  if (r.provider !== undefined && !HEX64.test(r.provider)) fail(`"provider" is not 64 hex`);
  if (r.chain?.prev !== undefined && !HEX64.test(r.chain.prev)) fail(`"chain.prev" is not 64 hex`);
  const bead = r.bead;
  if (bead !== undefined && (bead.id.length === 0 || bead.id.length > SHORT_TEXT)) {
    fail(`bad "bead.id"`);
  }
  for (const text of [bead?.title, bead?.rig, bead?.polecat]) {
    if (text !== undefined && text.length > SHORT_TEXT) fail("a bead's field is too long");
  }
  for (const text of [r.asset, r.error, r.chain?.next]) {
    if (text !== undefined && text.length > SHORT_TEXT * 8) fail("a text field is too long");
  }
  for (const invoice of r.uploadInvoices ?? []) {
    if (invoice.length === 0 || invoice.length > SHORT_TEXT) fail(`bad "upload_invoices"`);
  }
  if (r.refund !== undefined && !HEX64.test(r.refund.fulfillment)) fail(`bad refund "fulfillment"`);
  for (const p of r.payments) {
    if (p.invoiceId.length === 0 || p.invoiceId.length > SHORT_TEXT) fail(`bad "invoice_id"`);
    if (p.amount < 0n) fail(`payment amount is negative`);
    if (!["paying", "paid", "rejected"].includes(p.status)) fail(`bad payment status`);
    if (p.fulfillment !== undefined && !HEX64.test(p.fulfillment)) fail(`bad "fulfillment"`);
    if (p.destination !== undefined && !isValidIlpAddress(p.destination)) fail(`bad "destination"`);
    if (p.scale !== undefined && (p.scale < 0 || p.scale > 255)) fail(`bad payment "scale"`);
  }
}

function parsePayment(t: Record<string, unknown>): JobPayment {
  return dropUndefined({
    invoiceId: str(t, "invoice_id"),
    amount: amount(t, "amount"),
    asset: str(t, "asset"),
    scale: t.scale === undefined ? undefined : int(t, "scale"),
    status: str(t, "status") as JobPaymentStatus,
    destination: t.destination === undefined ? undefined : str(t, "destination"),
    fulfillment: t.fulfillment === undefined ? undefined : str(t, "fulfillment"),
    startedAtMs: int(t, "started_at_ms"),
    finishedAtMs: t.finished_at_ms === undefined ? undefined : int(t, "finished_at_ms"),
    reason: t.reason === undefined ? undefined : str(t, "reason"),
  });
}

function str(doc: Record<string, unknown>, key: string): string {
  const v = doc[key];
  if (typeof v !== "string") throw new JobRecordFormatError(`"${key}" is missing or not a string`);
  return v;
}

function int(doc: Record<string, unknown>, key: string): number {
  const v = doc[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new JobRecordFormatError(`"${key}" is missing or not a non-negative integer`);
  }
  return v;
}

function amount(doc: Record<string, unknown>, key: string): bigint {
  const v = doc[key];
  if (typeof v !== "string" || !UINT.test(v)) {
    throw new JobRecordFormatError(`"${key}" is not a decimal amount string`);
  }
  return BigInt(v);
}

function table(v: unknown, key: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new JobRecordFormatError(`"${key}" is not a table`);
  }
  return v as Record<string, unknown>;
}

function dropUndefined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) {
    if (obj[key] === undefined) delete obj[key];
  }
  return obj;
}

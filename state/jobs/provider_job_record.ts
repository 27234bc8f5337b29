/**
 * The provider's record of one admitted job: `<state dir>/provider-jobs/<request id>.toml`.
 *
 * Lifecycle: `admitted -> invoiced -> paid -> running -> result-computed -> published`,
 * or `error` / `cancelled` from any non-terminal state. Free skills go `admitted -> paid`.
 * A job paid on delivery goes `result-computed -> delivered` (the result published with its
 * delivery invoice) `-> published` once that is paid, or `-> declined` when it never is.
 * The record is written (atomically) BEFORE the step it describes has visible effects, so a
 * restarted provider knows exactly what happened (see `roles/provider/jobs/job_recovery.ts`).
 *
 * The file holds the invoice's fulfillment (the preimage that is the payment receipt): it is
 * written with mode 0600 and the state dir is hidden from skills.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";

/** Every state of a provider job. */
export const PROVIDER_JOB_STATUSES = [
  "admitted",
  "invoiced",
  "paid",
  "running",
  "result-computed",
  "delivered",
  "published",
  "declined",
  "error",
  "cancelled",
] as const;

/** A provider job's state. */
export type ProviderJobStatus = typeof PROVIDER_JOB_STATUSES[number];

/** States after which nothing more happens (except publishing a pending error notice). */
export const TERMINAL_PROVIDER_JOB_STATUSES: readonly ProviderJobStatus[] = [
  "published",
  "declined",
  "error",
  "cancelled",
];

/** One admitted job, as persisted. */
export interface ProviderJobRecord {
  /** The request event id (64 hex). */
  id: string;
  kind: number;
  /** The requester's pubkey. */
  customer: string;
  /** Name of the skill that serves it. */
  skill: string;
  status: ProviderJobStatus;
  /** Price, base units (decimal string; "0" = free). */
  price: string;
  /** The request event as TOON (the skill's input; the result quotes it). */
  requestToon: string;
  /** The request's params were NIP-44/NIP-04 encrypted: the result is encrypted too. */
  encrypted: boolean;
  /** ISO 8601. */
  admittedAt: string;
  updatedAt: string;
  /** The invoice string published in the payment-required feedback. */
  invoice?: string;
  /** Hex preimage of the invoice's condition (secret until the requester pays). */
  fulfillment?: string;
  paidAt?: string;
  /**
   * Paid on delivery (docs/PROTOCOL.md "Paid on delivery"): the share of the price invoiced
   * with the result, base units; `price` is then the deposit paid up front.
   */
  deliveryPrice?: string;
  /** Of `price`, the writes the deposit covers (docs/PROTOCOL.md "Who pays for what"). */
  depositWrites?: string;
  /**
   * Paid on delivery: the most the delivery may add for the writes the job made (what the
   * quote reserved); the delivery bills only the writes made.
   */
  writesReserved?: string;
  /** Of the billed `deliveryPrice`, the events written after the deposit (base units). */
  deliveryWrites?: string;
  /** Of the billed `deliveryPrice`, the result's blobs as stored (base units). */
  deliveryBlobs?: string;
  /** The invoice the result carries (its condition the SHA-256 of `deliveryFulfillment`). */
  deliveryInvoice?: string;
  /**
   * Hex preimage of the delivery invoice's condition: the FULFILL that pays the delivery
   * releases it, and with it the result's key (secret until paid).
   */
  deliveryFulfillment?: string;
  deliveryPaidAt?: string;
  /** Result content (plain text, before encryption) once computed. */
  result?: string;
  /**
   * Output files kept for the result (`<state dir>/results/<id>/<name>`, published as blobs
   * with it; `result` is the stdout when it was too large to go inline).
   */
  resultFiles?: string[];
  /** Why the job ended in `error` / `cancelled`. */
  error?: string;
  /**
   * A short code of why (`agent-failed`, `bad-input`...): what an encrypted job's public `error`
   * feedback says, its `error` going encrypted to the requester (docs/PROTOCOL.md "Errors of an
   * encrypted job").
   */
  errorCode?: string;
  /** For `error`/`cancelled`: whether the error feedback went out (republished on restart). */
  notified?: boolean;
  /** Id of the published result event. */
  resultEventId?: string;
  /** Times the skill was started (a restart may re-run an idempotent skill). */
  attempts: number;
}

/** A record file that is not a valid provider job record. */
export class ProviderJobRecordError extends StateError {
  override name = "ProviderJobRecordError";
}

/** Largest record file read (the TOON request is capped at 1 MiB, the result at 1 MiB). */
export const MAX_PROVIDER_JOB_RECORD_BYTES = 3 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const AMOUNT = /^[0-9]{1,20}$/;
const OPTIONAL_STRINGS = [
  "invoice",
  "fulfillment",
  "paidAt",
  "result",
  "error",
  "errorCode",
  "resultEventId",
  "deliveryPrice",
  "depositWrites",
  "writesReserved",
  "deliveryWrites",
  "deliveryBlobs",
  "deliveryInvoice",
  "deliveryFulfillment",
  "deliveryPaidAt",
] as const;

/**
 * True when the job is in a terminal state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(isTerminalProviderJob({ status: "published" }), true);
 * assert.equal(isTerminalProviderJob({ status: "paid" }), false);
 * ```
 */
export function isTerminalProviderJob(record: Pick<ProviderJobRecord, "status">): boolean {
  return TERMINAL_PROVIDER_JOB_STATUSES.includes(record.status);
}

/**
 * Writes a record as TOML (validating it first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = {
 *   id: "ab".repeat(32), kind: 5100, customer: "cd".repeat(32), skill: "echo",
 *   status: "admitted" as const, price: "1000", requestToon: "", encrypted: false,
 *   admittedAt: "2026-11-25T12:00:00.000Z", updatedAt: "2026-11-25T12:00:00.000Z", attempts: 0,
 * };
 * const text = formatProviderJobRecord(record);
 * assert.deepEqual(parseProviderJobRecord(text), record);
 * ```
 */
export function formatProviderJobRecord(record: ProviderJobRecord): string {
  validateProviderJobRecord(record);
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) doc[key] = value;
  return stringifyToml(doc) + "\n";
}

/**
 * Parses and validates a record file. Throws {@linkcode ProviderJobRecordError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = {
 *   id: "ab".repeat(32), kind: 5100, customer: "cd".repeat(32), skill: "echo",
 *   status: "admitted" as const, price: "1000", requestToon: "", encrypted: false,
 *   admittedAt: "2026-11-25T12:00:00.000Z", updatedAt: "2026-11-25T12:00:00.000Z", attempts: 0,
 * };
 * const path = await Deno.makeTempFile({ suffix: ".toml" });
 * await Deno.writeTextFile(path, formatProviderJobRecord(record));
 * assert.equal(parseProviderJobRecord(await Deno.readTextFile(path)).status, "admitted");
 * assert.throws(() => parseProviderJobRecord('id = "ab"'), ProviderJobRecordError);
 * await Deno.remove(path);
 * ```
 */
export function parseProviderJobRecord(text: string): ProviderJobRecord {
  if (text.length > MAX_PROVIDER_JOB_RECORD_BYTES) {
    throw new ProviderJobRecordError(`record over ${MAX_PROVIDER_JOB_RECORD_BYTES} bytes`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ProviderJobRecordError(`not TOML: ${(err as Error).message}`);
  }
  const str = (key: string): string => {
    const v = doc[key];
    if (typeof v !== "string") throw new ProviderJobRecordError(`${key} is not a string`);
    return v;
  };
  const record: ProviderJobRecord = {
    id: str("id"),
    kind: Number(doc.kind),
    customer: str("customer"),
    skill: str("skill"),
    status: str("status") as ProviderJobStatus,
    price: str("price"),
    requestToon: str("requestToon"),
    encrypted: doc.encrypted === true,
    admittedAt: str("admittedAt"),
    updatedAt: str("updatedAt"),
    attempts: Number(doc.attempts ?? 0),
  };
  for (const key of OPTIONAL_STRINGS) {
    if (doc[key] !== undefined) record[key] = str(key);
  }
  if (doc.notified !== undefined) record.notified = doc.notified === true;
  if (doc.resultFiles !== undefined) {
    if (!Array.isArray(doc.resultFiles) || !doc.resultFiles.every((f) => typeof f === "string")) {
      throw new ProviderJobRecordError("resultFiles is not a list of names");
    }
    record.resultFiles = doc.resultFiles as string[];
  }
  validateProviderJobRecord(record);
  return record;
}

/**
 * Checks a record's fields. Throws {@linkcode ProviderJobRecordError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = {
 *   id: "ab".repeat(32), kind: 5100, customer: "cd".repeat(32), skill: "echo",
 *   status: "admitted" as const, price: "1000", requestToon: "", encrypted: false,
 *   admittedAt: "2026-11-25T12:00:00.000Z", updatedAt: "2026-11-25T12:00:00.000Z", attempts: 0,
 * };
 * validateProviderJobRecord(record);
 * const negative = { ...record, price: "-1" };
 * assert.throws(() => validateProviderJobRecord(negative), ProviderJobRecordError);
 * ```
 */
export function validateProviderJobRecord(r: ProviderJobRecord): void {
  const fail = (msg: string): never => {
    throw new ProviderJobRecordError(msg);
  };
  if (!HEX64.test(r.id)) fail(`id ${JSON.stringify(r.id)} is not 64 hex`);
  if (!HEX64.test(r.customer)) fail("customer is not a 64-hex pubkey");
  if (!Number.isInteger(r.kind) || r.kind < 5000 || r.kind > 5999) fail(`kind ${r.kind}`);
  if (!PROVIDER_JOB_STATUSES.includes(r.status)) fail(`status ${JSON.stringify(r.status)}`);
  if (!AMOUNT.test(r.price)) fail(`price ${JSON.stringify(r.price)}`);
  if (!Number.isInteger(r.attempts) || r.attempts < 0) fail(`attempts ${r.attempts}`);
  if (r.fulfillment !== undefined && !HEX64.test(r.fulfillment)) fail("fulfillment is not 64 hex");
  if (r.status === "invoiced" && (r.invoice === undefined || r.fulfillment === undefined)) {
    fail("an invoiced job needs its invoice and fulfillment");
  }
  if (r.deliveryPrice !== undefined && !AMOUNT.test(r.deliveryPrice)) {
    fail(`deliveryPrice ${JSON.stringify(r.deliveryPrice)}`);
  }
  if (r.deliveryFulfillment !== undefined && !HEX64.test(r.deliveryFulfillment)) {
    fail("deliveryFulfillment is not 64 hex");
  }
  if (
    r.status === "delivered" &&
    (r.deliveryInvoice === undefined || r.deliveryFulfillment === undefined)
  ) {
    fail("a delivered job needs its delivery invoice and fulfillment");
  }
  if (r.status === "result-computed" && r.result === undefined) {
    fail("a computed job needs its result");
  }
  for (const name of r.resultFiles ?? []) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
      fail(`result file ${JSON.stringify(name)}`);
    }
  }
}

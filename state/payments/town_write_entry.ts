/**
 * The payment log line of a paid town write or blob (`town-write`, `town-blob`), built in one
 * place for the three that record one: the requester and the provider when they paid a town
 * (`out`), the town when it was paid (`in`).
 *
 * One job-id rule: the job the caller names; else the job the event refers to (its first `e` tag:
 * a NIP-90 result or feedback names the request, a deletion the event it deletes); else, for a
 * blob, `blob:<sha256>`; else the event's own id (a job request is its job). A recorder that knows
 * only the event's id (the town: its FULFILL names the event, not its tags) gets the event's id.
 * The invoice is the event paid for (the write, or the blob's authorization), or `blob-<sha256>`
 * when only the blob is known.
 *
 * @module
 */
import { type PaymentEntry, PaymentEntryError } from "./payment_log.ts";

/** The event a town payment was for: its id, and its tags when the recorder has them. */
export interface PaidEventRef {
  id: string;
  tags?: readonly (readonly string[])[];
}

/** A paid town write or blob, as its recorder knows it. */
export interface TownWritePayment {
  /** `out`: this node paid the town; `in`: the town was paid. */
  direction: "in" | "out";
  /** `blob`: a blob stored (`town-blob`); `write`: an event written (`town-write`). */
  kind: "write" | "blob";
  /** The event paid for: the write itself, or the blob's authorization. */
  event?: PaidEventRef;
  /** The blob's sha256; default the authorization's `x` tag. */
  sha256?: string;
  /** The job the payment is for, when the caller knows it. */
  jobId?: string;
  /** Base units fulfilled. */
  amount: bigint | string;
  asset: string;
  /** Decimal places of `asset`, when known. */
  scale?: number;
  /** The counterparty: the town's ILP address (`out`) or the paying account (`in`). */
  peer: string;
  /** ISO 8601 time; default now. */
  ts?: string;
}

function firstTag(event: PaidEventRef | undefined, name: string): string | undefined {
  return event?.tags?.find((t) => t[0] === name)?.[1];
}

/**
 * The `fulfilled` payment log line of a paid town write or blob.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townWriteEntry } from "./town_write_entry.ts";
 *
 * const result = { id: "b".repeat(64), tags: [["e", "a".repeat(64)], ["p", "c".repeat(64)]] };
 * const entry = townWriteEntry({
 *   direction: "out",
 *   kind: "write",
 *   event: result,
 *   amount: 120n,
 *   asset: "USD",
 *   scale: 6,
 *   peer: "g.town",
 * });
 * assert(entry.jobId === "a".repeat(64)); // the request the result answers
 * assert(entry.invoiceId === result.id && entry.category === "town-write");
 * ```
 * @throws {PaymentEntryError} when neither the event nor the blob is given.
 */
export function townWriteEntry(payment: TownWritePayment): PaymentEntry {
  const { event } = payment;
  const sha256 = payment.kind === "blob" ? payment.sha256 ?? firstTag(event, "x") : undefined;
  const paidFor = event?.id ?? (sha256 === undefined ? undefined : `blob-${sha256}`);
  if (paidFor === undefined) {
    throw new PaymentEntryError("a town payment names its event or its blob's sha256");
  }
  const jobId = payment.jobId ?? firstTag(event, "e") ??
    (sha256 !== undefined ? `blob:${sha256}` : paidFor);
  return {
    ts: payment.ts ?? new Date().toISOString(),
    direction: payment.direction,
    event: "fulfilled",
    jobId,
    invoiceId: paidFor,
    amount: String(payment.amount),
    asset: payment.asset,
    scale: payment.scale,
    peer: payment.peer,
    category: payment.kind === "blob" ? "town-blob" : "town-write",
  };
}

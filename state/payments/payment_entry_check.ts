/**
 * What makes a payment log entry well formed (`state/payments/payment_log.ts`): the check every
 * line read or appended passes, and every income row the provider's job store writes
 * (`state/jobs/provider_job_store.ts`).
 *
 * @module
 */
import { billTag, readBillTag } from "../../protocol/bill_tag.ts";
import { StateError } from "../state_error.ts";
import type { PaymentCategory, PaymentEntry } from "./payment_log.ts";

/** Every category, in the order reports list them. */
export const PAYMENT_CATEGORIES: readonly PaymentCategory[] = [
  "job",
  "town-write",
  "town-blob",
  "transfer",
];

/** A payment entry is malformed (bad field) and was not written. */
export class PaymentEntryError extends StateError {
  override name = "PaymentEntryError";
}

/**
 * Checks a payment entry's fields. Throws {@linkcode PaymentEntryError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const entry = { ts: "2026-11-27T00:00:00.000Z", direction: "in", event: "fulfilled", jobId: "j",
 *   invoiceId: "i", amount: "1", asset: "USD", peer: "p" } as const;
 * validatePaymentEntry(entry);
 * assert.throws(() => validatePaymentEntry({ ...entry, amount: "-1" }), PaymentEntryError);
 * ```
 */
export function validatePaymentEntry(e: PaymentEntry): void {
  const fail = (msg: string): never => {
    throw new PaymentEntryError(msg);
  };
  if (typeof e !== "object" || e === null) fail("entry is not an object");
  if (typeof e.ts !== "string" || Number.isNaN(Date.parse(e.ts))) fail("bad ts");
  if (e.direction !== "in" && e.direction !== "out") fail("bad direction");
  if (!["intent", "fulfilled", "rejected", "reversed"].includes(e.event)) fail("bad event");
  if (e.event === "reversed" && e.direction !== "in") fail("only income is reversed");
  for (const key of ["jobId", "invoiceId", "asset", "peer"] as const) {
    if (typeof e[key] !== "string" || e[key].length === 0) fail(`bad ${key}`);
  }
  if (typeof e.amount !== "string" || !/^(0|[1-9][0-9]{0,38})$/.test(e.amount)) fail("bad amount");
  if (e.fulfillment !== undefined && !/^[0-9a-f]{64}$/.test(e.fulfillment)) fail("bad fulfillment");
  if (e.expiresAt !== undefined && Number.isNaN(Date.parse(e.expiresAt))) fail("bad expiresAt");
  if (e.category !== undefined && !PAYMENT_CATEGORIES.includes(e.category)) fail("bad category");
  if (e.parts !== undefined && readBillTag([billTag(e.parts)], BigInt(e.amount)) === undefined) {
    fail("bad parts");
  }
  if (e.scale !== undefined && (!Number.isInteger(e.scale) || e.scale < 0 || e.scale > 255)) {
    fail("bad scale");
  }
}

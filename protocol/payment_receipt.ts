/**
 * The receipt question (docs/PROTOCOL.md "Paying a provider"): a requester whose payment is in
 * doubt (its PREPARE left by a town that died before answering, the one sent again by another
 * town refused because the invoice was paid meanwhile) asks the provider whether it was paid,
 * over ILP and for nothing: a PREPARE of amount 0 to the invoice's destination, with the
 * invoice's execution condition, whose data is `receipt:<job id>`. A provider that was paid for
 * that invoice answers FULFILL with the fulfillment (the receipt: its SHA-256 is the condition,
 * so only the party paid can show it); otherwise it rejects F99. Nothing is paid either way.
 *
 * @module
 */

const PREFIX = "receipt:";
const JOB_ID = /^[0-9a-f]{64}$/;

/**
 * The data of a receipt question for a job.
 *
 * @example
 * ```ts
 * const jobId = "ab".repeat(32);
 * const data = encodeReceiptQuestion(jobId); // the PREPARE's data, amount "0"
 * ```
 */
export function encodeReceiptQuestion(jobId: string): Uint8Array {
  if (!JOB_ID.test(jobId)) throw new RangeError("a job id is 64 lowercase hex");
  return new TextEncoder().encode(PREFIX + jobId);
}

/**
 * The job id a PREPARE's data asks the receipt of, or undefined when it is not a question.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeReceiptQuestion, encodeReceiptQuestion } from "./payment_receipt.ts";
 *
 * const data = encodeReceiptQuestion("ab".repeat(32)); // a PREPARE's data
 * assert.equal(decodeReceiptQuestion(data), "ab".repeat(32));
 * assert.equal(decodeReceiptQuestion(new Uint8Array(3)), undefined);
 * ```
 */
export function decodeReceiptQuestion(data: Uint8Array): string | undefined {
  if (data.length !== PREFIX.length + 64) return undefined;
  const text = new TextDecoder().decode(data);
  if (!text.startsWith(PREFIX)) return undefined;
  const id = text.slice(PREFIX.length);
  return JOB_ID.test(id) ? id : undefined;
}

/**
 * A deposit's refund (docs/PROTOCOL.md "Refunds: the provider's own failures"): a job that ended
 * in error for a cause on the provider's side gives its deposit back, as an ILP payment from the
 * provider to the requester through the town.
 *
 * 1. The requester asks, as it asks for a receipt: a PREPARE of amount 0 to the deposit invoice's
 *    destination whose data is `refund?<job id>:<the requester's ILP address>` (UTF-8).
 * 2. The provider, when it owes the refund, pays it: a PREPARE of the deposit to that address,
 *    data `refund:<job id>`, condition `SHA-256(F)` with
 *    `F = HMAC-SHA256(conversation key, "turnpike refund v1:" + job id)`, the NIP-44 conversation
 *    key of the two (either can derive it, no one else). So a refund sent to an address someone
 *    else named cannot be fulfilled there, and the requester fulfils only a refund of its own job.
 * 3. The provider answers the question F99 whatever happened, its message saying what
 *    (`refunded <amount>`, or why not): the money's record is the refund's own FULFILL.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { isValidIlpAddress } from "./ilp_packet.ts";

const QUESTION = "refund?";
const PAYMENT = "refund:";
const LABEL = "turnpike refund v1:";
const JOB_ID = /^[0-9a-f]{64}$/;

/**
 * The payment log's invoice id of a job's refund (the key that makes it once per job).
 *
 * @example
 * ```ts
 * refundInvoiceId("ab".repeat(32)); // "refund:abab..."
 * ```
 */
export function refundInvoiceId(jobId: string): string {
  return PAYMENT + jobId;
}

/**
 * The data of a refund question: which job, and where to pay.
 *
 * @example
 * ```ts
 * const data = encodeRefundQuestion("ab".repeat(32), "g.town.alice"); // amount "0"
 * ```
 */
export function encodeRefundQuestion(jobId: string, address: string): Uint8Array {
  if (!JOB_ID.test(jobId)) throw new RangeError("a job id is 64 lowercase hex");
  if (!isValidIlpAddress(address)) {
    throw new RangeError(`not an ILP address: ${address}`);
  }
  return new TextEncoder().encode(`${QUESTION}${jobId}:${address}`);
}

/**
 * The job and address a PREPARE's data asks the refund of, or undefined when it is not a
 * refund question.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRefundQuestion, encodeRefundQuestion } from "./job_refund.ts";
 *
 * const data = encodeRefundQuestion("ab".repeat(32), "g.town.alice"); // a PREPARE's data
 * const asked = decodeRefundQuestion(data);
 * assert.deepEqual(asked, { jobId: "ab".repeat(32), address: "g.town.alice" });
 * ```
 */
export function decodeRefundQuestion(
  data: Uint8Array,
): { jobId: string; address: string } | undefined {
  if (data.length > QUESTION.length + 65 + 1023) return undefined;
  const text = new TextDecoder().decode(data);
  if (!text.startsWith(QUESTION)) return undefined;
  const jobId = text.slice(QUESTION.length, QUESTION.length + 64);
  const address = text.slice(QUESTION.length + 65);
  if (text[QUESTION.length + 64] !== ":" || !JOB_ID.test(jobId)) return undefined;
  return isValidIlpAddress(address) ? { jobId, address } : undefined;
}

/**
 * The data of a refund payment for a job.
 *
 * @example
 * ```ts
 * const data = encodeRefundPayment("ab".repeat(32));
 * ```
 */
export function encodeRefundPayment(jobId: string): Uint8Array {
  if (!JOB_ID.test(jobId)) throw new RangeError("a job id is 64 lowercase hex");
  return new TextEncoder().encode(PAYMENT + jobId);
}

/**
 * The job a PREPARE refunds, or undefined when its data is not a refund's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRefundPayment, encodeRefundPayment } from "./job_refund.ts";
 *
 * assert.equal(decodeRefundPayment(encodeRefundPayment("ab".repeat(32))), "ab".repeat(32));
 * assert.equal(decodeRefundPayment(new Uint8Array(3)), undefined);
 * ```
 */
export function decodeRefundPayment(data: Uint8Array): string | undefined {
  if (data.length !== PAYMENT.length + 64) return undefined;
  const text = new TextDecoder().decode(data);
  const id = text.slice(PAYMENT.length);
  return text.startsWith(PAYMENT) && JOB_ID.test(id) ? id : undefined;
}

/**
 * A refund's fulfillment and condition, from the two parties' conversation key (NIP-44).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { refundLock } from "./job_refund.ts";
 *
 * const provider = localNodeSigner(generateSecretKey());
 * const requester = localNodeSigner(generateSecretKey());
 * const jobId = "ab".repeat(32);
 * const mine = refundLock(await provider.conversationKey(requester.pubkey), jobId);
 * const theirs = refundLock(await requester.conversationKey(provider.pubkey), jobId);
 * assert.deepEqual(mine.condition, theirs.condition); // both sides derive the same lock
 * ```
 */
export function refundLock(
  conversationKey: Uint8Array,
  jobId: string,
): { fulfillment: Uint8Array; condition: Uint8Array } {
  const fulfillment = hmac(sha256, conversationKey, new TextEncoder().encode(LABEL + jobId));
  return { fulfillment, condition: sha256(fulfillment) };
}

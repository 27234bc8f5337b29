/**
 * A wallet's payment request (`wallet receive`, docs/PROTOCOL.md "Transfers between wallets"): a
 * one-time ILP invoice (protocol/ilp_invoice.ts) whose `job` field is the transfer's random id,
 * whose `amount` may be left out (the payer names it) and which may carry a `memo`:
 *
 *     ilp:<receiver's ILP address>.<id prefix>?amount=<uint64>&asset=<code>&scale=<n>
 *        &condition=<64 hex>&expires=<ISO 8601>&job=<64 hex transfer id>&memo=<text>
 *
 * The payer sends one PREPARE of the amount to the destination with the condition, its data
 * naming the payer (`transfer:<pubkey hex>`); the receiver fulfils one PREPARE per request, and
 * answers any later one with a REJECT `already-paid` whose data is the fulfillment (the proof it
 * was paid, which moves no money). A payer that lost its FULFILL asks with the receipt question
 * (protocol/payment_receipt.ts, the transfer id as the job id): a FULFILL once paid, else
 * `not-paid`.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { formatIlpInvoice, IlpInvoiceError, parseIlpInvoice } from "./ilp_invoice.ts";

/** A parsed payment request. */
export interface TransferRequest {
  destination: string;
  /** Base units; undefined when the payer names the amount. */
  amount?: bigint;
  assetCode: string;
  assetScale: number;
  /** SHA-256 of the receiver's fulfillment, 64 lowercase hex. */
  condition: string;
  expiresAt: Date;
  /** The transfer's id (64 hex): the payment log's `jobId` on both sides. */
  transferId: string;
  memo?: string;
}

/** Longest memo, in characters. */
export const MAX_MEMO_LENGTH = 200;

/** A request string that cannot be paid; `reason` names the bad part. */
export class TransferRequestError extends IlpInvoiceError {
  override name = "TransferRequestError";
}

/**
 * Writes a request in its string form.
 *
 * @example
 * ```ts
 * formatTransferRequest({
 *   destination: "g.town.bob.3f2a", amount: 5000n, assetCode: "USD", assetScale: 6,
 *   condition: "ab".repeat(32), expiresAt: new Date("2026-11-22T03:00:00Z"),
 *   transferId: "cd".repeat(32), memo: "lunch",
 * });
 * ```
 * @throws {IlpInvoiceError} when a field is invalid.
 */
export function formatTransferRequest(request: TransferRequest): string {
  const text = formatIlpInvoice({
    ...request,
    amount: request.amount ?? 1n,
    jobId: request.transferId,
  });
  // formatIlpInvoice writes `amount` first: an open request leaves it out.
  const fixed = request.amount === undefined ? text.replace("?amount=1&", "?") : text;
  if (request.memo === undefined || request.memo === "") return fixed;
  if (request.memo.length > MAX_MEMO_LENGTH) {
    throw new TransferRequestError("memo", `memo longer than ${MAX_MEMO_LENGTH} characters`);
  }
  return `${fixed}&memo=${encodeURIComponent(request.memo)}`;
}

/**
 * Parses a request (an ILP invoice of a job is one too, with its job id as the transfer id).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTransferRequest, parseTransferRequest } from "./transfer_request.ts";
 *
 * const text = formatTransferRequest({ // what `wallet receive` printed
 *   destination: "g.town.alice", assetCode: "USD", assetScale: 6, condition: "ab".repeat(32),
 *   expiresAt: new Date("2026-11-22T03:00:00Z"), transferId: "cd".repeat(32),
 * });
 * const request = parseTransferRequest(text);
 * assert.equal(request.amount, undefined); // the payer names the amount
 * ```
 * @throws {IlpInvoiceError} when it is not a valid request.
 */
export function parseTransferRequest(text: string): TransferRequest {
  const q = text.indexOf("?");
  if (!text.startsWith("ilp:") || q === -1) return fromInvoice(parseIlpInvoice(text));
  const params = new URLSearchParams(text.slice(q + 1));
  const memos = params.getAll("memo");
  if (memos.length > 1) throw new TransferRequestError("memo", "memo given twice");
  const memo = memos[0];
  if (memo !== undefined && memo.length > MAX_MEMO_LENGTH) {
    throw new TransferRequestError("memo", `memo longer than ${MAX_MEMO_LENGTH} characters`);
  }
  params.delete("memo");
  const open = !params.has("amount");
  if (open) params.set("amount", "1");
  const invoice = parseIlpInvoice(`${text.slice(0, q)}?${params.toString()}`);
  const request = fromInvoice(invoice);
  return {
    ...request,
    ...(open ? { amount: undefined } : {}),
    ...(memo === undefined ? {} : { memo }),
  };
}

function fromInvoice(i: ReturnType<typeof parseIlpInvoice>): TransferRequest {
  return {
    destination: i.destination,
    amount: i.amount,
    assetCode: i.assetCode,
    assetScale: i.assetScale,
    condition: i.condition,
    expiresAt: i.expiresAt,
    transferId: i.jobId,
  };
}

const DATA_PREFIX = "transfer:";

/**
 * The PREPARE's data: the payer's pubkey, so the receiver's history names who paid.
 *
 * @example
 * ```ts
 * const data = encodeTransferData("ab".repeat(32));
 * decodeTransferData(data); // "abab..."
 * ```
 */
export function encodeTransferData(payer: string): Uint8Array {
  return new TextEncoder().encode(`${DATA_PREFIX}${payer}`);
}

/**
 * The payer's pubkey from a PREPARE's data; undefined when it names none.
 *
 * @example
 * ```ts
 * decodeTransferData(new Uint8Array()); // undefined
 * ```
 */
export function decodeTransferData(data: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(data.subarray(0, 200));
  const payer = text.startsWith(DATA_PREFIX) ? text.slice(DATA_PREFIX.length) : "";
  return /^[0-9a-f]{64}$/.test(payer) ? payer : undefined;
}

/** The REJECT message of a request already paid (its data is the fulfillment). */
export const ALREADY_PAID = "already-paid";

/** The REJECT message of the receipt question for a request not paid yet. */
export const NOT_PAID = "not-paid";

/**
 * The fulfillment a receiver gave back in an `already-paid` REJECT's data, when it is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paidProofData, paidProofOf } from "./transfer_request.ts";
 *
 * const data = paidProofData("ab".repeat(32)); // an `already-paid` REJECT's data
 * assert.equal(paidProofOf(data), "ab".repeat(32));
 * assert.equal(paidProofOf(new Uint8Array(0)), undefined);
 * ```
 */
export function paidProofOf(data: Uint8Array): string | undefined {
  return data.length === 32 ? bytesToHex(data) : undefined;
}

/**
 * A fulfillment, as an `already-paid` REJECT's data.
 *
 * @example
 * ```ts
 * paidProofData("ab".repeat(32)).length; // 32
 * ```
 */
export function paidProofData(fulfillment: string): Uint8Array {
  return hexToBytes(fulfillment);
}

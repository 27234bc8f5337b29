/**
 * Asks a provider for the receipt of an invoice whose payment is in doubt (docs/PROTOCOL.md "The
 * receipt question", `protocol/payment_receipt.ts`): a PREPARE of amount 0 to the invoice's
 * destination with its condition; a FULFILL whose fulfillment hashes to the condition is the
 * receipt. Nothing is paid either way.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import { conditionOf } from "../../protocol/ilp_fulfillment.ts";
import { encodeReceiptQuestion } from "../../protocol/payment_receipt.ts";

/** Options for {@linkcode askReceipt}. */
export interface AskReceiptOptions {
  /** Sends the question's PREPARE (the towns' links: `TownLinks.sendPayment`). */
  send: (prepare: IlpPrepare) => Promise<IlpReply>;
  /** The job the invoice is for (the question's data). */
  jobId: string;
  /** The invoice's execution condition, hex. */
  condition: string;
  /** The invoice's ILP address. */
  destination: string;
}

/**
 * The receipt (the fulfillment, hex), or undefined when none came: a reject, no answer, no
 * open link, or a fulfillment that does not match the condition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 * import { conditionOf } from "../../protocol/ilp_fulfillment.ts";
 * import { askReceipt } from "./receipt_ask.ts";
 *
 * const fulfillment = crypto.getRandomValues(new Uint8Array(32));
 * const receipt = await askReceipt({
 *   // The provider paid for it answers with the fulfillment.
 *   send: () => Promise.resolve({ type: "fulfill", fulfillment, data: new Uint8Array() }),
 *   jobId: "ab".repeat(32),
 *   condition: bytesToHex(await conditionOf(fulfillment)),
 *   destination: "test.town.provider.abab",
 * });
 * assert.equal(receipt, bytesToHex(fulfillment));
 * ```
 */
export async function askReceipt(options: AskReceiptOptions): Promise<string | undefined> {
  const reply = await options.send({
    amount: "0",
    destination: options.destination,
    executionCondition: hexToBytes(options.condition),
    expiresAt: new Date(Date.now() + 30_000),
    data: encodeReceiptQuestion(options.jobId),
  }).catch(() => undefined);
  if (reply?.type !== "fulfill") return undefined;
  if (bytesToHex(await conditionOf(reply.fulfillment)) !== options.condition) return undefined;
  return bytesToHex(reply.fulfillment);
}

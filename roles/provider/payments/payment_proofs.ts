/**
 * The proofs of this provider's payments: the fulfillments its payment log holds, for a town
 * that lost its answers in a crash (BTP `onInDoubt`; docs/PROTOCOL.md "The receipt question").
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { PaymentEntry } from "../../../state/payments/payment_log.ts";
import { withoutReversed } from "../../../state/payments/income_reversals.ts";

/**
 * The fulfillments of the payments this node was paid, among these conditions (hex): the town
 * lost its answers in a crash (BTP `onInDoubt`), and the fulfillments the payment log holds prove
 * those payments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 * import { fulfillmentsAmong } from "./payment_proofs.ts";
 *
 * const fulfillment = crypto.getRandomValues(new Uint8Array(32));
 * const paid = {
 *   ts: new Date().toISOString(),
 *   direction: "in" as const,
 *   event: "fulfilled" as const,
 *   jobId: "j1",
 *   invoiceId: "i1",
 *   amount: "30",
 *   asset: "USD",
 *   peer: "c".repeat(64),
 *   fulfillment: bytesToHex(fulfillment),
 * };
 * // The conditions the town asks about, hex: this payment's and one it never made.
 * const conditions = [bytesToHex(sha256(fulfillment)), "00".repeat(32)];
 * assert.deepEqual(fulfillmentsAmong([paid], conditions), [paid.fulfillment]);
 * ```
 */
export function fulfillmentsAmong(
  entries: readonly PaymentEntry[],
  conditions: readonly string[],
): string[] {
  const wanted = new Set(conditions);
  const out: string[] = [];
  // A payment reversed (its town said it was not owed) proves nothing.
  for (const e of withoutReversed(entries)) {
    if (e.direction !== "in" || e.event !== "fulfilled" || e.fulfillment === undefined) continue;
    if (wanted.has(bytesToHex(sha256(hexToBytes(e.fulfillment))))) out.push(e.fulfillment);
  }
  return out;
}

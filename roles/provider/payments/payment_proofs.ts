/**
 * The proofs of this provider's payments: the fulfillments its payment log holds, for a town
 * that lost its answers in a crash (BTP `onInDoubt`; docs/PROTOCOL.md "The receipt question").
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { PaymentEntry } from "../../../state/payments/payment_log.ts";

/**
 * The fulfillments of the payments this node was paid, among these conditions (hex): the town
 * lost its answers in a crash (BTP `onInDoubt`), and the fulfillments the payment log holds prove
 * those payments.
 *
 * @example
 * ```ts
 * import { fulfillmentsAmong } from "./payment_proofs.ts";
 * import type { PaymentLog } from "../../../state/payments/payment_log.ts";
 *
 * declare const payments: PaymentLog;
 * declare const conditions: string[]; // from the town, hex
 * const proofs = fulfillmentsAmong(payments.entries(), conditions);
 * ```
 */
export function fulfillmentsAmong(
  entries: readonly PaymentEntry[],
  conditions: readonly string[],
): string[] {
  const wanted = new Set(conditions);
  const out: string[] = [];
  for (const e of entries) {
    if (e.direction !== "in" || e.event !== "fulfilled" || e.fulfillment === undefined) continue;
    if (wanted.has(bytesToHex(sha256(hexToBytes(e.fulfillment))))) out.push(e.fulfillment);
  }
  return out;
}

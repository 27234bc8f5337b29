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
import type { InDoubtProof } from "../../../protocol/payment_in_doubt.ts";

/**
 * The fulfillments of the payments this node was paid, among these conditions (hex), each with
 * the expiry of the PREPARE it fulfilled when the entry has it: the town lost its answers in a
 * crash (BTP `onInDoubt`), and the fulfillments the payment log holds prove those payments; with
 * `standing` (`ProviderIncomeRows.standingEntries`), those paid before the log's 30 days too.
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
 *   expiresAt: "2026-11-28T19:56:31.839Z",
 * };
 * // The conditions the town asks about, hex: this payment's and one it never made.
 * const conditions = [bytesToHex(sha256(fulfillment)), "00".repeat(32)];
 * assert.deepEqual(fulfillmentsAmong([paid], conditions), [
 *   { fulfillment: paid.fulfillment, expiresAt: paid.expiresAt },
 * ]);
 * ```
 */
export function fulfillmentsAmong(
  entries: readonly PaymentEntry[],
  conditions: readonly string[],
  standing: (condition: string) => readonly PaymentEntry[] = () => [],
): InDoubtProof[] {
  const wanted = new Set(conditions);
  const out: InDoubtProof[] = [];
  const prove = (e: PaymentEntry) => {
    if (e.direction !== "in" || e.event !== "fulfilled" || e.fulfillment === undefined) return;
    const condition = bytesToHex(sha256(hexToBytes(e.fulfillment)));
    if (!wanted.delete(condition)) return;
    out.push(
      e.expiresAt === undefined
        ? { fulfillment: e.fulfillment }
        : { fulfillment: e.fulfillment, expiresAt: new Date(e.expiresAt).toISOString() },
    );
  };
  // A payment reversed (its town said it was not owed) proves nothing.
  for (const e of withoutReversed(entries)) prove(e);
  // Paid before the log's days: its income row, kept as long as the profile.
  for (const condition of [...wanted]) for (const e of standing(condition)) prove(e);
  return out;
}

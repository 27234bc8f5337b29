/**
 * Paid writes whose answer was lost after their PREPARE left (no answer in time, the socket
 * dropped or closed under it: transport/btp_unanswered.ts): the town may have stored and
 * FULFILLed them, and a payer over a payment channel counted each paid when it signed its claim.
 * When the write is sent again and the town answers `duplicate` (it stores the event), the lost
 * attempt was the one that paid: the payer records it then, so its payment log never sits below
 * what its claims paid the town (docs/PROTOCOL.md "Payment channels and claims").
 *
 * In memory, per town client, the newest {@linkcode IN_DOUBT_WRITES_KEPT}: a payer that
 * restarts between the lost answer and the retry does not record it.
 *
 * @module
 */

/** How many writes in doubt a town client remembers (the oldest is forgotten first). */
export const IN_DOUBT_WRITES_KEPT = 4096;

/**
 * The writes in doubt of one town client, by event id, with the amount their PREPARE carried.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InDoubtWrites } from "./in_doubt_writes.ts";
 *
 * const writes = new InDoubtWrites();
 * writes.note("ab".repeat(32), 1_500n); // the answer was lost
 * assert.equal(writes.take("ab".repeat(32)), 1_500n); // its retry: `duplicate`, stored
 * assert.equal(writes.take("ab".repeat(32)), undefined); // recorded once
 * ```
 */
export class InDoubtWrites {
  readonly #amounts = new Map<string, bigint>();
  readonly #limit: number;

  /** Remembers at most `limit` writes. */
  constructor(limit = IN_DOUBT_WRITES_KEPT) {
    this.#limit = limit;
  }

  /** The write of `eventId`, paying `amount`, got no answer after its PREPARE left. */
  note(eventId: string, amount: bigint): void {
    this.#amounts.delete(eventId);
    this.#amounts.set(eventId, amount);
    if (this.#amounts.size > this.#limit) {
      this.#amounts.delete(this.#amounts.keys().next().value!);
    }
  }

  /** The amount of the write of `eventId` in doubt, forgotten from now on; undefined if none. */
  take(eventId: string): bigint | undefined {
    const amount = this.#amounts.get(eventId);
    this.#amounts.delete(eventId);
    return amount;
  }
}

/**
 * The "chain = books" comparison of a settled payment channel (docs/OPERATIONS.md "Payment
 * channels"): what the chain paid each side on settling against what each side's books say.
 * `turnpike demo` runs it on its one channel (roles/demo/demo_chain.ts); the scale harness on
 * every channel of a run (bench/scale_channels.ts), summed per town.
 *
 * @module
 */

/** One channel's (or a sum of channels') books and payouts, token base units. */
export interface ChannelBooks {
  /** The payer's deposit (less what it withdrew while open). */
  deposit: bigint;
  /** The payer's books: the cumulative amount of its newest claim. */
  sent: bigint;
  /** The payee's books: the newest claim it holds. */
  received: bigint;
  /** What settling paid the payer, on chain (its token balance change). */
  payerPayout: bigint;
  /** What settling paid the payee, on chain. */
  payeePayout: bigint;
}

/**
 * Whether the chain equals both sides' books: the sides agree (sent = received), the payee got
 * what it received, the payer got its deposit less what it sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chainEqualsBooks } from "./chain_books.ts";
 * assert.equal(chainEqualsBooks({ deposit: 5n, sent: 2n, received: 2n, payerPayout: 3n, payeePayout: 2n }), true);
 * ```
 */
export function chainEqualsBooks(books: ChannelBooks): boolean {
  return books.sent === books.received && books.payeePayout === books.received &&
    books.payerPayout === books.deposit - books.sent;
}

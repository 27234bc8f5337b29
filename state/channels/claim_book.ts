/**
 * A payment channel's claim book, as the payee keeps it: the newest accepted claim and the value
 * forwarded against it. One shape for the channel file's copy (chain/claim_verifier.ts) and the
 * copy a town's processes share in PostgreSQL (state/postgres/postgres_claim_books.ts); both are kept
 * behind state/channels/channel_book.ts {@linkcode ChannelBook}.
 *
 * @module
 */
import type { ChannelBook } from "./channel_book.ts";

/**
 * What the verifier remembers per channel (persisted in the channel file, or shared).
 *
 * @example
 * ```ts
 * import type { ClaimBook } from "./claim_book.ts";
 * const empty: ClaimBook = { channelId: `0x${"00".repeat(32)}`, nonce: 0n, claimed: 0n, forwarded: 0n };
 * ```
 */
export interface ClaimBook {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** Highest accepted nonce (0: none yet). */
  nonce: bigint;
  /** Cumulative amount of the newest accepted claim, base units. */
  claimed: bigint;
  /** Signature of the newest accepted claim (to close or update with on chain). */
  signature?: `0x${string}`;
  /** Total value forwarded for the peer, base units. */
  forwarded: bigint;
  /** The peer's withdrawn total as recorded (channel file `peerWithdrawn`); resumed as noted. */
  peerWithdrawn?: bigint;
  /**
   * Shared books only: the town co-signed a cooperative settle of the channel, so no process
   * takes another claim or packet on it (roles/town/channels/channel_cosign_desk.ts).
   */
  closing?: boolean;
}

/**
 * Claim books shared by the processes of one town (state/postgres/postgres_claim_books.ts is one): the
 * name the shared backend of {@linkcode ChannelBook} had before there was a file one.
 *
 * @example
 * ```ts
 * import type { ClaimBook, SharedClaimBooks } from "./claim_book.ts";
 *
 * declare const books: SharedClaimBooks, seed: ClaimBook; // compile-only: needs PostgreSQL
 * Deno.test({ name: "SharedClaimBooks", ignore: true, async fn() {
 *   await books.update(seed.channelId, seed, (b) => ({ ...b, forwarded: b.forwarded + 1500n }));
 * } });
 * ```
 */
export type SharedClaimBooks = ChannelBook;

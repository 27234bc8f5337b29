/**
 * The payer's side of a channel's book (docs/ARCHITECTURE.md, "Where a channel's state lives"):
 * what a party knows of a channel it pays into, the newest claim it signed (nonce, cumulative
 * amount). The sibling of state/channels/channel_book.ts `ChannelBook`, the payee's side, with
 * the same shape of operations: {@linkcode SentChannelBook.update} locks the channel's book,
 * passes it to `decide` and commits what `decide` returns; a throw changes nothing.
 *
 * A sibling, not more fields of a `ClaimBook` (state/channels/channel_book.ts): the two sides hold different facts under
 * different rules. The payee's book takes claims from the peer and charges packets against them
 * (and gives cover back); the payer's only ever raises its own claim, one nonce at a time, and a
 * claim must be kept before it leaves. A channel paid both ways has both books, each written by
 * its own side, so neither side's `decide` can overwrite the other's numbers.
 *
 * Two backends, as for the payee's side:
 *
 * - state/channels/file_sent_channel_book.ts `FileSentChannelBook`: one process's own channels, the
 *   channel files' `sent` and `sent_nonce`, made durable by the channel file writer
 *   (state/channels/channel_file.ts `openSentClaimWriter`), coalesced;
 * - state/postgres/postgres_payout_books.ts `PostgresPayoutBooks`: a town's payout channels shared by its
 *   processes, one row of `turnpike_payout_channels` per channel, each update one transaction
 *   under the row's lock.
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/**
 * The newest claim a payer signed on a channel.
 *
 * @example
 * ```ts
 * import type { SentClaimBook } from "./sent_channel_book.ts";
 * const fresh: SentClaimBook = { channelId: `0x${"00".repeat(32)}`, nonce: 0n, transferred: 0n };
 * ```
 */
export interface SentClaimBook {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** The newest claim's nonce (0: none signed yet). */
  nonce: bigint;
  /** The newest claim's cumulative amount, base units. */
  transferred: bigint;
}

/** A decided claim that does not follow the book's newest one (its nonce or amount went back). */
export class SentBookError extends StateError {
  override name = "SentBookError";
}

/**
 * The books of the channels a party pays into, one {@linkcode SentClaimBook} per channel id.
 * A channel's book exists from its open (its file, its row); there is no seed: an update of a
 * channel the book does not hold rejects with {@linkcode SentBookError}.
 *
 * @example
 * ```ts
 * import type { SentChannelBook } from "./sent_channel_book.ts";
 *
 * // Raises the channel's claim by `amount` (the caller signs inside `decide`).
 * async function pay(books: SentChannelBook, channelId: `0x${string}`, amount: bigint) {
 *   return await books.update(channelId, (book) => ({
 *     ...book,
 *     nonce: book.nonce + 1n,
 *     transferred: book.transferred + amount,
 *   }));
 * }
 * ```
 */
export interface SentChannelBook {
  /** True when other processes write the same books (the town's shared store). */
  readonly shared: boolean;
  /**
   * Locks the channel's book, passes it to `decide` and keeps what `decide` returns: the next
   * claim (its nonce above the book's, its amount not below), or undefined for none. Resolves,
   * once the claim is kept (file written, or committed), with the book as it then stands; the
   * claim may leave only after. An error thrown by `decide`, or a claim that does not follow
   * ({@linkcode SentBookError}), changes nothing and is rethrown.
   */
  update(
    channelId: `0x${string}`,
    decide: (
      book: SentClaimBook,
    ) => SentClaimBook | undefined | Promise<SentClaimBook | undefined>,
  ): Promise<SentClaimBook>;
  /** The book of a channel, if this book holds it. */
  read(channelId: `0x${string}`): Promise<SentClaimBook | undefined>;
  /** Every channel's book, by channel id. */
  list(): Promise<SentClaimBook[]>;
}

/**
 * Checks that `next` follows `book` (a higher nonce, an amount not lower): the rule both
 * backends apply before they keep a claim.
 *
 * @example
 * ```ts
 * import { assertFollows } from "./sent_channel_book.ts";
 * const book = { channelId: `0x${"00".repeat(32)}` as const, nonce: 1n, transferred: 10n };
 * assertFollows(book, { ...book, nonce: 2n, transferred: 15n }); // no throw
 * ```
 * @throws {SentBookError} when it does not.
 */
export function assertFollows(book: SentClaimBook, next: SentClaimBook): void {
  if (next.nonce <= book.nonce || next.transferred < book.transferred) {
    throw new SentBookError(`claim ${next.nonce} does not follow ${book.nonce}`);
  }
}

/**
 * A channel's book: where what a party knows of a payment channel's claims lives, behind one
 * interface (docs/ARCHITECTURE.md, "Where a channel's state lives"). The book of a channel is a
 * {@linkcode ClaimBook}: its id, the newest claim accepted from the peer (nonce, cumulative
 * amount, signature), the value delivered (forwarded) against it, what the peer withdrew, and
 * whether a cooperative settle was co-signed (`closing`). The channel's record (parties,
 * token, deposit, status: state/channels/channel_file.ts) stays the channel file's.
 *
 * Two backends:
 *
 * - state/channels/file_channel_book.ts `FileChannelBook`: one process's own books, resumed
 *   from the channel files and made durable into them by the channel file writer
 *   (state/channels/channel_writer.ts `openChannelFileWriter`);
 * - state/postgres/postgres_claim_books.ts `PostgresClaimBooks`: the books shared by the processes of one
 *   town, one PostgreSQL row per channel, each change under the row's lock.
 *
 * What the users do maps onto the operations: recording a new claim with its checks, charging a
 * packet (marking value delivered) and marking a channel closing are each one
 * {@linkcode ChannelBook.update} (the checks run in `decide`: a throw changes nothing); giving
 * back the cover of a packet that was not delivered is {@linkcode ChannelBook.release}. On shared
books a charged packet is in flight until {@linkcode ChannelBook.deliver} counts it delivered,
after its write committed: a process killed between the two never has it counted.
 *
 * @module
 */
/**
 * One channel's book, as the payee keeps it: the newest claim accepted from the peer and the
 * value forwarded against it. The same shape in the channel file (`received*` fields,
 * state/channels/file_channel_book.ts) and in a town's shared store
 * (state/postgres/postgres_claim_books.ts).
 *
 * @example
 * ```ts
 * import type { ClaimBook } from "./channel_book.ts";
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
  /**
   * Total value forwarded for the peer, base units. On shared books: delivered, the packets
   * FULFILLed (each counted before its FULFILL goes out), what a close pays.
   */
  forwarded: bigint;
  /**
   * Shared books only: packets whose claim check passed and whose answer is not known yet, base
   * units; they take cover (`forwarded + inFlight` stays within the claims) but are not
   * delivered until {@linkcode ChannelBook.deliver}. A process killed with packets in flight
   * leaves them here: cover the payer signed, never paid at a close (docs/PROTOCOL.md "Payment
   * channels and claims").
   */
  inFlight?: bigint;
  /** The peer's withdrawn total as recorded (channel file `peerWithdrawn`); resumed as noted. */
  peerWithdrawn?: bigint;
  /**
   * Shared books only: the town co-signed a cooperative settle of the channel, so no process
   * takes another claim or packet on it (roles/town/channels/channel_cosign_desk.ts).
   */
  closing?: boolean;
}

/**
 * The books of a party's channels, one {@linkcode ClaimBook} per channel id.
 *
 * @example
 * ```ts
 * import type { ChannelBook, ClaimBook } from "./channel_book.ts";
 *
 * // Charges a packet of `amount` to the channel, refusing it beyond the newest claim.
 * async function charge(books: ChannelBook, seed: ClaimBook, amount: bigint) {
 *   return await books.update(seed.channelId, seed, (book) => {
 *     if (book.forwarded + amount > book.claimed) throw new RangeError("not covered");
 *     return { ...book, forwarded: book.forwarded + amount };
 *   });
 * }
 * ```
 */
export interface ChannelBook {
  /**
   * True when other processes write the same books (the town's shared store): a book may then
   * hold a claim this process never saw, or be `closing` by another's co-sign.
   */
  readonly shared: boolean;
  /**
   * Locks the channel's book, passes it to `decide` (`seed` the first time, when there is no
   * book yet: the channel file's newest claim), and commits what `decide` returns. An error
   * thrown by `decide` rolls back and is rethrown: nothing changes.
   */
  update(
    channelId: `0x${string}`,
    seed: ClaimBook,
    decide: (book: ClaimBook) => ClaimBook | Promise<ClaimBook>,
  ): Promise<ClaimBook>;
  /**
   * Gives back `amount` of forwarded value (a packet accepted but then not fulfilled); on shared
   * books, of the value in flight.
   */
  release(channelId: `0x${string}`, amount: bigint): Promise<void>;
  /**
   * Shared books only: moves `amount` from in flight to delivered (`forwarded`), once the packet
   * is FULFILLed and before the FULFILL goes out.
   */
  deliver?(channelId: `0x${string}`, amount: bigint): Promise<void>;
  /** The book of a channel, if one was written. */
  read(channelId: `0x${string}`): Promise<ClaimBook | undefined>;
  /** Every book written, by channel id. */
  list(): Promise<ClaimBook[]>;
}

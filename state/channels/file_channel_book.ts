/**
 * The file backend of {@linkcode ChannelBook} (docs/ARCHITECTURE.md, "Where a channel's state
 * lives"): one process's own books, resumed from its channel files
 * (`channels/<id>.toml`, state/channels/channel_file.ts) and made durable into them by the channel file
 * writer, coalesced (`openChannelFileWriter`). The book of a channel is its file's `received*`
 * fields: `received` (the newest claim's cumulative amount), `received_nonce`,
 * `received_signature`, `received_forwarded` (the value delivered against it; absent in older
 * files and on the payer's side: all of `received`) and `peer_withdrawn`.
 * {@linkcode recordClaimBook} and {@linkcode recordWithClaimBook} are the two directions of
 * that mapping, the file format unchanged.
 *
 * @module
 */
import type { ChannelBook, ClaimBook } from "./channel_book.ts";
import type { ChannelRecord } from "./channel_file.ts";

/**
 * The book a channel file holds: the newest claim accepted from the peer and what was
 * forwarded against it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelRecord } from "./channel_file.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 2_000n,
 *   receivedNonce: 3n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const { nonce, claimed, forwarded } = recordClaimBook(record); // an older file: all forwarded
 * assert.deepEqual([nonce, claimed, forwarded], [3n, 2_000n, 2_000n]);
 * ```
 */
export function recordClaimBook(record: ChannelRecord): ClaimBook {
  return {
    channelId: record.channelId,
    nonce: record.receivedNonce,
    claimed: record.received,
    signature: record.receivedSignature,
    // What the file says was forwarded; older files: everything claimed.
    forwarded: record.receivedForwarded ?? record.received,
    // A restarted town must still cap claims at deposit - withdrawn.
    peerWithdrawn: record.peerWithdrawn,
  };
}

/**
 * The record with `book` as its newest received claim. `received_forwarded` is written as the
 * book's `forwarded` when `exactForwarded` (cover given back and maybe not spent yet) or when
 * running on credit, else as the claimed total: the safe side, with no write per packet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelRecord } from "./channel_file.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const signature = "0x01" as const;
 * const book = { ...recordClaimBook(record), nonce: 1n, claimed: 900n, forwarded: 700n, signature };
 * const next = recordWithClaimBook(record, book, false);
 * assert.deepEqual([next.receivedNonce, next.received, next.receivedForwarded], [1n, 900n, 900n]);
 * assert.equal(recordWithClaimBook(record, book, true).receivedForwarded, 700n);
 * ```
 */
export function recordWithClaimBook(
  record: ChannelRecord,
  book: ClaimBook,
  exactForwarded: boolean,
): ChannelRecord {
  return {
    ...record,
    received: book.claimed,
    receivedNonce: book.nonce,
    receivedSignature: book.signature,
    receivedForwarded: exactForwarded || book.forwarded > book.claimed
      ? book.forwarded
      : book.claimed,
  };
}

/**
 * One process's own channel books, in memory, resumed from the channel files
 * ({@linkcode recordClaimBook}); the channel file writer makes them durable. Updates run one
 * after the other. `decide` gets the book as it was when the update began and must not change
 * it; cover given back by {@linkcode FileChannelBook.release} while `decide` runs is taken off
 * what `decide` returns, so a release is never lost to an update that read the book before it
 * (docs/PROTOCOL.md "Payment channels and claims": a refused packet is not delivered).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelRecord } from "./channel_file.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 2_000n,
 *   receivedNonce: 3n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const books = new FileChannelBook([recordClaimBook(record)]);
 * const seed = recordClaimBook(record);
 * await books.update(record.channelId, seed, (b) => ({ ...b, forwarded: b.forwarded + 10n }));
 * assert.equal(books.current(record.channelId)?.forwarded, 2_010n);
 * await books.release(record.channelId, 10n); // the packet was refused: its cover comes back
 * assert.equal(books.current(record.channelId)?.forwarded, 2_000n);
 * ```
 */
export class FileChannelBook implements ChannelBook {
  /** Only this process writes these books. */
  readonly shared = false;
  readonly #books = new Map<string, ClaimBook>();
  // Cover given back so far, per channel: an update takes off what came back while it decided.
  readonly #released = new Map<string, bigint>();
  #queue: Promise<unknown> = Promise.resolve();

  /** Starts from `books` (a channel file's, {@linkcode recordClaimBook}). */
  constructor(books: readonly ClaimBook[] = []) {
    for (const book of books) this.#books.set(book.channelId.toLowerCase(), { ...book });
  }

  /** See {@linkcode ChannelBook.update}. */
  update(
    channelId: `0x${string}`,
    seed: ClaimBook,
    decide: (book: ClaimBook) => ClaimBook | Promise<ClaimBook>,
  ): Promise<ClaimBook> {
    const run = this.#queue.then(async () => {
      const key = channelId.toLowerCase();
      const before = this.#released.get(key) ?? 0n;
      const decided = await decide(this.#books.get(key) ?? seed);
      const during = (this.#released.get(key) ?? 0n) - before;
      const next = during === 0n
        ? decided
        : { ...decided, forwarded: less(decided.forwarded, during) };
      this.#books.set(key, next);
      return { ...next };
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** See {@linkcode ChannelBook.release}; takes effect at once. */
  release(channelId: `0x${string}`, amount: bigint): Promise<void> {
    const key = channelId.toLowerCase();
    // A new book, not a change of the one an update in progress read: that update takes the
    // amount off what it decides (counted here), and only once.
    const book = this.#books.get(key);
    if (book) this.#books.set(key, { ...book, forwarded: less(book.forwarded, amount) });
    this.#released.set(key, (this.#released.get(key) ?? 0n) + amount);
    return Promise.resolve();
  }

  /**
   * The book as it is now (a copy), at once: what a caller keeps after an update resolved,
   * with any release since.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileChannelBook } from "./file_channel_book.ts";
   *
   * const books = new FileChannelBook();
   * assert.equal(books.current(`0x${"c1".repeat(32)}`), undefined);
   * ```
   */
  current(channelId: `0x${string}`): ClaimBook | undefined {
    const book = this.#books.get(channelId.toLowerCase());
    return book ? { ...book } : undefined;
  }

  /** See {@linkcode ChannelBook.read}. */
  read(channelId: `0x${string}`): Promise<ClaimBook | undefined> {
    const book = this.#books.get(channelId.toLowerCase());
    return Promise.resolve(book ? { ...book } : undefined);
  }

  /** See {@linkcode ChannelBook.list}. */
  list(): Promise<ClaimBook[]> {
    const keys = [...this.#books.keys()].sort();
    return Promise.resolve(keys.map((k) => ({ ...this.#books.get(k)! })));
  }
}

/** `a - b`, never below 0. */
function less(a: bigint, b: bigint): bigint {
  return a > b ? a - b : 0n;
}

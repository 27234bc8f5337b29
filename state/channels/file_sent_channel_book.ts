/**
 * The file backend of state/channels/sent_channel_book.ts {@linkcode SentChannelBook} (docs/ARCHITECTURE.md,
 * "Where a channel's state lives"): one process's own channels it pays into, the newest claim it
 * signed on each, resumed from the channel files (`channels/<id>.toml`: `sent`, `sent_nonce`,
 * {@linkcode recordSentBook}) and made durable into them by each channel's sent claim writer
 * (state/channels/channel_file.ts `openSentClaimWriter`), coalesced: the file format unchanged.
 *
 * @module
 */
import type { ChannelRecord } from "./channel_file.ts";
import type { SentClaimWriter } from "./channel_writer.ts";
import {
  assertFollows,
  SentBookError,
  type SentChannelBook,
  type SentClaimBook,
} from "./sent_channel_book.ts";

/**
 * The payer's book a channel file holds: the newest claim signed on it.
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
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 1_500n, sentNonce: 2n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const { nonce, transferred } = recordSentBook(record);
 * assert.deepEqual([nonce, transferred], [2n, 1_500n]);
 * ```
 */
export function recordSentBook(record: ChannelRecord): SentClaimBook {
  return { channelId: record.channelId, nonce: record.sentNonce, transferred: record.sent };
}

/**
 * One process's books of the channels it pays into, in memory, each resumed from its channel
 * file's writer and kept into it. Each channel's updates run one after the other; the next one
 * decides on the book the previous one left, while the file write it asked for may still be
 * under way (the writer coalesces them); each update resolves once its claim is in the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChannelRecord, channelFilePath, readChannel } from "./channel_file.ts";
 * import { openSentClaimWriter } from "./channel_writer.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * const books = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
 * // The next claim, 1500 more, signed in `decide` and in the file when this resolves.
 * await books.update(record.channelId, (b) => ({ ...b, nonce: b.nonce + 1n, transferred: b.transferred + 1500n }));
 * assert.equal((await readChannel(channelFilePath(stateDir, record.channelId))).sent, 1500n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class FileSentChannelBook implements SentChannelBook {
  /** Only this process writes these books. */
  readonly shared = false;
  readonly #books = new Map<string, SentClaimBook>();
  readonly #writers = new Map<string, SentClaimWriter>();
  readonly #queues = new Map<string, Promise<unknown>>();

  /** Starts from each writer's channel file as last written. */
  constructor(writers: readonly SentClaimWriter[] = []) {
    for (const writer of writers) this.add(writer);
  }

  /** Holds one more channel, resumed from its writer's record. */
  add(writer: SentClaimWriter): void {
    const book = recordSentBook(writer.record());
    const key = book.channelId.toLowerCase();
    this.#books.set(key, book);
    this.#writers.set(key, writer);
  }

  /**
   * The channel's book as the newest update left it, at once (a claim decided and not yet in
   * the file shows).
   */
  current(channelId: `0x${string}`): SentClaimBook | undefined {
    const book = this.#books.get(channelId.toLowerCase());
    return book && { ...book };
  }

  /** See {@linkcode SentChannelBook.update}. */
  async update(
    channelId: `0x${string}`,
    decide: (
      book: SentClaimBook,
    ) => SentClaimBook | undefined | Promise<SentClaimBook | undefined>,
  ): Promise<SentClaimBook> {
    const { decided, kept } = this.decideThenKeep(channelId, decide);
    decided.catch(() => {});
    return await kept;
  }

  /**
   * {@linkcode FileSentChannelBook.update} in its two steps: `decided` resolves once the claim
   * is decided (the next update may then decide on it), `kept` once it is in the file. A
   * refused decision rejects both; a failed write, only `kept`. A payer signing ahead of its
   * file writes (a BtpClient's `claims`: `pay`, then `persist`) waits on each where it did.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import type { ChannelRecord } from "./channel_file.ts";
   * import { openSentClaimWriter } from "./channel_writer.ts";
   *
   * const record: ChannelRecord = {
   *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
   *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
   *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
   *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
   *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
   * };
   * const stateDir = await Deno.makeTempDir();
   * const books = new FileSentChannelBook([openSentClaimWriter({ stateDir, record })]);
   * const { decided, kept } = books.decideThenKeep(
   *   record.channelId,
   *   (b) => ({ ...b, nonce: b.nonce + 1n, transferred: 500n }),
   * );
   * const book = await decided; // signed on; not sent before:
   * await kept;
   * assert.equal(book.nonce, 1n);
   * await Deno.remove(stateDir, { recursive: true });
   * ```
   */
  decideThenKeep(
    channelId: `0x${string}`,
    decide: (
      book: SentClaimBook,
    ) => SentClaimBook | undefined | Promise<SentClaimBook | undefined>,
  ): { decided: Promise<SentClaimBook>; kept: Promise<SentClaimBook> } {
    const key = channelId.toLowerCase();
    const writer = this.#writers.get(key);
    if (writer === undefined) {
      const refused = Promise.reject(new SentBookError(`no book of channel ${channelId}`));
      return { decided: refused, kept: refused };
    }
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(async () => {
      const book = this.#books.get(key)!;
      const next = await decide({ ...book });
      if (next === undefined) return { book: { ...book }, changed: false };
      assertFollows(book, next);
      const kept = { ...next, channelId: book.channelId };
      this.#books.set(key, kept);
      return { book: { ...kept }, changed: true };
    });
    this.#queues.set(key, run.catch(() => {}));
    const kept = run.then(async ({ book, changed }) => {
      if (changed) await writer.save({ nonce: book.nonce, transferredAmount: book.transferred });
      return book;
    });
    return { decided: run.then(({ book }) => book), kept };
  }

  /** See {@linkcode SentChannelBook.read}. */
  read(channelId: `0x${string}`): Promise<SentClaimBook | undefined> {
    return Promise.resolve(this.current(channelId));
  }

  /** See {@linkcode SentChannelBook.list}. */
  list(): Promise<SentClaimBook[]> {
    const keys = [...this.#books.keys()].sort();
    return Promise.resolve(keys.map((k) => ({ ...this.#books.get(k)! })));
  }
}

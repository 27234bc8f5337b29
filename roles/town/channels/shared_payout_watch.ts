/**
 * The watch of a town's payout channels when its processes share one PostgreSQL store
 * (docs/OPERATIONS.md "The town's payout channels on chain"): the same rule as a one-process
 * town's (roles/town/channels/payout_channel_watch.ts), on the shared rows
 * (state/postgres/postgres_payout_books.ts). Every process polls the chain for the channels in the books:
 *
 * - a close by the peer marks the row `closed`; every process's claim reads the row under its
 *   lock, so none is signed on the channel after;
 * - once the settle timeout is over, one process settles it (the row taken with `SKIP LOCKED`:
 *   the others skip it) and the row is `settled` with the transaction; a settle someone else
 *   sent first (the peer, another process that lost its database connection mid-settle) is
 *   booked the same, and so is a channel found already gone (settled while the town was down):
 *   one rule with the file-backed town's (roles/channels/settle_or_book.ts), its fallback too
 *   (the chain's logs unreadable: booked by the row's newest claim);
 * - each process books its own books' share of what the settle paid on its ledger (`settled`),
 *   once.
 *
 * The row stays, so no process opens another channel to the peer.
 *
 * A poll reads on chain only the channels it must, as the channel watcher does
 * (roles/channels/channel_watcher.ts): those the chain's events name since the last poll
 * (chain/channel_event_feed.ts, one `eth_getLogs` for them all), those closed (their settle
 * timeout runs without events), those new to this process or whose last read failed, and every
 * channel every {@linkcode FULL_READ_EVERY} polls. A town paying hundreds of providers made one
 * `getChannel` a channel a poll in each process before (docs/SCALE.md "The payout watch reads
 * what the chain's events name").
 *
 * @module
 */
import type { PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type {
  PayoutChannelRow,
  PayoutSettle,
  PostgresPayoutBooks,
} from "../../../state/postgres/postgres_payout_books.ts";
import type { ChannelChain } from "../../channels/channel_chain_sync.ts";
import { settlementBy, settleOrBook } from "../../channels/settle_or_book.ts";
import { FULL_READ_EVERY, pollReads } from "../../channels/channel_watcher.ts";

/** Options for {@linkcode SharedPayoutWatch}. */
export interface SharedPayoutWatchOptions {
  books: PostgresPayoutBooks;
  /** This process's books' key in the shared store. */
  booksId: string;
  /** This process's ledger: its share of a settle is booked there. */
  ledger: PeerLedger;
  /** The town's chain client (its key sends the settle); `address` is the town's. */
  chain: ChannelChain & { address: `0x${string}` };
  log?: (line: string) => void;
}

/**
 * One town process's watch of the shared payout channels; {@linkcode SharedPayoutWatch.check}
 * polls them all once.
 *
 * It needs PostgreSQL and a chain: no example that runs here:
 * tests/interop/anvil_shared_payout_watch_test.ts.
 */
export class SharedPayoutWatch {
  readonly #o: SharedPayoutWatchOptions;
  /** Channels whose settle this process booked on its ledger (lowercase id). */
  readonly #booked = new Set<string>();
  #checking: Promise<void> | undefined;
  #stopped = false;
  /** The event feed's cursor as of the last poll. */
  #cursor: bigint | undefined;
  #polls = 0;
  /** Channels read once by this process (lowercase id); the others are read at the next poll. */
  readonly #read = new Set<string>();

  constructor(options: SharedPayoutWatchOptions) {
    this.#o = options;
  }

  /** Polls every payout channel in the books once (a poll under way is joined). */
  check(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#checking ??= this.#checkAll().finally(() => this.#checking = undefined);
    return this.#checking;
  }

  /** No poll after; waits for the one under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#checking;
  }

  async #checkAll(): Promise<void> {
    // A poll runs from a timer: a rejection here would end the process (PostgreSQL restarting
    // answers "the database system is starting up"). Said, and read again at the next poll.
    let rows: PayoutChannelRow[];
    try {
      rows = await this.#o.books.channels();
    } catch (err) {
      this.#o.log?.(`payouts: channels not read: ${(err as Error).message.split("\n")[0]}`);
      return;
    }
    const full = this.#polls++ % FULL_READ_EVERY === 0;
    // The chain's events since the last poll, asked before any channel is read: an event after
    // this answer is in the next one (chain/channel_event_feed.ts).
    const { chain } = this.#o;
    const events = chain.touchedChannels
      ? await chain.touchedChannels(this.#cursor).catch(() => undefined)
      : undefined;
    for (const row of rows) {
      if (this.#stopped) return;
      const id = row.channelId.toLowerCase();
      const read = pollReads({
        full,
        events,
        unread: !this.#read.has(id),
        closed: row.status === "closed",
        channelId: id,
      });
      try {
        await this.#checkOne(row, read);
        if (read) this.#read.add(id);
      } catch (err) {
        this.#read.delete(id);
        this.#o.log?.(
          `payouts: channel ${row.channelId} not synced: ${(err as Error).message.split("\n")[0]}`,
        );
      }
    }
    if (events !== undefined && !this.#stopped) this.#cursor = events.head;
  }

  /** One row: read on chain when `read` (else only booked once settled), settled when due. */
  async #checkOne(row: PayoutChannelRow, read: boolean): Promise<void> {
    const { books, chain } = this.#o;
    const log = (line: string) =>
      this.#o.log?.(`payout ${row.account}: channel ${row.channelId} ${line}`);
    if (row.status !== "settled") {
      if (!read) return;
      const onChain = await chain.getChannel(row.channelId);
      if (onChain.state === "opened") return;
      if (onChain.state === "closed") {
        if (await books.markClosed(row.channelId, onChain.settleAt)) {
          log(
            "closed on chain by the peer: no claim is signed on it now; settled after its timeout",
          );
        }
        if (await chain.chainTime() <= onChain.settleAt) return;
      }
      // Undefined: not due, or another process holds the row (it books the settle).
      const settled = await books.settleOnce(row.channelId, (r) => this.#settle(r));
      if (settled) {
        log(`settled on chain (${settled.settledBy}): the peer was paid ${settled.paid}`);
      }
    }
    await this.#book(row.account, row.channelId);
  }

  /**
   * Under the row's lock: the chain read again, settled when due, or booked when someone else
   * settled first (roles/channels/settle_or_book.ts); undefined when not due. Paid: the town's
   * proof the settle paid by, or, when the chain's logs are unreadable, the town's newest claim,
   * as a file-backed town books it (docs/OPERATIONS.md "The payout channels of a town of several
   * processes").
   */
  async #settle(row: PayoutChannelRow): Promise<PayoutSettle | undefined> {
    const settlement = await settleOrBook(this.#o.chain, row);
    if (settlement === undefined) return undefined;
    const { proofs, unreadable } = settlement;
    const self = this.#o.chain.address.toLowerCase();
    const paid = proofs === undefined ? row.transferred : proofs[self]?.transferredAmount ?? 0n;
    const by = settlementBy(settlement);
    return {
      settledBy: unreadable === undefined
        ? by
        : `${by} (booked by the newest claim: logs unreadable: ${unreadable})`,
      paid,
    };
  }

  /** Once the row is settled (by any process): this process's share on its ledger, once. */
  async #book(account: string, channelId: string): Promise<void> {
    const id = channelId.toLowerCase();
    if (this.#booked.has(id)) return;
    const { books, booksId, ledger } = this.#o;
    if ((await books.channel(account))?.status !== "settled") return;
    const balance = ledger.balance(account);
    // One channel per peer ever: a settled line on the ledger is this channel's.
    if (balance.settled === 0n) {
      const share = await books.settledShare(account, booksId);
      // A share on books that have not taken the channel's claims yet (the payouts' sweep
      // records them): booked at a later poll.
      if (share > 0n && balance.payoutChannel?.toLowerCase() !== id) return;
      if (share > 0n) {
        await ledger.settled(account, channelId, share);
        this.#o.log?.(
          `payout ${account}: channel ${channelId} settled: ${share} of it booked here`,
        );
      }
    }
    this.#booked.add(id);
  }
}

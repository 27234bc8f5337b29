/**
 * Which channels of one TokenNetwork had an on-chain event since the last look: one `eth_blockNumber`
 * and one `eth_getLogs` for every channel a process watches, instead of reading each channel
 * (three `eth_call`s) on every poll. The channel watcher (roles/channels/channel_watcher.ts)
 * then reads only the channels named, plus those it must read anyway; docs/ARCHITECTURE.md
 * "The roles" says when.
 *
 * Every event of the contract names its channel as the first indexed argument (topic 1):
 * `ChannelOpened`, `ChannelNewDeposit`, `ChannelClosed`, `BalanceProofUpdated`,
 * `ChannelWithdraw`, `ChannelSettled` (chain/contracts/TokenNetwork.sol).
 *
 * A feed is shared by every watcher of the process on the same RPC URL and contract
 * ({@linkcode sharedChannelEventFeed}), and scans at most once per `minScanIntervalMs`: a
 * process with hundreds of agents makes one call per interval, not one per channel.
 *
 * @module
 */

/** The read calls a feed makes: viem's public client fits. */
export interface ChannelLogReader {
  getBlockNumber(args?: { cacheTime?: number }): Promise<bigint>;
  getLogs(args: {
    address: `0x${string}`;
    fromBlock: bigint;
    toBlock: bigint;
  }): Promise<
    readonly {
      blockHash: string | null;
      logIndex: number | null;
      topics: readonly string[];
    }[]
  >;
}

/** Options for {@linkcode ChannelEventFeed}. */
export interface ChannelEventFeedOptions {
  reader: ChannelLogReader;
  /** The TokenNetwork contract. */
  address: `0x${string}`;
  /** Scans closer together than this share the last one. Default 1,000 ms. */
  minScanIntervalMs?: number;
  /** Events kept; a caller whose cursor is older than the oldest kept reads all. Default 4,096. */
  maxRetained?: number;
  /** A gap of more blocks than this is not scanned: callers read all instead. Default 5,000. */
  maxBlockRange?: bigint;
}

/** What {@linkcode ChannelEventFeed.touchedSince} answers. */
export interface TouchedChannels {
  /** The feed's cursor now: the next call's `since`. */
  head: bigint;
  /**
   * Lower-case ids of the channels with an event the feed found after the cursor `since`;
   * undefined when it cannot tell (no `since`, or one older than what it kept): read every
   * channel.
   */
  touched?: ReadonlySet<string>;
}

/**
 * Blocks scanned again on every scan: an event of a block a reorganisation replaced comes back
 * with another block hash, and is new.
 */
export const REORG_DEPTH = 8n;

/**
 * One TokenNetwork's recent channel events. The cursor is the feed's count of scans, not a
 * block: an event is reported once to each caller, in the first answer after the scan that
 * found it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelEventFeed } from "./channel_event_feed.ts";
 *
 * // A stand-in for viem's public client: the chain's head and the contract's logs.
 * let block = 100n;
 * let logs: { blockHash: string; logIndex: number; topics: string[] }[] = [];
 * const reader = {
 *   getBlockNumber: () => Promise.resolve(block),
 *   getLogs: () => Promise.resolve(logs),
 * };
 * const address = `0x${"cd".repeat(20)}` as const;
 * const feed = new ChannelEventFeed({ reader, address, minScanIntervalMs: 0 });
 * const first = await feed.touchedSince(undefined);
 * assert.equal(first.touched, undefined); // no cursor yet: read every channel
 * const channelId = `0x${"ab".repeat(32)}`;
 * block = 101n;
 * const topics = [`0x${"ee".repeat(32)}`, channelId]; // the event's signature, the channel
 * logs = [{ blockHash: `0x${"01".repeat(32)}`, logIndex: 0, topics }];
 * const next = await feed.touchedSince(first.head);
 * assert.deepEqual([...next.touched ?? []], [channelId]); // the channels with events since
 * ```
 */
export class ChannelEventFeed {
  readonly #o: ChannelEventFeedOptions;
  /** Events found, oldest first, with the scan that found them. */
  #events: { scan: bigint; id: string; key: string }[] = [];
  #keys = new Set<string>();
  /** Scans done; cursors below `#oldest` cannot be answered. */
  #scans = 0n;
  #oldest = 1n;
  /** First block of the current history; undefined before the first scan. */
  #from: bigint | undefined;
  #scanned = -1n;
  #scanning: Promise<void> | undefined;
  #scannedAt = -Infinity;

  constructor(options: ChannelEventFeedOptions) {
    this.#o = options;
  }

  /** The channels with an event after cursor `since` (see {@linkcode TouchedChannels}). */
  async touchedSince(since: bigint | undefined): Promise<TouchedChannels> {
    if (performance.now() - this.#scannedAt >= (this.#o.minScanIntervalMs ?? 1_000)) {
      await (this.#scanning ??= this.#scan().finally(() => this.#scanning = undefined));
    } else if (this.#scanning) await this.#scanning;
    const head = this.#scans;
    if (since === undefined || since < this.#oldest) return { head };
    const touched = new Set<string>();
    for (const e of this.#events) if (e.scan > since) touched.add(e.id);
    return { head, touched };
  }

  async #scan(): Promise<void> {
    const head = await this.#o.reader.getBlockNumber({ cacheTime: 0 });
    this.#scannedAt = performance.now();
    if (this.#from === undefined || head - this.#scanned > (this.#o.maxBlockRange ?? 5_000n)) {
      // Nothing known before: every cursor so far is too old; the last REORG_DEPTH blocks are
      // scanned.
      this.#events = [];
      this.#keys.clear();
      this.#oldest = this.#scans + 1n;
      this.#from = head + 1n > REORG_DEPTH ? head + 1n - REORG_DEPTH : 0n;
      this.#scanned = this.#from - 1n;
    }
    // No new block: nothing new (a reorganisation to the same height is the full reads' to see).
    if (head <= this.#scanned) return;
    const fromBlock = this.#scanned + 1n - REORG_DEPTH > this.#from
      ? this.#scanned + 1n - REORG_DEPTH
      : this.#from;
    const logs = await this.#o.reader.getLogs({
      address: this.#o.address,
      fromBlock,
      toBlock: head,
    });
    const scan = ++this.#scans;
    for (const log of logs) {
      const id = log.topics[1];
      if (id === undefined || log.blockHash === null) continue;
      const key = `${log.blockHash}:${log.logIndex}`;
      if (this.#keys.has(key)) continue;
      this.#keys.add(key);
      this.#events.push({ scan, id: id.toLowerCase(), key });
    }
    const max = this.#o.maxRetained ?? 4_096;
    if (this.#events.length > max) {
      const dropped = this.#events.splice(0, this.#events.length - max);
      for (const e of dropped) this.#keys.delete(e.key);
      // A caller whose cursor is before the last dropped event's scan may not have seen it.
      this.#oldest = dropped[dropped.length - 1].scan;
    }
    this.#scanned = head;
  }
}

const shared = new Map<string, ChannelEventFeed>();

/**
 * The process's feed for a contract on an RPC URL, made on first use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedChannelEventFeed } from "./channel_event_feed.ts";
 *
 * const reader = {
 *   getBlockNumber: () => Promise.resolve(100n),
 *   getLogs: () => Promise.resolve([]),
 * };
 * const address = `0x${"cd".repeat(20)}` as const;
 * const feed = sharedChannelEventFeed("http://127.0.0.1:8545", address, reader);
 * // One per process, contract and RPC URL:
 * assert.equal(sharedChannelEventFeed("http://127.0.0.1:8545", address, reader), feed);
 * ```
 */
export function sharedChannelEventFeed(
  rpcUrl: string,
  address: `0x${string}`,
  reader: ChannelLogReader,
): ChannelEventFeed {
  const key = `${rpcUrl} ${address.toLowerCase()}`;
  let feed = shared.get(key);
  if (feed === undefined) {
    feed = new ChannelEventFeed({ reader, address });
    shared.set(key, feed);
  }
  return feed;
}

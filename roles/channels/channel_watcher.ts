/**
 * Watches a running node's payment channels on chain: polls (default every 15 s, config
 * `[channels] watch_interval` in seconds) and, when the chain is
 * ahead of the channel file (the peer closed, the channel was settled, a deposit was raised),
 * updates the file and the audit trail through the channel's owner (so the write is ordered
 * with the claim writes of that file) and tells the owner, which stops paying or accepting
 * claims on a channel that is no longer open. The chain calls that protect our money (our
 * newest claim submitted when the peer closed with an older one; settle after the timeout
 * with `autoSettle`) are roles/channels/channel_chain_sync.ts's.
 *
 * A poll reads only the channels the chain's events name since the last one (one `eth_getLogs`
 * for the process, chain/channel_event_feed.ts), closed channels (their settle timeout is a
 * clock) and new ones; every {@linkcode FULL_READ_EVERY} polls it reads them all, so a node
 * watching hundreds of channels makes a few calls per poll, not three per channel.
 *
 * A read that fails (RPC down) is reported and retried at the next tick: the watcher never
 * stops a node.
 *
 * @module
 */
import type { TouchedChannels } from "../../chain/channel_event_feed.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { DEFAULT_WATCH_INTERVAL_MS } from "../../config/channel_settings.ts";
import { type ChannelChain, mergeChainSync, syncChannelWithChain } from "./channel_chain_sync.ts";

/**
 * One channel under watch, as its owner holds it: the town's `ChannelClaimGate` or a sender's
 * `SentClaimWriter` fit, plus the chain client.
 */
export interface WatchedChannel {
  /** The record as last written by the owner. */
  record(): ChannelRecord;
  /**
   * The record with the newest claim known anywhere, when the owner's file may be behind (a town
   * on several processes: its shared books); read before each poll, so a close by the peer is
   * answered with that claim. Absent: `record()`.
   */
  newest?(): Promise<ChannelRecord>;
  /** Writes a change (channel file + audit), ordered with the owner's own writes. */
  update(
    change: (record: ChannelRecord) => ChannelRecord,
    save: { action: string; fields?: Record<string, string> },
  ): Promise<ChannelRecord>;
  chain: ChannelChain;
}

/**
 * Polls between two reads of every channel (20: every 5 minutes at the default 15 s). In
 * between, a chain client with `touchedChannels` (chain/channel_event_feed.ts) has only the
 * channels with on-chain events read, and closed ones (their settle timeout is a clock).
 */
export const FULL_READ_EVERY = 20;

/** A change the watcher saved. */
export interface ChannelChange {
  before: ChannelRecord;
  record: ChannelRecord;
  action: "update" | "close" | "settle";
  fields: Record<string, string>;
}

/** Options for {@linkcode startChannelWatcher}. */
export interface ChannelWatcherOptions {
  channels: readonly WatchedChannel[];
  /** Poll period. Default `DEFAULT_WATCH_INTERVAL_MS` (config/channel_settings.ts, 15 s). */
  intervalMs?: number;
  /**
   * Every how many polls every channel is read, whatever the chain's events say (the first
   * poll always is). Default {@linkcode FULL_READ_EVERY}.
   */
  fullReadEvery?: number;
  /** Settle closed channels after their timeout. Default false (the town passes true). */
  autoSettle?: boolean;
  /** Told after each saved change (the owner stops using a closed channel). */
  onChange?: (change: ChannelChange) => void;
  /** Told about a poll that failed (RPC down, a transaction refused). */
  onError?: (channelId: `0x${string}`, err: Error) => void;
}

/** A running watcher. */
export interface ChannelWatcher extends AsyncDisposable {
  /** Polls every channel now; resolves when done (tests, and the check at start). */
  check(): Promise<ChannelChange[]>;
  /** Watches one more channel from the next poll on (a town that learned a channel). */
  add(channel: WatchedChannel): void;
  /** Stops polling and waits for a poll in progress. */
  stop(): Promise<void>;
}

/** What a poll knows of one channel, for {@linkcode pollReads}. */
export interface PollReadsOptions {
  /** This poll reads every channel (every {@linkcode FULL_READ_EVERY}th, the first). */
  full: boolean;
  /** The chain's events since the last poll; undefined when they could not be asked. */
  events: TouchedChannels | undefined;
  /** Not read yet by this watch, or its last read failed. */
  unread: boolean;
  /** Closed: it waits for its settle timeout, and the clock moves without events. */
  closed: boolean;
  channelId: string;
}

/**
 * Whether a poll reads a channel on chain: a full poll, the chain's events unknown or naming it,
 * a channel unread or closed. The one rule of this watch and of a shared town's payout watch
 * (roles/town/channels/shared_payout_watch.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const quiet = { full: false, events: { head: 2n, touched: new Set<string>() }, unread: false };
 * assert.equal(pollReads({ ...quiet, closed: false, channelId: "0xAB" }), false);
 * assert.equal(pollReads({ ...quiet, closed: true, channelId: "0xAB" }), true);
 * ```
 */
export function pollReads(o: PollReadsOptions): boolean {
  return o.full || o.events?.touched === undefined || o.unread || o.closed ||
    o.events.touched.has(o.channelId.toLowerCase());
}

/**
 * Starts polling. The first poll runs after one interval; call `check()` for one at once.
 *
 * It watches a chain: no example that runs here: tests/interop/anvil_channel_event_feed_test.ts.
 */
export function startChannelWatcher(options: ChannelWatcherOptions): ChannelWatcher {
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const fullEvery = Math.max(1, options.fullReadEvery ?? FULL_READ_EVERY);
  let running: Promise<ChannelChange[]> | undefined;
  let stopped = false;
  const channels = [...options.channels];
  // Channels to read at the next poll whatever the chain's events say: added since the last
  // poll, or whose last read failed.
  const unread = new Set<WatchedChannel>(channels);
  // Per chain client: the event feed's cursor (`head`) as of the last poll.
  const cursors = new Map<ChannelChain, bigint>();
  let polls = 0;
  const pollAll = async (): Promise<ChannelChange[]> => {
    const changes: ChannelChange[] = [];
    const full = polls++ % fullEvery === 0;
    const byChain = new Map<ChannelChain, WatchedChannel[]>();
    for (const channel of channels) {
      const group = byChain.get(channel.chain) ?? [];
      group.push(channel);
      byChain.set(channel.chain, group);
    }
    for (const [chain, group] of byChain) {
      if (stopped) break;
      // The chain's events since the last poll, asked before any channel is read: an event
      // after this answer is in the next one (chain/channel_event_feed.ts).
      const events = chain.touchedChannels
        ? await chain.touchedChannels(cursors.get(chain)).catch(() => undefined)
        : undefined;
      for (const channel of group) {
        if (stopped) break;
        const record = channel.record();
        const read = pollReads({
          full,
          events,
          unread: unread.has(channel),
          closed: record.status === "closed",
          channelId: record.channelId,
        });
        if (!read) continue;
        unread.delete(channel);
        const change = await pollOne(channel, options).catch((err) => {
          options.onError?.(record.channelId, err as Error);
          unread.add(channel);
          return undefined;
        });
        if (change) changes.push(change);
      }
      if (events !== undefined && !stopped) cursors.set(chain, events.head);
    }
    return changes;
  };
  // Polls never overlap: a slow RPC delays the next tick instead of stacking calls.
  const check = (): Promise<ChannelChange[]> =>
    running ??= pollAll().finally(() => running = undefined);
  const timer = setInterval(() => {
    if (!running && !stopped) check().catch(() => {});
  }, intervalMs);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    })();
  return {
    check,
    add: (channel) => {
      channels.push(channel);
      unread.add(channel);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function pollOne(
  channel: WatchedChannel,
  options: ChannelWatcherOptions,
): Promise<ChannelChange | undefined> {
  const before = channel.newest ? await channel.newest() : channel.record();
  if (before.status === "settled") return undefined;
  const sync = await syncChannelWithChain(before, channel.chain, {
    autoSettle: options.autoSettle,
  });
  if (!sync.action) return undefined;
  const record = await channel.update((now) => mergeChainSync(now, sync.record), {
    action: sync.action,
    fields: sync.fields,
  });
  const change = { before, record, action: sync.action, fields: sync.fields };
  options.onChange?.(change);
  return change;
}

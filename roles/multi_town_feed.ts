/**
 * The feed of a node on several towns: one {@linkcode openEventFeed} per town's relay, each
 * with the same filters (each reconnects and catches up on its own with its since-cursor,
 * `stages/relay_source.ts`), merged so that each event is handed on once, by whichever town
 * delivered it first (NIP-65's client side; docs/ARCHITECTURE.md, "Several towns").
 *
 * @module
 */
import type { SummaryChunk } from "../stages/chunks.ts";
import { type EventFeed, type EventFeedOptions, openEventFeed } from "./event_feed.ts";
import { SeenEventIds } from "../protocol/seen_event_ids.ts";

/** Options for {@linkcode openMultiTownFeed}. */
export interface MultiTownFeedOptions
  extends Omit<EventFeedOptions, "relay" | "onEvent" | "onLog"> {
  /** The towns' relay URLs (`ws://` or `wss://`); duplicates are followed once. */
  relays: string[];
  /** Each event once, with the relay that delivered it first. */
  onEvent: (event: SummaryChunk, relay: string) => void | Promise<void>;
  /** A relay source's disconnects, CLOSED and NOTICE messages, with its relay. */
  onLog?: (entry: Parameters<NonNullable<EventFeedOptions["onLog"]>>[0], relay: string) => void;
  /** Event ids remembered for deduplication (default 100,000). */
  maxSeen?: number;
  /** The ids seen, shared with another feed so that each event is handed on once across both. */
  seen?: SeenEventIds;
}

/** A running feed over several towns. */
export interface MultiTownFeed extends EventFeed {
  /** The relays followed. */
  readonly relays: string[];
  /** Events handed on, and copies dropped because another town delivered them first. */
  readonly counts: { delivered: number; duplicates: number };
}

/**
 * Opens one feed per relay and merges them.
 *
 * It follows several towns' relays, so it has no example here: tests/e2e/town_network_test.ts
 * runs a provider whose feed follows three towns through it.
 */
export async function openMultiTownFeed(options: MultiTownFeedOptions): Promise<MultiTownFeed> {
  const relays = [...new Set(options.relays)];
  if (relays.length === 0) throw new RangeError("a feed needs at least one relay");
  const seen = options.seen ?? new SeenEventIds({ max: options.maxSeen });
  const counts = { delivered: 0, duplicates: 0 };
  const feeds: EventFeed[] = [];
  try {
    for (const relay of relays) {
      feeds.push(
        await openEventFeed({
          ...options,
          relay,
          onEvent: (event) => {
            if (!seen.firstTime(event.id)) {
              counts.duplicates++;
              return;
            }
            counts.delivered++;
            return options.onEvent(event, relay);
          },
          onLog: (entry) => options.onLog?.(entry, relay),
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(feeds.map((f) => f.close()));
    throw err;
  }
  const description = feeds.length === 1
    ? feeds[0].description
    : `${feeds.length} towns, each: ${feeds[0].description}`;
  return {
    relays,
    counts,
    mode: feeds[0].mode,
    description,
    errors: () => feeds.flatMap((f) => f.errors()),
    // Ends when every town's feed ended (a town refusing us for good leaves the others).
    done: Promise.all(feeds.map((f) => f.done)).then(() => {}),
    close: async () => {
      await Promise.allSettled(feeds.map((f) => f.close()));
    },
  };
}

/**
 * One query on several towns' relays at once ({@linkcode queryRelay} on each, in parallel), the
 * events merged by id (the same event stored on several towns counts once). A town that cannot
 * be read is reported, not fatal, while another answered.
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";
import { queryRelay, type QueryRelayOptions, type RelayQueryResult } from "./relay_query.ts";

/** A relay of the query that could not be read. */
export interface RelayQueryFailure {
  relayUrl: string;
  error: Error;
}

/** What {@linkcode queryRelays} collected. */
export interface ManyRelayQueryResult extends Pick<RelayQueryResult, "rejected" | "bytes"> {
  /** Verified matching events, each id once, in the order they first came. */
  events: NostrEvent[];
  /** The relays that answered. */
  answered: string[];
  /** The relays that could not be read. */
  failures: RelayQueryFailure[];
}

/**
 * Queries every relay; fails only when none answered (with the first relay's error).
 *
 * @example
 * ```ts
 * const { events, failures } = await queryRelays(
 *   ["ws://127.0.0.1:7100", "ws://127.0.0.1:7200"],
 *   [{ kinds: [31990], limit: 100 }],
 * );
 * ```
 * @throws {RelayQueryError} when no relay could be read.
 */
export async function queryRelays(
  relayUrls: readonly string[],
  filters: readonly NostrFilter[],
  options: QueryRelayOptions = {},
): Promise<ManyRelayQueryResult> {
  const relays = [...new Set(relayUrls)];
  const outcomes = await Promise.allSettled(relays.map((r) => queryRelay(r, filters, options)));
  const byId = new Map<string, NostrEvent>();
  const result: ManyRelayQueryResult = {
    events: [],
    rejected: [],
    bytes: 0,
    answered: [],
    failures: [],
  };
  outcomes.forEach((outcome, i) => {
    if (outcome.status === "rejected") {
      result.failures.push({ relayUrl: relays[i], error: outcome.reason as Error });
      return;
    }
    result.answered.push(relays[i]);
    result.rejected.push(...outcome.value.rejected);
    result.bytes += outcome.value.bytes;
    for (const event of outcome.value.events) if (!byId.has(event.id)) byId.set(event.id, event);
  });
  if (result.answered.length === 0) throw result.failures[0].error;
  result.events = [...byId.values()];
  return result;
}

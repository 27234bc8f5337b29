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
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { queryRelays } from "./relay_query_many.ts";
 *
 * const stored = finalizeEvent({ kind: 31990, created_at: 1, tags: [], content: "" }, generateSecretKey());
 * // A relay stand-in on a free port: answers a REQ with its one event, then EOSE.
 * await using relay = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   socket.onmessage = ({ data }) => {
 *     const [, subId] = JSON.parse(data);
 *     socket.send(JSON.stringify(["EVENT", subId, stored]));
 *     socket.send(JSON.stringify(["EOSE", subId]));
 *   };
 *   return response;
 * });
 * const url = `ws://127.0.0.1:${relay.addr.port}`;
 * // The second relay is a port nothing listens on.
 * const { events, failures } = await queryRelays([url, "ws://127.0.0.1:9"], [{ kinds: [31990] }]);
 * assert.deepEqual(events.map((e) => e.id), [stored.id]);
 * assert.equal(failures.length, 1);
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

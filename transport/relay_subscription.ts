/**
 * A live NIP-01 subscription for a viewer: one REQ kept open, the stored events delivered, then
 * EOSE, then each new event as the relay sends it. Every event is verified (id and signature,
 * JSON or Crosstown TOON form) and matched against the filters before it is handed on; the
 * rest are dropped. No reconnection: the caller sees the close and decides (a viewer starts a
 * fresh subscription, which resends what it missed). A CLOSED `rate-limited:` (a busy town's
 * "retry later") is not a close: the REQ is sent again after 100, 200, 400 ms... up to 5 times.
 * It is the live mode, without reconnection, of the one NIP-01 client,
 * `transport/nip01_client.ts` (docs/ARCHITECTURE.md "The NIP-01 client").
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";
import { openNip01Client } from "./nip01_client.ts";
import { checkRelayEvent } from "./relay_event_check.ts";

/** REQs refused `rate-limited:` sent again before the refusal ends the subscription. */
const MAX_BUSY_RETRIES = 5;

/** Options for {@linkcode subscribeRelay}. */
export interface RelaySubscriptionOptions {
  /** Called with each verified, matching event. */
  onEvent: (event: NostrEvent) => void;
  /** Called once the stored events have all been sent. */
  onEose?: () => void;
  /** Called once when the subscription ends, with why (never after `close()`). */
  onClose?: (reason: string) => void;
  /** Largest message accepted, bytes (default 4 MiB). */
  maxMessageBytes?: number;
}

/** An open subscription. */
export interface RelaySubscription {
  /** Ends the subscription and the connection. */
  close(): void;
}

/**
 * Opens a WebSocket to `url` and subscribes with `filters`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { subscribeRelay } from "./relay_subscription.ts";
 *
 * const stored = finalizeEvent({ kind: 7000, created_at: 1, tags: [], content: "" }, generateSecretKey());
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
 * const { promise, resolve } = Promise.withResolvers<string>();
 * const sub = subscribeRelay(url, [{ kinds: [7000] }], { onEvent: (e) => resolve(e.id) });
 * assert.equal(await promise, stored.id);
 * sub.close();
 * ```
 */
export function subscribeRelay(
  url: string,
  filters: readonly NostrFilter[],
  options: RelaySubscriptionOptions,
): RelaySubscription {
  const maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const client = openNip01Client(url, filters, {
    subId: `s-${crypto.randomUUID().slice(0, 8)}`,
    maxMessageBytes: maxBytes,
    retryLater: { maxRetries: MAX_BUSY_RETRIES, initialMs: 100 },
    onEvent: (message) => {
      // A forged or malformed event is the relay's problem, not the viewer's: it is not shown.
      const check = checkRelayEvent(message, filters, maxBytes);
      if ("event" in check) options.onEvent(check.event);
    },
    onEose: options.onEose,
    // The client's words are the subscription's: "cannot reach <url>", "<url> closed the
    // connection", "the relay refused the subscription: <reason>", "not a WebSocket URL: ...".
    onEnd: (error) => options.onClose?.(error?.message ?? `${url} closed the connection`),
  });
  return { close: () => client.close() };
}

/**
 * A one-shot NIP-01 query: open a WebSocket, send one REQ, collect the stored events until
 * EOSE, close the connection (which ends the subscription: a CLOSE message first would only
 * cost time, about 40 ms on loopback, the small frame waiting on a delayed ACK). For reading a
 * few stored events (a town's kind 10032, a profile) where a long-lived subscription
 * (stages/relay_source.ts) would be overkill. It is the one-shot mode of the one NIP-01 client,
 * `transport/nip01_client.ts` (docs/ARCHITECTURE.md "The NIP-01 client").
 *
 * Everything the relay sends is network input: each message is bounded (`maxBytes`), so are the
 * total bytes and the number of events, and the query gives up after `timeoutMs`. Every event is
 * verified (id and signature; JSON or Crosstown TOON form) and matched against the filters; an
 * event that fails either is not returned but listed in `rejected`, so a caller can tell "the
 * relay has nothing" from "the relay served something forged".
 *
 * A CLOSED `rate-limited:` (NIP-01's "retry later", what a busy town answers) is retried on the
 * same connection after 100, 200, 400 ms... within the timeout; any other CLOSED fails the query.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";
import { type Nip01ClientError, openNip01Client } from "./nip01_client.ts";
import { checkRelayEvent, type RejectedRelayEvent } from "./relay_event_check.ts";

export type { RejectedRelayEvent } from "./relay_event_check.ts";

/** Default {@linkcode QueryRelayOptions.timeoutMs}. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5000;
/** Default {@linkcode QueryRelayOptions.maxEvents}. */
export const DEFAULT_QUERY_MAX_EVENTS = 100;
/** Default {@linkcode QueryRelayOptions.maxBytes}. */
export const DEFAULT_QUERY_MAX_BYTES = 1024 * 1024;

/** First wait before a REQ refused `rate-limited:` is sent again (doubled each time). */
const RETRY_FIRST_MS = 100;

/** Options for {@linkcode queryRelay}. */
export interface QueryRelayOptions {
  /** Give up after this long, from connecting to EOSE. Default 5000 ms. */
  timeoutMs?: number;
  /** Most EVENT messages accepted before EOSE. Default 100. */
  maxEvents?: number;
  /** Most bytes accepted over the whole query (and so per message). Default 1 MiB. */
  maxBytes?: number;
  /** Subscription id. Default `q-<random>`. */
  subId?: string;
  /** NIP-42: the answer to the relay's challenge, to read private kinds (gift wraps). */
  authenticate?: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
}

/** Why a query failed. */
export type RelayQueryErrorReason =
  /** Not a ws:// or wss:// URL. */
  | "bad-url"
  /** The socket did not open, or closed before EOSE. */
  | "unreachable"
  /** No EOSE within the timeout. */
  | "timeout"
  /** The relay refused the subscription (CLOSED). */
  | "closed"
  /** Over the byte or event limit. */
  | "too-large"
  /** A message that is not NIP-01. */
  | "bad-message";

/** The query could not be completed. */
export class RelayQueryError extends TransportError {
  /** `"RelayQueryError"`: explicit so it survives bundling. */
  override name = "RelayQueryError";
  /** Why the query failed, one token. */
  reason: RelayQueryErrorReason;
  /** `reason`: the token; `message`: the details, in words. */
  constructor(reason: RelayQueryErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** What {@linkcode queryRelay} collected. */
export interface RelayQueryResult {
  /** Verified events that match the filters, in the order the relay sent them. */
  events: NostrEvent[];
  /** Events dropped (forged, malformed, or not asked for). */
  rejected: RejectedRelayEvent[];
  /** Bytes received. */
  bytes: number;
}

/**
 * Sends one REQ and resolves with the stored events once the relay says EOSE.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const stored = finalizeEvent({ kind: 10032, created_at: 1700000000, tags: [], content: "{}" }, generateSecretKey());
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
 * const { events } = await queryRelay(`ws://127.0.0.1:${relay.addr.port}`, [
 *   { kinds: [10032], authors: [stored.pubkey], limit: 1 },
 * ], { timeoutMs: 3000 });
 * assert.deepEqual(events.map((e) => e.id), [stored.id]);
 * ```
 */
export function queryRelay(
  url: string,
  filters: readonly NostrFilter[],
  options: QueryRelayOptions = {},
): Promise<RelayQueryResult> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new RelayQueryError("bad-url", `not a URL: ${url}`));
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    return Promise.reject(new RelayQueryError("bad-url", `not a ws:// or wss:// URL: ${url}`));
  }
  const maxBytes = options.maxBytes ?? DEFAULT_QUERY_MAX_BYTES;
  const events: NostrEvent[] = [];
  const rejected: RejectedRelayEvent[] = [];
  return new Promise((resolve, reject) => {
    const client = openNip01Client(url, filters, {
      subId: options.subId ?? `q-${crypto.randomUUID().slice(0, 8)}`,
      untilEose: true,
      timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
      maxMessageBytes: maxBytes,
      maxTotalBytes: maxBytes,
      maxEvents: options.maxEvents ?? DEFAULT_QUERY_MAX_EVENTS,
      endOnBadMessage: true,
      retryLater: { initialMs: RETRY_FIRST_MS },
      authenticate: options.authenticate,
      onEvent: (message) => {
        const check = checkRelayEvent(message, filters, maxBytes);
        if ("event" in check) events.push(check.event);
        else rejected.push(check.rejected);
      },
      onEnd: (error) => {
        if (error === undefined) resolve({ events, rejected, bytes: client.bytes });
        else reject(queryError(url, error));
      },
    });
  });
}

/** The client's end in the query's words. */
function queryError(url: string, error: Nip01ClientError): RelayQueryError {
  switch (error.reason) {
    case "disconnected":
      return new RelayQueryError("unreachable", `${url} closed the connection before EOSE`);
    case "refused":
      return new RelayQueryError("closed", `the relay refused the query: ${error.relayMessage}`);
    default:
      return new RelayQueryError(error.reason, error.message, { cause: error });
  }
}

/**
 * A one-shot NIP-01 query: open a WebSocket, send one REQ, collect the stored events until
 * EOSE, close the connection (which ends the subscription: a CLOSE message first would only
 * cost time, about 40 ms on loopback, the small frame waiting on a delayed ACK). For reading a few stored events (a town's kind 10032, a profile)
 * where a long-lived subscription (stages/relay_source.ts) would be overkill.
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
import { backoffDelay } from "../protocol/backoff.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import {
  isRetryLater,
  Nip01MessageError,
  parseRelayMessage,
  serializeClientMessage,
} from "../protocol/nip01_message.ts";
import { matchFilters, type NostrFilter } from "../protocol/nostr_filter.ts";
import { EventValidationError, verifyEvent } from "../protocol/event_verifier.ts";
import { decodeEventToon, ToonDecodeError } from "../protocol/toon_codec.ts";

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
export class RelayQueryError extends Error {
  /** `"RelayQueryError"`: explicit so it survives bundling. */
  override name = "RelayQueryError";
  /** Why the query failed, one token. */
  reason: RelayQueryErrorReason;
  /** `reason`: the token; `message`: the details, in words. */
  constructor(reason: RelayQueryErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** An event the relay sent that was not returned, and why. */
export interface RejectedRelayEvent {
  /** The event id when one could be read. */
  id?: string;
  /** The claimed author when one could be read. */
  pubkey?: string;
  /** `bad-id`, `bad-sig`, `bad-shape:<field>`, `bad-toon`, `not-matching`. */
  reason: string;
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
 * const townPubkey = "ab".repeat(32);
 * const { events } = await queryRelay("ws://127.0.0.1:7100", [
 *   { kinds: [10032], authors: [townPubkey], limit: 1 },
 * ], { timeoutMs: 3000 });
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
  return new QueryRun(url, filters, options).result;
}

/** One query's socket and bookkeeping; settles exactly once, after the socket has closed. */
class QueryRun {
  readonly result: Promise<RelayQueryResult>;
  #resolve!: (r: RelayQueryResult) => void;
  #reject!: (e: Error) => void;
  #outcome: { ok: RelayQueryResult } | { err: Error } | undefined;
  #socket: WebSocket;
  #timer: ReturnType<typeof setTimeout>;
  #subId: string;
  #filters: readonly NostrFilter[];
  #maxBytes: number;
  #maxEvents: number;
  #events: NostrEvent[] = [];
  #rejected: RejectedRelayEvent[] = [];
  #received = 0;
  #bytes = 0;
  #retries = 0;
  readonly #req: string;

  constructor(url: string, filters: readonly NostrFilter[], options: QueryRelayOptions) {
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#filters = filters;
    this.#subId = options.subId ?? `q-${crypto.randomUUID().slice(0, 8)}`;
    this.#maxBytes = options.maxBytes ?? DEFAULT_QUERY_MAX_BYTES;
    this.#maxEvents = options.maxEvents ?? DEFAULT_QUERY_MAX_EVENTS;
    const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.#timer = setTimeout(
      () => this.#fail("timeout", `no EOSE from ${url} within ${timeoutMs} ms`),
      timeoutMs,
    );
    this.#socket = new WebSocket(url);
    this.#socket.binaryType = "arraybuffer";
    this.#req = serializeClientMessage({ type: "REQ", subId: this.#subId, filters: [...filters] });
    this.#socket.onopen = () => this.#socket.send(this.#req);
    this.#socket.onmessage = (e) => this.#onMessage(e.data);
    this.#socket.onerror = () => this.#fail("unreachable", `cannot reach ${url}`);
    this.#socket.onclose = () => {
      clearTimeout(this.#timer);
      this.#outcome ??= {
        err: new RelayQueryError("unreachable", `${url} closed the connection before EOSE`),
      };
      const outcome = this.#outcome;
      if ("ok" in outcome) this.#resolve(outcome.ok);
      else this.#reject(outcome.err);
    };
  }

  #onMessage(data: unknown): void {
    if (this.#outcome) return;
    const bytes = typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer);
    // A string's UTF-8 length is at most 3x its UTF-16 length: count exactly only near the limit.
    const size = typeof bytes === "string"
      ? (bytes.length * 3 + this.#bytes > this.#maxBytes
        ? new TextEncoder().encode(bytes).length
        : bytes.length)
      : bytes.length;
    this.#bytes += size;
    if (this.#bytes > this.#maxBytes) {
      return this.#fail("too-large", `the relay sent over ${this.#maxBytes} bytes`);
    }
    let msg;
    try {
      msg = parseRelayMessage(bytes, { maxBytes: this.#maxBytes });
    } catch (err) {
      if (err instanceof Nip01MessageError) return this.#fail("bad-message", err.reason);
      throw err;
    }
    if (msg.type === "EVENT" && msg.subId === this.#subId) {
      if (++this.#received > this.#maxEvents) {
        return this.#fail("too-large", `the relay sent over ${this.#maxEvents} events`);
      }
      this.#accept(msg.event ?? msg.toon);
    } else if (msg.type === "EOSE" && msg.subId === this.#subId) {
      this.#finish({
        ok: { events: this.#events, rejected: this.#rejected, bytes: this.#bytes },
      });
    } else if (msg.type === "CLOSED" && msg.subId === this.#subId) {
      if (isRetryLater(msg.message)) return this.#retryLater();
      this.#fail("closed", `the relay refused the query: ${msg.message}`);
    }
  }

  #retryLater(): void {
    const delay = backoffDelay(this.#retries++, { initialMs: RETRY_FIRST_MS });
    setTimeout(() => {
      if (this.#outcome || this.#socket.readyState !== WebSocket.OPEN) return;
      this.#socket.send(this.#req);
    }, delay);
  }

  #accept(raw: NostrEvent | string): void {
    let event: NostrEvent;
    try {
      if (typeof raw === "string") {
        event = decodeEventToon(raw, { maxBytes: this.#maxBytes });
      } else {
        event = raw;
        verifyEvent(event);
      }
    } catch (err) {
      if (err instanceof EventValidationError || err instanceof ToonDecodeError) {
        const reason = err instanceof ToonDecodeError ? "bad-toon" : err.reason;
        const claimed = typeof raw === "string" ? {} : { id: raw.id, pubkey: raw.pubkey };
        this.#rejected.push({ ...claimed, reason });
        return;
      }
      throw err;
    }
    if (!matchFilters(event, this.#filters)) {
      this.#rejected.push({ id: event.id, pubkey: event.pubkey, reason: "not-matching" });
      return;
    }
    this.#events.push(event);
  }

  #fail(reason: RelayQueryErrorReason, message: string): void {
    this.#finish({ err: new RelayQueryError(reason, message) });
  }

  #finish(outcome: { ok: RelayQueryResult } | { err: Error }): void {
    if (this.#outcome) return;
    this.#outcome = outcome;
    clearTimeout(this.#timer);
    // Settled in onclose, so the caller never races the socket's teardown.
    try {
      this.#socket.close();
    } catch {
      // already closing
    }
  }
}

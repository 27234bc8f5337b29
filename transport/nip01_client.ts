/**
 * The one NIP-01 client: a WebSocket to a relay, one REQ, and the relay's EVENT, EOSE, CLOSED,
 * NOTICE, OK and AUTH messages, handled the same way for every reader. The modes are options
 * (docs/ARCHITECTURE.md "The NIP-01 client"):
 *
 * - One-shot (`untilEose`): the client ends at EOSE, or after `timeoutMs` without it.
 * - Live: kept open after EOSE. Without `reconnect` a closed connection ends the client; with it
 *   the connection is opened again after a jittered backoff and the REQ resent with `since` = the
 *   newest `created_at` known complete minus an overlap (what the caller marked {@linkcode
 *   Nip01Client.covered}, counted complete at EOSE).
 * - Backpressure: {@linkcode Nip01Client.pause} drops the socket, {@linkcode Nip01Client.resume}
 *   subscribes again from the resume point.
 * - Limits: each message (`maxMessageBytes`), the bytes of the whole session (`maxTotalBytes`) and
 *   the number of EVENTs (`maxEvents`); over one, the client ends `too-large`.
 * - CLOSED: `rate-limited:` (NIP-01's "retry later") is answered by sending the REQ again on the
 *   same connection after 100, 200, 400 ms... when `retryLater` says so; with `reconnect`, a CLOSED
 *   other than `invalid:`, `unsupported:`, `blocked:` or `restricted:` reconnects; any other ends
 *   the client `refused`, with the relay's words.
 * - AUTH: see `authenticate` and `transport/nip42_answer.ts`.
 * - NOTICE, OK, AUTH and the connection's events go to `onLog`; a message that is not NIP-01 ends
 *   the client (`endOnBadMessage`) or goes to `onBadMessage`.
 *
 * Events are handed on as the relay sent them (a JSON object or Crosstown TOON text): whether to
 * verify them is the caller's choice (`transport/relay_event_check.ts` verifies and matches).
 * `onEnd` is called once, after the socket has closed, unless the caller closed the client.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import { backoffDelay } from "../protocol/backoff.ts";
import {
  isRetryLater,
  Nip01MessageError,
  parseRelayMessage,
  type RelayEventMessage,
  serializeClientMessage,
} from "../protocol/nip01_message.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { Nip42Answer } from "./nip42_answer.ts";
import { trustedClient, untrustedCertificate } from "./tls_trust.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";

/** Reconnection of a live client. */
export interface Nip01ReconnectOptions {
  /** First reconnect delay. Default 1000 ms. */
  initialBackoffMs?: number;
  /** Longest reconnect delay. Default 30000 ms. */
  maxBackoffMs?: number;
  /** Seconds subtracted from the resume point, for clock skew and same-second events. Default 5. */
  overlapSeconds?: number;
}

/** How a CLOSED `rate-limited:` is retried on the same connection. */
export interface Nip01RetryLaterOptions {
  /** REQs sent again before the refusal ends the client. Default: no limit (within `timeoutMs`). */
  maxRetries?: number;
  /** First wait, doubled each time. Default 100 ms. */
  initialMs?: number;
}

/** Something the client did or heard. */
export type Nip01LogEntry =
  | { type: "connecting"; attempt: number; since?: number }
  | { type: "open" }
  | { type: "eose"; subId: string }
  | { type: "disconnected"; code: number; reason: string }
  | { type: "paused" }
  | { type: "notice" | "closed" | "ok" | "auth"; message: string };

/** Why a client ended before its time. */
export type Nip01ClientErrorReason =
  /** The WebSocket could not be made for this URL. */
  | "bad-url"
  /** The socket failed (it did not open, or broke). */
  | "unreachable"
  /** The relay closed the connection (live, without `reconnect`; one-shot, before EOSE). */
  | "disconnected"
  /** One-shot: no EOSE within `timeoutMs`. */
  | "timeout"
  /** The relay refused the subscription (CLOSED). */
  | "refused"
  /** Over `maxTotalBytes` or `maxEvents`. */
  | "too-large"
  /** A message that is not NIP-01 (with `endOnBadMessage`). */
  | "bad-message";

/** Why a {@linkcode Nip01Client} ended: `reason` is the token, `message` the details in words. */
export class Nip01ClientError extends TransportError {
  /** `"Nip01ClientError"`: explicit so it survives bundling. */
  override name = "Nip01ClientError";
  /** Why the client ended, one token. */
  readonly reason: Nip01ClientErrorReason;
  /** `refused`: the relay's CLOSED message, as sent. */
  readonly relayMessage?: string;
  /** `reason`, the message in words; `relayMessage` and `cause` when there are. */
  constructor(
    reason: Nip01ClientErrorReason,
    message: string,
    options: { relayMessage?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.relayMessage = options.relayMessage;
  }
}

/** Options for {@linkcode openNip01Client}. */
export interface Nip01ClientOptions {
  /** Subscription id. Default `s-<random>`. */
  subId?: string;
  /** One-shot: end at the first EOSE. Default false (live). */
  untilEose?: boolean;
  /** Give up after this long without ending (one-shot: from connecting to EOSE). Default: never. */
  timeoutMs?: number;
  /** Live: reconnect with backoff and resubscribe since the resume point. Default: a close ends. */
  reconnect?: Nip01ReconnectOptions;
  /** Send the REQ again when the relay answers CLOSED `rate-limited:`. Default: it ends. */
  retryLater?: Nip01RetryLaterOptions;
  /** Largest message accepted, UTF-8 bytes. Default 1 MiB (`parseRelayMessage`'s). */
  maxMessageBytes?: number;
  /** Most bytes accepted over the whole session. Default: no limit. */
  maxTotalBytes?: number;
  /** Most EVENT messages of the subscription accepted. Default: no limit. */
  maxEvents?: number;
  /** A binary message is a bad message (`invalid: binary message`), not parsed. Default false. */
  refuseBinary?: boolean;
  /** End the client at a message that is not NIP-01 (else it goes to `onBadMessage`). */
  endOnBadMessage?: boolean;
  /** Makes the socket. Default `new WebSocket(url)`. */
  openSocket?: (url: string) => WebSocket;
  /**
   * NIP-42: the answer to the relay's AUTH challenge (a kind 22242 event signed by the reader's
   * key, `protocol/nip42_auth.ts`). With it, a CLOSED `auth-required:` sends the REQ again once
   * the relay took the answer; live, so does a filter naming no kind. Default: only logged.
   */
  authenticate?: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  /** Called when the socket opens, just before the REQ is sent. */
  onOpen?: () => void;
  /** Called with each EVENT of the subscription, as sent (not verified) and the message's data. */
  onEvent?: (message: RelayEventMessage, data: string | Uint8Array) => void;
  /** Called at each EOSE of the subscription. */
  onEose?: () => void;
  /** Called with a message that is not NIP-01 (and what came, `""` for binary) unless it ends. */
  onBadMessage?: (error: Nip01MessageError, data: string | Uint8Array) => void;
  /** Called with connection events, NOTICE, CLOSED, OK and AUTH messages. */
  onLog?: (entry: Nip01LogEntry) => void;
  /** Called once when the client ends: no error at EOSE (one-shot), else why. */
  onEnd?: (error?: Nip01ClientError) => void;
}

/** An open client. */
export interface Nip01Client {
  /** The subscription id of the REQ. */
  readonly subId: string;
  /** Bytes received so far (a string's length when far from `maxTotalBytes`). */
  readonly bytes: number;
  /** Whether {@linkcode Nip01Client.pause} holds the socket closed. */
  readonly paused: boolean;
  /** Counts `createdAt` as received: a reconnect resumes from it once an EOSE has covered it. */
  covered(createdAt: number): void;
  /** Closes the socket until {@linkcode Nip01Client.resume}; no reconnect meanwhile. */
  pause(): void;
  /** Subscribes again, from the resume point, after a pause. */
  resume(): void;
  /** Ends the client and its connection; `onEnd` is not called. */
  close(): void;
}

/** CLOSED prefixes a reconnect cannot fix (`auth-required:`: only without `authenticate`). */
const FATAL_CLOSED = ["invalid:", "unsupported:", "blocked:", "restricted:", "auth-required:"];

/**
 * Opens a WebSocket to `url` and subscribes with `filters`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openNip01Client } from "./nip01_client.ts";
 *
 * // Nothing listens on port 9: the client ends with the error (undefined at EOSE).
 * const ended = Promise.withResolvers<Error | undefined>();
 * openNip01Client("ws://127.0.0.1:9", [{ kinds: [7000] }], { untilEose: true, onEnd: ended.resolve });
 * assert(await ended.promise instanceof Error);
 * ```
 */
export function openNip01Client(
  url: string,
  filters: readonly NostrFilter[],
  options: Nip01ClientOptions = {},
): Nip01Client {
  return new Nip01Connection(url, filters, options);
}

/** One client's socket, resume point and timers. */
class Nip01Connection implements Nip01Client {
  readonly subId: string;
  #url: string;
  #filters: readonly NostrFilter[];
  #options: Nip01ClientOptions;
  #socket: WebSocket | undefined;
  #timeout: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #closed = false;
  #delivered = false;
  #error: Nip01ClientError | undefined;
  #paused = false;
  #attempt = 0;
  #retries = 0;
  #bytes = 0;
  #events = 0;
  // Newest created_at known complete: every matching stored event up to it was received.
  #resumeFrom: number | undefined;
  #sessionMax: number | undefined;
  #eoseInSession = false;
  /** NIP-42 on this connection (with `authenticate`). */
  #auth: Nip42Answer | undefined;

  constructor(url: string, filters: readonly NostrFilter[], options: Nip01ClientOptions) {
    this.#url = url;
    this.#filters = filters;
    this.#options = options;
    this.subId = options.subId ?? `s-${crypto.randomUUID().slice(0, 8)}`;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) {
      this.#timeout = setTimeout(
        () =>
          this.#stop(new Nip01ClientError("timeout", `no EOSE from ${url} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    this.#connect();
  }

  get bytes(): number {
    return this.#bytes;
  }

  get paused(): boolean {
    return this.#paused;
  }

  covered(createdAt: number): void {
    if (this.#eoseInSession) this.#advance(createdAt);
    else this.#sessionMax = Math.max(this.#sessionMax ?? createdAt, createdAt);
  }

  pause(): void {
    if (this.#stopped || this.#paused) return;
    this.#paused = true;
    this.#log({ type: "paused" });
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#retryTimer);
    this.#dropSocket();
  }

  resume(): void {
    if (this.#stopped || !this.#paused) return;
    this.#paused = false;
    this.#attempt = 0;
    this.#connect();
  }

  close(): void {
    this.#closed = true;
    this.#stopped = true;
    this.#clearTimers();
    // A socket still connecting or open is closed; its close event reaches nobody.
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) closeQuietly(socket);
  }

  #log(entry: Nip01LogEntry): void {
    this.#options.onLog?.(entry);
  }

  #clearTimers(): void {
    clearTimeout(this.#timeout);
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#retryTimer);
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#sessionMax = undefined;
    this.#eoseInSession = false;
    this.#auth = undefined;
    const since = this.#since();
    this.#log({ type: "connecting", attempt: this.#attempt, since });
    let socket: WebSocket;
    try {
      socket = this.#options.openSocket?.(this.#url) ?? new WebSocket(this.#url, trustedClient());
    } catch (err) {
      const message = `not a WebSocket URL: ${(err as Error).message}`;
      return this.#stop(new Nip01ClientError("bad-url", message, { cause: err }));
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    const filters = this.#filters.map((f) => withSince(f, since));
    const req = serializeClientMessage({ type: "REQ", subId: this.subId, filters });
    socket.onopen = () => {
      this.#log({ type: "open" });
      this.#options.onOpen?.();
      socket.send(req);
    };
    socket.onmessage = (m) => this.#onMessage(socket, req, m.data);
    socket.onerror = (ev) => {
      // With reconnect, the close event follows and reconnects.
      if (this.#socket !== socket || this.#options.reconnect) return;
      // A refused certificate is said as such, with the setting that fixes it.
      const { error, message } = ev as ErrorEvent;
      const trust = untrustedCertificate(error ?? new Error(message ?? ""), this.#url);
      const text = trust?.message ?? `cannot reach ${this.#url}`;
      this.#stop(new Nip01ClientError("unreachable", text, { cause: trust }));
    };
    socket.onclose = (ev) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#stopped) return this.#deliver();
      this.#log({ type: "disconnected", code: ev.code, reason: ev.reason });
      if (this.#options.reconnect) return this.#scheduleReconnect();
      this.#stop(new Nip01ClientError("disconnected", `${this.#url} closed the connection`));
    };
  }

  #since(): number | undefined {
    if (this.#resumeFrom === undefined) return undefined;
    return Math.max(0, this.#resumeFrom - (this.#options.reconnect?.overlapSeconds ?? 5));
  }

  #advance(t: number | undefined): void {
    if (t !== undefined) this.#resumeFrom = Math.max(this.#resumeFrom ?? t, t);
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#paused) return;
    // Jittered: reconnecting clients do not stampede a restarted relay.
    const delay = backoffDelay(this.#attempt, {
      initialMs: this.#options.reconnect?.initialBackoffMs ?? 1000,
      maxMs: this.#options.reconnect?.maxBackoffMs ?? 30_000,
    });
    this.#attempt++;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Closes the socket without hearing from it again (a pause, a CLOSED that reconnects). */
  #dropSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    socket.onopen =
      socket.onmessage =
      socket.onclose =
      socket.onerror =
        null;
    closeQuietly(socket);
  }

  /** Ends the client; `onEnd` follows once the socket has closed. */
  #stop(error?: Nip01ClientError): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#error = error;
    this.#clearTimers();
    const socket = this.#socket;
    // Settled in onclose, so the caller never races the socket's teardown.
    if (socket !== undefined) closeQuietly(socket);
    else queueMicrotask(() => this.#deliver());
  }

  #deliver(): void {
    if (this.#delivered || this.#closed) return;
    this.#delivered = true;
    this.#options.onEnd?.(this.#error);
  }

  #onMessage(socket: WebSocket, req: string, raw: unknown): void {
    if (this.#stopped || this.#paused || this.#socket !== socket) return;
    const options = this.#options;
    if (typeof raw !== "string" && options.refuseBinary) {
      return this.#badMessage(new Nip01MessageError("invalid: binary message"), "");
    }
    const data = typeof raw === "string" ? raw : new Uint8Array(raw as ArrayBuffer);
    const maxTotal = options.maxTotalBytes ?? Infinity;
    // A string's UTF-8 length is at most 3x its UTF-16 length: count exactly only near the limit.
    this.#bytes += typeof data === "string" && data.length * 3 + this.#bytes > maxTotal
      ? new TextEncoder().encode(data).length
      : data.length;
    if (this.#bytes > maxTotal) {
      return this.#stop(new Nip01ClientError("too-large", `the relay sent over ${maxTotal} bytes`));
    }
    let msg;
    try {
      msg = parseRelayMessage(data, { maxBytes: options.maxMessageBytes });
    } catch (err) {
      if (err instanceof Nip01MessageError) return this.#badMessage(err, data);
      throw err;
    }
    switch (msg.type) {
      case "EVENT":
        if (msg.subId !== this.subId) return;
        if (++this.#events > (options.maxEvents ?? Infinity)) {
          const message = `the relay sent over ${options.maxEvents} events`;
          return this.#stop(new Nip01ClientError("too-large", message));
        }
        return options.onEvent?.(msg, data);
      case "EOSE":
        if (msg.subId !== this.subId) return;
        this.#log({ type: "eose", subId: this.subId });
        this.#eoseInSession = true;
        this.#attempt = 0;
        this.#advance(this.#sessionMax);
        options.onEose?.();
        if (options.untilEose) this.#stop();
        return;
      case "CLOSED":
        if (msg.subId !== this.subId) return;
        return this.#onClosed(socket, req, msg.message);
      case "NOTICE":
        return this.#log({ type: "notice", message: msg.message });
      case "OK":
        this.#auth?.onOk(msg.eventId, msg.accepted);
        return this.#log({ type: "ok", message: msg.message });
      case "AUTH":
        this.#log({ type: "auth", message: msg.challenge });
        if (!options.authenticate) return;
        this.#auth = new Nip42Answer(options.authenticate, this.#url);
        this.#auth.answer(socket, msg.challenge);
        // Served less the private events: sent again once authenticated (one-shot: name kinds).
        if (!options.untilEose && this.#filters.some((f) => !f.kinds)) this.#auth.sendAgain(req);
        return;
      case "COUNT":
        return;
    }
  }

  #onClosed(socket: WebSocket, req: string, message: string): void {
    // Refused for the answer still on its way: not worth a log line, unless it is refused.
    const auth = this.#auth;
    if (
      message.startsWith("auth-required:") &&
      auth?.sendAgain(req, message, (refused) => {
        if (this.#auth !== auth || this.#socket !== socket) return;
        this.#log({ type: "closed", message: refused });
        this.#refused(refused);
      })
    ) return;
    this.#log({ type: "closed", message });
    const retry = this.#options.retryLater;
    if (retry && isRetryLater(message) && this.#retries < (retry.maxRetries ?? Infinity)) {
      const delay = backoffDelay(this.#retries++, { initialMs: retry.initialMs ?? 100 });
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => {
        if (this.#stopped || this.#socket !== socket || socket.readyState !== WebSocket.OPEN) {
          return;
        }
        socket.send(req);
      }, delay);
      return;
    }
    if (this.#options.reconnect && !FATAL_CLOSED.some((p) => message.startsWith(p))) {
      this.#dropSocket();
      return this.#scheduleReconnect();
    }
    this.#refused(message);
  }

  #refused(message: string): void {
    this.#stop(
      new Nip01ClientError("refused", `the relay refused the subscription: ${message}`, {
        relayMessage: message,
      }),
    );
  }

  #badMessage(error: Nip01MessageError, data: string | Uint8Array): void {
    if (this.#options.endOnBadMessage) {
      return this.#stop(new Nip01ClientError("bad-message", error.reason, { cause: error }));
    }
    this.#options.onBadMessage?.(error, data);
  }
}

function withSince(filter: NostrFilter, since: number | undefined): NostrFilter {
  if (since === undefined || (filter.since !== undefined && filter.since >= since)) return filter;
  return { ...filter, since };
}

function closeQuietly(socket: WebSocket): void {
  try {
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close();
    }
  } catch {
    // already closing
  }
}

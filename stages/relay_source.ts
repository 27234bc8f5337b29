/**
 * Relay source stage (`relay-source`): a NIP-01 client that subscribes to one relay and emits
 * every matching event as a `toon` chunk, exactly once, across reconnects.
 *
 * - Events sent as JSON objects are TOON-encoded (`encodeEventToon`, readable by toon 1.4.0);
 *   events sent as TOON text (Crosstown relays) are passed on untouched, after the shallow kind
 *   extractor has read id/created_at (exact, and refusing malformed TOON). Full decoding and
 *   signature checks are the verifier's job downstream: this stage does not spend the CPU twice.
 * - Reconnects with exponential backoff (1 s doubling to 30 s, jittered) and re-subscribes with
 *   `since` = newest `created_at` known complete minus an overlap; events seen again in the
 *   overlap are dropped by a bounded LRU of event ids.
 * - Backpressure: the output is a ReadableStream with a bounded queue. When it is full the
 *   socket is closed (the event in hand is not counted as delivered) and the subscription
 *   resumes with `since` once the consumer has drained half of the queue: nothing is buffered
 *   without bound and nothing is lost.
 *
 * Completeness rests on the relay answering `since` queries in full: it must not cap the
 * stored events it returns below what was missed (relays apply a default `limit`), and an event
 * whose `created_at` is older than the resume point minus the overlap when it is published while
 * we are disconnected cannot be found again by any NIP-01 query.
 *
 * @module
 */
import { backoffDelay } from "../protocol/backoff.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { Nip01MessageError, parseRelayMessage } from "../protocol/nip01_message.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import { extractSummary } from "../protocol/kind_extractor.ts";
import { type NostrFilter, validateFilter } from "../protocol/nostr_filter.ts";
import type { FailedChunk, LogChunk, StageLogEntry, ToonChunk } from "./chunks.ts";
import {
  NO_PERMISSIONS,
  type SourceStage,
  type StageFlags,
  StageOptionsError,
  type StagePermissions,
} from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import { openWebSocket } from "../transport/nodelay_websocket.ts";

/** What the relay source emits. */
export type RelaySourceChunk = ToonChunk | FailedChunk | LogChunk;

/** Something the relay source did or heard, for logs and tests. */
export type RelaySourceLogEntry = StageLogEntry;

/** Options for {@linkcode createRelaySource}. */
export interface RelaySourceOptions {
  /** Relay URL, `ws://` or `wss://`. */
  relay: string;
  /** NIP-01 filters of the subscription (at least one). */
  filters: NostrFilter[];
  /** End the stream at the first EOSE (stored events only). Default false. */
  untilEose?: boolean;
  /** Subscription id; default `tp-<random>`. */
  subId?: string;
  /** Chunks queued before the socket is closed for backpressure. Default 1024. */
  highWaterMark?: number;
  /** First reconnect delay. Default 1000 ms. */
  initialBackoffMs?: number;
  /** Longest reconnect delay. Default 30000 ms. */
  maxBackoffMs?: number;
  /** Seconds subtracted from the resume point, for clock skew and same-second events. Default 5. */
  overlapSeconds?: number;
  /** Event ids remembered for de-duplication. Default 100000. */
  dedupCapacity?: number;
  /** Largest relay message accepted. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Allow `ws://` to a non-loopback host. Default false. */
  allowInsecure?: boolean;
  /** TCP_NODELAY socket (transport/nodelay_websocket.ts). Default true; false: built-in WebSocket. */
  noDelay?: boolean;
  /** Called for connection events, NOTICE, CLOSED, OK and AUTH messages. */
  onLog?: (entry: RelaySourceLogEntry) => void;
  /**
   * Also emit disconnects, CLOSED and NOTICE messages as `log` chunks, for a consumer across a
   * worker boundary (where `onLog` cannot go). Default false.
   */
  logChunks?: boolean;
}

/** The relay refused the subscription for a reason retrying cannot fix (e.g. `invalid:`). */
export class RelaySubscriptionRefusedError extends Error {
  /** `"RelaySubscriptionRefusedError"`: explicit so it survives bundling and worker messages. */
  override name = "RelaySubscriptionRefusedError";
}

/** A relay sent an event that does not decode to a well-formed Nostr event. */
export class RelayEventDecodeError extends Error {
  /** `"RelayEventDecodeError"`: explicit so it survives bundling and worker messages. */
  override name = "RelayEventDecodeError";
}

const FATAL_CLOSED_PREFIXES = ["invalid:", "unsupported:", "blocked:", "restricted:"];
/** Log entries emitted as chunks with `logChunks`: what an operator needs to hear of. */
const LOGGED_AS_CHUNKS = new Set<RelaySourceLogEntry["type"]>(["disconnected", "closed", "notice"]);
const FAILED_INPUT_PREFIX = 256;

/** A bounded set of recently seen ids, evicting the oldest insert (Map keeps insert order). */
class IdLru {
  #ids = new Map<string, true>();
  constructor(readonly capacity: number) {}
  has(id: string): boolean {
    return this.#ids.has(id);
  }
  add(id: string): void {
    this.#ids.set(id, true);
    if (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.keys().next().value!);
  }
}

/**
 * Opens the subscription and returns the stream of events. Cancelling the stream closes the
 * socket and stops reconnecting.
 *
 * @example
 * ```ts
 * const events = createRelaySource({ relay: "ws://127.0.0.1:7100", filters: [{ kinds: [7000] }] });
 * for await (const chunk of events) if (chunk.type === "toon") console.log(chunk.toon);
 * ```
 */
export function createRelaySource(options: RelaySourceOptions): ReadableStream<RelaySourceChunk> {
  checkRelayUrl(options.relay, options.allowInsecure ?? false);
  if (options.filters.length === 0) throw new StageOptionsError("relay-source needs a filter");
  options.filters.forEach((f) => validateFilter(f));
  const hwm = options.highWaterMark ?? 1024;
  const subId = options.subId ?? `tp-${crypto.randomUUID().slice(0, 8)}`;
  const initialBackoff = options.initialBackoffMs ?? 1000;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const overlap = options.overlapSeconds ?? 5;
  const seen = new IdLru(options.dedupCapacity ?? 100_000);
  const onLog = options.onLog ?? (() => {});
  const log = (entry: RelaySourceLogEntry) => {
    onLog(entry);
    if (!options.logChunks || !LOGGED_AS_CHUNKS.has(entry.type) || finished) return;
    // A report, not data: dropped when the queue is full, like a FailedChunk.
    if ((controller.desiredSize ?? 0) > 0) {
      controller.enqueue({ type: "log", stage: "relay-source", entry });
    }
  };

  let controller!: ReadableStreamDefaultController<RelaySourceChunk>;
  let ws: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let paused = false;
  let attempt = 0;
  // Newest created_at known complete: every matching stored event up to it was received.
  let resumeFrom: number | undefined;
  let sessionMax: number | undefined;
  let eoseInSession = false;

  const bump = (t: number) => (sessionMax = sessionMax === undefined ? t : Math.max(sessionMax, t));
  const sinceForResume = () =>
    resumeFrom === undefined ? undefined : Math.max(0, resumeFrom - overlap);

  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    dropSocket();
    if (err) controller.error(err);
    else controller.close();
  };

  const dropSocket = () => {
    const s = ws;
    ws = undefined;
    if (s === undefined) return;
    s.onopen =
      s.onmessage =
      s.onclose =
      s.onerror =
        null;
    if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.close();
  };

  const scheduleReconnect = () => {
    if (finished || paused) return;
    // Jittered: reconnecting clients do not stampede a restarted relay.
    const delay = backoffDelay(attempt, { initialMs: initialBackoff, maxMs: maxBackoff });
    attempt++;
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  };

  const connect = () => {
    if (finished) return;
    sessionMax = undefined;
    eoseInSession = false;
    const since = sinceForResume();
    log({ type: "connecting", attempt, since });
    const socket = openWebSocket(options.relay, { noDelay: options.noDelay });
    ws = socket;
    socket.onopen = () => {
      log({ type: "open" });
      const filters = options.filters.map((f) => withSince(f, since));
      socket.send(JSON.stringify(["REQ", subId, ...filters]));
    };
    socket.onmessage = (ev) => onMessage(ev.data);
    socket.onerror = () => {/* onclose follows and reconnects */};
    socket.onclose = (ev) => {
      if (ws !== socket) return;
      ws = undefined;
      log({ type: "disconnected", code: ev.code, reason: ev.reason });
      scheduleReconnect();
    };
  };

  const pause = () => {
    paused = true;
    log({ type: "paused" });
    dropSocket();
  };

  const onMessage = (data: unknown) => {
    if (finished || paused) return;
    if (typeof data !== "string") {
      return emitFailed("Nip01MessageError", "invalid: binary message", "");
    }
    let msg;
    try {
      msg = parseRelayMessage(data, { maxBytes: options.maxMessageBytes });
    } catch (err) {
      if (!(err instanceof Nip01MessageError)) throw err;
      return emitFailed(err.name, err.message, data.slice(0, FAILED_INPUT_PREFIX));
    }
    switch (msg.type) {
      case "EVENT":
        if (msg.subId !== subId) return;
        return onEvent(msg.event, msg.toon, data);
      case "EOSE":
        if (msg.subId !== subId) return;
        log({ type: "eose", subId });
        eoseInSession = true;
        attempt = 0;
        advance(sessionMax);
        if (options.untilEose) finish();
        return;
      case "CLOSED":
        if (msg.subId !== subId) return;
        log({ type: "closed", message: msg.message });
        if (FATAL_CLOSED_PREFIXES.some((p) => msg.message.startsWith(p))) {
          return finish(new RelaySubscriptionRefusedError(`relay closed ${subId}: ${msg.message}`));
        }
        dropSocket();
        return scheduleReconnect();
      case "NOTICE":
        return log({ type: "notice", message: msg.message });
      case "OK":
        return log({ type: "ok", message: msg.message });
      case "AUTH":
        return log({ type: "auth", message: msg.challenge });
      case "COUNT":
        return;
    }
  };

  const advance = (t: number | undefined) => {
    if (t !== undefined) resumeFrom = resumeFrom === undefined ? t : Math.max(resumeFrom, t);
  };

  const onEvent = (event: NostrEvent | undefined, toon: string | undefined, raw: string) => {
    let id: string;
    let createdAt: number;
    let text: string;
    if (event !== undefined) {
      id = event.id;
      createdAt = event.created_at;
      text = encodeEventToon(event);
    } else {
      // Only id and created_at are needed here (dedupe, resume point): the shallow extractor reads
      // them exactly without a full decode; the full check happens downstream.
      let decoded: { id: string; created_at: number };
      try {
        decoded = extractSummary(toon!);
      } catch (err) {
        const e = new RelayEventDecodeError(`undecodable TOON event: ${(err as Error).message}`);
        return emitFailed(e.name, e.message, raw.slice(0, FAILED_INPUT_PREFIX));
      }
      id = decoded.id;
      createdAt = decoded.created_at;
      text = toon!;
    }
    // A duplicate was delivered before: it still counts towards what this session has covered.
    const track = () => eoseInSession ? advance(createdAt) : bump(createdAt);
    if (seen.has(id)) return track();
    if ((controller.desiredSize ?? 0) <= 0) return pause();
    seen.add(id);
    track();
    controller.enqueue({
      type: "toon",
      toon: text,
      source: options.relay,
      subId,
      receivedAt: Date.now(),
    });
  };

  const emitFailed = (error: string, message: string, input: string) => {
    if ((controller.desiredSize ?? 0) <= 0) return; // a report, not data: dropped when full
    controller.enqueue({ type: "failed", stage: "relay-source", error, message, input });
  };

  return new ReadableStream<RelaySourceChunk>({
    start(c) {
      controller = c;
      connect();
    },
    pull(c) {
      if (paused && !finished && (c.desiredSize ?? 0) >= hwm / 2) {
        paused = false;
        attempt = 0;
        connect();
      }
    },
    cancel() {
      finished = true;
      clearTimeout(timer);
      dropSocket();
    },
  }, new CountQueuingStrategy({ highWaterMark: hwm }));
}

function withSince(filter: NostrFilter, since: number | undefined): NostrFilter {
  if (since === undefined || (filter.since !== undefined && filter.since >= since)) return filter;
  return { ...filter, since };
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function checkRelayUrl(relay: string, allowInsecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(relay);
  } catch {
    throw new StageOptionsError(`relay URL "${relay}" is not a URL`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new StageOptionsError(`relay URL "${relay}" is not ws:// or wss://`);
  }
  if (url.protocol === "ws:" && !allowInsecure && !LOOPBACK.has(url.hostname)) {
    throw new StageOptionsError(
      `relay URL "${relay}" is plain ws:// to a non-loopback host (use wss:// or --allow-insecure)`,
    );
  }
  return url;
}

/**
 * Builds the filter of `--kinds 5000,7000 --e <id> --p <pubkey> --authors <pk,..> --since N`.
 *
 * @example
 * ```ts
 * filterFromFlags({ kinds: "6050,7000", p: "ab".repeat(32) }); // { kinds: [6050, 7000], "#p": [...] }
 * ```
 */
export function filterFromFlags(flags: StageFlags): NostrFilter {
  const filter: NostrFilter = {};
  const list = (v: string) => v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const int = (name: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new StageOptionsError(`--${name} is not a non-negative integer`);
    return Number(v);
  };
  if (flags.kinds !== undefined) filter.kinds = list(flags.kinds).map((k) => int("kinds", k));
  if (flags.e !== undefined) filter["#e"] = list(flags.e);
  if (flags.p !== undefined) filter["#p"] = list(flags.p);
  if (flags.authors !== undefined) filter.authors = list(flags.authors);
  if (flags.since !== undefined) filter.since = int("since", flags.since);
  if (flags.limit !== undefined) filter.limit = int("limit", flags.limit);
  try {
    return validateFilter(filter);
  } catch (err) {
    throw new StageOptionsError(`bad filter flags: ${(err as Error).message}`);
  }
}

/** The relay source stage. */
export const relaySourceStage: SourceStage<RelaySourceChunk, RelaySourceOptions> = {
  name: "relay-source",
  role: "source",
  description: "Subscribes to a Nostr relay (NIP-01) and emits matching events as TOON chunks, " +
    "exactly once across reconnects.",
  parseOptions(flags: StageFlags): RelaySourceOptions {
    if (flags.relay === undefined) throw new StageOptionsError("--relay URL is required");
    const options: RelaySourceOptions = {
      relay: flags.relay,
      filters: [filterFromFlags(flags)],
      untilEose: flags["until-eose"] === "true",
      allowInsecure: flags["allow-insecure"] === "true",
    };
    if (flags["sub-id"] !== undefined) options.subId = flags["sub-id"];
    checkRelayUrl(options.relay, options.allowInsecure ?? false);
    return options;
  },
  permissions(options: RelaySourceOptions): StagePermissions {
    const url = checkRelayUrl(options.relay, true);
    const port = url.port !== "" ? url.port : url.protocol === "wss:" ? "443" : "80";
    return { ...NO_PERMISSIONS, net: [`${url.hostname}:${port}`] };
  },
  create: createRelaySource,
};

if (import.meta.main) await stageMain(relaySourceStage);

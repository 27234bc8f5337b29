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
 * The socket, REQ, reconnects, resume point and pause are the live mode of the one NIP-01
 * client, `transport/nip01_client.ts` (docs/ARCHITECTURE.md "The NIP-01 client"); this stage
 * turns what it hears into chunks.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import { SeenEventIds } from "../protocol/seen_event_ids.ts";
import type { RelayEventMessage } from "../protocol/nip01_message.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import { extractSummary } from "../protocol/kind_extractor.ts";
import { type NostrFilter, validateFilter } from "../protocol/nostr_filter.ts";
import type { FailedChunk, LogChunk, StageLogEntry, ToonChunk } from "./chunks.ts";
import {
  NO_PERMISSIONS,
  type SourceStage,
  type StageContext,
  type StageFlags,
  StageOptionsError,
  type StagePermissions,
} from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import { openWebSocket } from "../transport/nodelay_websocket.ts";
import { ConfigError } from "../config/config_error.ts";
import { booleanSetting, isLoopbackHost } from "../config/setting_codecs.ts";
import {
  type Nip01Client,
  type Nip01ClientError,
  openNip01Client,
} from "../transport/nip01_client.ts";

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
  /** CAs trusted for `wss://` besides the system's (a worker has not the process's: tls_trust.ts). */
  caCerts?: string[];
  /** Called for connection events, NOTICE, CLOSED, OK and AUTH messages. */
  onLog?: (entry: RelaySourceLogEntry) => void;
  /**
   * Also emit disconnects, CLOSED and NOTICE messages as `log` chunks, for a consumer across a
   * worker boundary (where `onLog` cannot go). Default false.
   */
  logChunks?: boolean;
}

/** The relay refused the subscription for a reason retrying cannot fix (e.g. `invalid:`). */
export class RelaySubscriptionRefusedError extends StagesError {
  /** `"RelaySubscriptionRefusedError"`: explicit so it survives bundling and worker messages. */
  override name = "RelaySubscriptionRefusedError";
}

/** A relay sent an event that does not decode to a well-formed Nostr event. */
export class RelayEventDecodeError extends StagesError {
  /** `"RelayEventDecodeError"`: explicit so it survives bundling and worker messages. */
  override name = "RelayEventDecodeError";
}

/** Log entries emitted as chunks with `logChunks`: what an operator needs to hear of. */
/** What crosses the worker boundary: a connection's attempts and catch-ups, and the relay's words. */
const LOGGED_AS_CHUNKS = new Set<RelaySourceLogEntry["type"]>([
  "connecting",
  "eose",
  "paused",
  "disconnected",
  "closed",
  "notice",
]);
const FAILED_INPUT_PREFIX = 256;

/**
 * Opens the subscription and returns the stream of events. Cancelling the stream closes the
 * socket and stops reconnecting. With `context.authenticate` the relay's NIP-42 challenge is
 * answered (signed in the node's thread, `pipeline/worker_authenticator.ts` when this stage runs
 * in a worker), so private kinds are served (docs/PROTOCOL.md "Private events: NIP-42 AUTH").
 * It needs a relay, so it has no example that runs here: tests/interop/nostr_relay_source_test.ts
 * reads a real relay's events through it.
 */
export function createRelaySource(
  options: RelaySourceOptions,
  context: StageContext = {},
): ReadableStream<RelaySourceChunk> {
  checkRelayUrl(options.relay, options.allowInsecure ?? false);
  if (options.filters.length === 0) throw new StageOptionsError("relay-source needs a filter");
  options.filters.forEach((f) => validateFilter(f));
  const hwm = options.highWaterMark ?? 1024;
  const subId = options.subId ?? `tp-${crypto.randomUUID().slice(0, 8)}`;
  const seen = new SeenEventIds({ max: options.dedupCapacity ?? 100_000 });
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
  let client!: Nip01Client;
  let finished = false;

  const finish = (err?: Nip01ClientError) => {
    if (finished) return;
    finished = true;
    if (err === undefined) return controller.close();
    controller.error(
      err.reason === "refused"
        ? new RelaySubscriptionRefusedError(`relay closed ${subId}: ${err.relayMessage}`)
        : err,
    );
  };

  const onEvent = (message: RelayEventMessage, raw: string) => {
    let id: string;
    let createdAt: number;
    let text: string;
    if (message.event !== undefined) {
      id = message.event.id;
      createdAt = message.event.created_at;
      text = encodeEventToon(message.event);
    } else {
      // Only id and created_at are needed here (dedupe, resume point): the shallow extractor reads
      // them exactly without a full decode; the full check happens downstream.
      let decoded: { id: string; created_at: number };
      try {
        decoded = extractSummary(message.toon);
      } catch (err) {
        const e = new RelayEventDecodeError(`undecodable TOON event: ${(err as Error).message}`);
        return emitFailed(e.name, e.message, raw.slice(0, FAILED_INPUT_PREFIX));
      }
      id = decoded.id;
      createdAt = decoded.created_at;
      text = message.toon;
    }
    // A duplicate was delivered before: it still counts towards what this session has covered.
    if (seen.has(id)) return client.covered(createdAt);
    // Backpressure: the socket is closed, the event in hand is not counted as delivered.
    if ((controller.desiredSize ?? 0) <= 0) return client.pause();
    seen.firstTime(id);
    client.covered(createdAt);
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
      client = openNip01Client(options.relay, options.filters, {
        subId,
        untilEose: options.untilEose,
        reconnect: {
          initialBackoffMs: options.initialBackoffMs,
          maxBackoffMs: options.maxBackoffMs,
          overlapSeconds: options.overlapSeconds,
        },
        maxMessageBytes: options.maxMessageBytes,
        refuseBinary: true,
        openSocket: (url) =>
          openWebSocket(url, { noDelay: options.noDelay, caCerts: options.caCerts }),
        onEvent: (message, data) => onEvent(message, typeof data === "string" ? data : ""),
        onBadMessage: (err, data) =>
          emitFailed(
            err.name,
            err.message,
            typeof data === "string" ? data.slice(0, FAILED_INPUT_PREFIX) : "",
          ),
        onLog: log,
        onEnd: finish,
        authenticate: context.authenticate,
      });
    },
    pull(c) {
      if (client.paused && !finished && (c.desiredSize ?? 0) >= hwm / 2) client.resume();
    },
    cancel() {
      finished = true;
      client.close();
    },
  }, new CountQueuingStrategy({ highWaterMark: hwm }));
}

/** A flag's value read by its setting codec (config/setting_codecs.ts), refused as the stage's. */
function stageOption<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new StageOptionsError(err.message, { cause: err });
  }
}

/** The relay's URL: ws:// only to loopback, by the settings' rule (config/setting_codecs.ts). */
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
  if (url.protocol === "ws:" && !allowInsecure && !isLoopbackHost(url.hostname)) {
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
 * import assert from "node:assert/strict";
 * import { StageOptionsError } from "./stage.ts";
 *
 * const p = "ab".repeat(32);
 * assert.deepEqual(filterFromFlags({ kinds: "6050,7000", p }), { kinds: [6050, 7000], "#p": [p] });
 * assert.throws(() => filterFromFlags({ since: "yesterday" }), StageOptionsError);
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
      untilEose: stageOption(() => booleanSetting(flags["until-eose"] ?? false, "--until-eose")),
      allowInsecure: stageOption(() =>
        booleanSetting(flags["allow-insecure"] ?? false, "--allow-insecure")
      ),
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

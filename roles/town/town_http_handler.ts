/**
 * What the town answers on its NIP-01/HTTP port, behind the bounded listener
 * (transport/http_front.ts, which caps connections, request heads and messages):
 *
 * - `upgrade`: a WebSocket upgrade (any path) is served NIP-01 ({@linkcode Nip01Session});
 * - `handler`, every other request:
 * - `Accept: application/nostr+json` to the NIP-11 document;
 * - `GET /health` to a JSON health summary;
 * - `GET /metrics` to Prometheus text;
 * - the Blossom blob routes (blob_routes.ts) when the town keeps blobs.
 *
 * TOON mode: a client gets Crosstown's `["EVENT", subId, "<TOON text>"]` instead of JSON events
 * when it opens the WebSocket with the query parameter `?format=toon` (works from any client
 * that takes a URL) or offers the subprotocol `toon` (`Sec-WebSocket-Protocol: toon`; the
 * server then selects it, as RFC 6455 requires). Everything else is standard NIP-01 JSON.
 *
 * @module
 */
import type { RelayPricing } from "../../protocol/relay_pricing.ts";
import type { EventStore } from "../../state/events/event_store.ts";
import { asTownStore, type TownStore } from "../../state/events/town_store.ts";
import { buildNip11Document, type Nip11Info } from "./relay/nip11_document.ts";
import { type EventWireFormat, Nip01Session } from "./relay/nip01_session.ts";
import { SlowConsumerGuard } from "../../transport/slow_consumer_guard.ts";
import { SubscriptionHub } from "./relay/subscription_hub.ts";
import type { BlobRoutes } from "./blobs/blob_routes.ts";
import type { TownBlobStore } from "../../state/blobs/town_blob_store.ts";
import {
  effectivePrefixCap,
  resolveTownLimits,
  type TownLimits,
} from "../../config/town_limits.ts";
import {
  createTownCounters,
  renderTownMetrics,
  type TownCounters,
  type TownGauges,
} from "./town_metrics.ts";
import type { PeerBalance } from "../../state/payments/peer_ledger.ts";
import { FreedMemoryTrim } from "../../transport/freed_memory_trim.ts";
import { ReadBudget } from "./relay/read_budget.ts";
import { relayUrlKey } from "../../protocol/relay_url_key.ts";
import { townRelayUrls } from "./relay/relay_urls.ts";
import type { TlsKeyPair } from "../../transport/tls_listener.ts";
import type { HttpHead } from "../../transport/http_head.ts";
import {
  type HttpFront,
  listenHttpFront,
  type WebSocketRoute,
} from "../../transport/http_front.ts";

/** The subprotocol name a client offers to get TOON events. */
export const TOON_SUBPROTOCOL = "toon";

/** Options for {@linkcode createTownHttpHandler}. */
export interface TownHttpHandlerOptions {
  /** SQLite (an `EventStore`) or any town store (e.g. the shared PostgreSQL one). */
  store: EventStore | TownStore;
  /** The live-push hub (shared with the write side); a new one when absent. */
  hub?: SubscriptionHub;
  /** Overrides of {@linkcode DEFAULT_TOWN_LIMITS}. */
  limits?: Partial<TownLimits>;
  /** Hex pubkey of the town's owner: its EVENTs are verified and stored without payment. */
  ownerPubkey?: string;
  /**
   * Kinds served only to a connection authenticated (NIP-42) as their recipient or author.
   * Default: gift wraps, 1059 (roles/town/relay/relay_auth.ts).
   */
  privateKinds?: ReadonlySet<number>;
  /**
   * The URLs a NIP-42 answer may name as this town (`[town] public_relay_url`); absent or
   * empty: the URLs {@linkcode TownHttpHandler.listen} listens on (roles/town/relay/relay_urls.ts).
   */
  publicRelayUrls?: readonly string[];
  /** ILP address paid writes go to (named in `payment-required` answers). */
  ilpAddress?: string;
  /** Prices quoted in `payment-required` answers and NIP-11 `fees`. */
  pricing?: RelayPricing;
  /** NIP-11 fields. */
  info?: Nip11Info;
  /** How often expired events are purged from the store (NIP-40). Default 60 s; 0 = never. */
  purgeIntervalMs?: number;
  /** The Blossom routes and their store, when the town keeps blobs. */
  blobs?: { routes: BlobRoutes; store: TownBlobStore; payments: () => number };
  /** More gauges for `/metrics` (the BTP listener's, the write side's). */
  moreGauges?: () => Partial<TownGauges>;
  /** The town's books per BTP peer, for `/metrics` (state/payments/peer_ledger.ts). */
  peerBalances?: () => PeerBalance[];
}

/** Options for {@linkcode TownHttpHandler.listen}. */
export interface TownHttpListenOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Share the port with the town's other processes (transport/http_front.ts). */
  reusePort?: boolean;
  /** Serve TLS with this certificate (transport/http_front.ts `tls`). */
  tls?: TlsKeyPair;
  /** Proxies whose PROXY header names the client (transport/http_front.ts). */
  trustedProxies?: readonly string[];
  /** Told about accept failures and restarts. */
  log?: (line: string) => void;
  /** Connections from an address on the town's other processes (state/postgres/postgres_connection_counts.ts). */
  connectionsElsewhere?: (address: string) => number;
  /** A slot in the town-wide count per address (transport/http_front.ts `sharedSlot`). */
  sharedSlot?: (address: string) => Promise<(() => void) | "address">;
}

/** The town's HTTP handler and what it owns. */
export interface TownHttpHandler {
  /** Routes a WebSocket upgrade to a NIP-01 session (for `listenHttpFront`). */
  upgrade: (head: HttpHead) => WebSocketRoute;
  /** Answers every other request (for `listenHttpFront`). */
  handler: (request: Request) => Response | Promise<Response>;
  /** Listens on a port with `upgrade` and `handler` behind the town's limits. */
  listen(options: TownHttpListenOptions): HttpFront;
  hub: SubscriptionHub;
  limits: TownLimits;
  counters: TownCounters;
  /** Open connections. */
  readonly connectionCount: number;
  /**
   * Bounds what waits to be sent on the NIP-01 WebSockets, per socket, in time and in total
   * (`max_buffered_bytes`, `slow_consumer_timeout_ms`, `max_buffered_bytes_total`); the town
   * hands it to its BTP server too, so the total covers both ports.
   */
  readonly slowConsumers: SlowConsumerGuard;
  /** Closes every connection and stops the purge timer (the store stays open). */
  close(): void;
}

const NIP11_TYPE = "application/nostr+json";
const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "*",
  "access-control-allow-methods": "GET, OPTIONS",
};

/**
 * Creates the town's HTTP handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTownHttpHandler } from "./town_http_handler.ts";
 * import { openEventStore } from "../../state/events/event_store.ts";
 *
 * const ownerPubkey = "ab".repeat(32);
 * const store = openEventStore({ path: ":memory:" });
 * const town = createTownHttpHandler({ store, ownerPubkey, ilpAddress: "g.town" });
 * const front = town.listen({ hostname: "127.0.0.1", port: 0 });
 * // write side, after a paid insert: town.hub.publish(event, toon)
 * const nip11 = await fetch(`http://127.0.0.1:${front.port}/`, {
 *   headers: { accept: "application/nostr+json" },
 * });
 * assert.equal((await nip11.json()).pubkey, ownerPubkey);
 * await front.close();
 * town.close();
 * store.close();
 * ```
 */
export function createTownHttpHandler(options: TownHttpHandlerOptions): TownHttpHandler {
  const limits = resolveTownLimits(options.limits);
  const hub = options.hub ?? new SubscriptionHub();
  const counters = createTownCounters();
  const budget = new ReadBudget(limits);
  // While stored events are read, what the C allocator freed goes back to the system each second
  // (transport/freed_memory_trim.ts).
  const trim = new FreedMemoryTrim({ intervalMs: 1000, wanted: () => budget.queries > 0 });
  trim.start();
  const sessions = new Set<Nip01Session>();
  const slowConsumers = new SlowConsumerGuard({
    maxBytesPerSocket: limits.maxBufferedBytes,
    highWaterBytes: limits.maxBufferedBytes / 2,
    timeoutMs: limits.slowConsumerTimeoutMs,
    maxBytesTotal: limits.maxBufferedBytesTotal,
  });
  const ilpAddress = options.ilpAddress ?? "g.turnpike.town";
  const pricing = options.pricing ?? { ownerPubkey: options.ownerPubkey };
  const started = Date.now();
  const info: Nip11Info = {
    pubkey: options.ownerPubkey,
    pricePerByte: pricing.pricePerByte ?? 10n,
    ilpAddress,
    ...options.info,
  };
  const store = asTownStore(options.store);
  const purgeMs = options.purgeIntervalMs ?? 60_000;
  const purgeTimer = purgeMs > 0
    ? setInterval(() => {
      // A busy, closed or unreachable database: try again next time.
      store.purgeExpired().then((ids) => counters.expiredPurgedTotal += ids.length, () => {});
      options.blobs?.store.purgeExpired().catch(() => {});
    }, purgeMs)
    : undefined;

  const upgrade = (head: HttpHead): WebSocketRoute => {
    const offered = (head.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const target = new URL(head.startLine.split(" ")[1] ?? "/", "http://town");
    const wantsToonProtocol = offered.includes(TOON_SUBPROTOCOL);
    const format: EventWireFormat =
      wantsToonProtocol || target.searchParams.get("format") === "toon" ? "toon" : "json";
    return {
      // Twice the NIP-01 cap: a message a little over it is read and answered with a NOTICE,
      // one far over it is cut off (1009) before it is buffered.
      maxMessageBytes: 2 * limits.maxMessageBytes,
      protocol: wantsToonProtocol ? TOON_SUBPROTOCOL : undefined,
      onSocket: (socket) => openSession(socket, format),
    };
  };

  // Without public URLs, the ones `listen` binds (set there, before it accepts a connection).
  let relayUrls: readonly string[] = (options.publicRelayUrls ?? []).flatMap((u) =>
    relayUrlKey(u) ?? []
  );

  const openSession = (socket: WebSocket, format: EventWireFormat) => {
    counters.connectionsTotal++;
    // Closed by the guard: counted as the session's own slow consumers are, and closed the same
    // way (a NOTICE queued last, its subscriptions ended at once).
    const watched = slowConsumers.watch(socket, (_reason, detail) => {
      counters.slowConsumerDisconnectsTotal++;
      session.closeSlowConsumer(detail);
    });
    const session: Nip01Session = new Nip01Session(socket, {
      store,
      hub,
      limits,
      counters,
      format,
      ownerPubkey: options.ownerPubkey,
      ilpAddress,
      pricing,
      budget,
      onSent: () => void watched.sent(),
      townBuffered: () => slowConsumers.stats().bufferedBytes,
      auth: { relayUrls, privateKinds: options.privateKinds },
    });
    sessions.add(session);
    socket.addEventListener("close", () => sessions.delete(session));
    return {
      isIdle: () => session.isIdle(limits.idleEvictAfterMs),
      quietSince: () => session.quietSince(limits.idleSubscriptionEvictAfterMs),
    };
  };

  const blobGauges = async () => {
    if (options.blobs === undefined) return {};
    const stats = await Promise.resolve(options.blobs.store.stats())
      .catch(() => ({ blobs: 0, bytes: 0 }));
    const c = options.blobs.routes.counters;
    return {
      blobsStored: stats.blobs,
      blobBytesStored: stats.bytes,
      blobUploadsInProgress: c.uploadsInProgress,
      blobUploadsTotal: c.uploads,
      blobUploadBytesTotal: c.uploadBytes,
      blobDownloadsTotal: c.downloads,
      blobDownloadBytesTotal: c.downloadBytes,
      blobRequestsRefusedTotal: c.refused,
      blobPaymentsTotal: options.blobs.payments(),
    };
  };

  const json = (body: unknown, contentType = "application/json") =>
    new Response(JSON.stringify(body), { headers: { "content-type": contentType, ...CORS } });

  const health = async (): Promise<Response> => {
    // A store that cannot answer (a shared database away) is reported, not waited on forever.
    const events = await store.size().catch(() => undefined);
    return json({
      status: events === undefined ? "store-unavailable" : "ok",
      uptimeSeconds: Math.floor((Date.now() - started) / 1000),
      connections: sessions.size,
      subscriptions: hub.size,
      events,
    });
  };

  const metrics = async (): Promise<Response> => {
    const eventsStored = await store.size().catch(() => 0);
    const blobs = await blobGauges();
    const text = renderTownMetrics(
      counters,
      {
        connectionsOpen: sessions.size,
        subscriptionsOpen: hub.size,
        eventsStored,
        eventsPublishedTotal: hub.publishedTotal,
        liveDeliveriesTotal: hub.deliveredTotal,
        queriesInFlight: budget.queries,
        queuedQueryBytes: budget.queuedBytes,
        outboundBufferedBytes: slowConsumers.stats().bufferedBytes,
        ...blobs,
        ...options.moreGauges?.(),
      },
      limits,
      options.peerBalances?.(),
    );
    return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4" } });
  };

  const handler = (request: Request): Response | Promise<Response> => {
    const blob = options.blobs?.routes.handle(request);
    if (blob !== undefined) return blob;
    const { pathname } = new URL(request.url);
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    if (pathname === "/health") return health();
    if (pathname === "/metrics") return metrics();
    if ((request.headers.get("accept") ?? "").includes(NIP11_TYPE)) {
      return json(buildNip11Document(info, limits), NIP11_TYPE);
    }
    if (pathname === "/") {
      return new Response(
        "turnpike town: connect with a Nostr client (WebSocket, NIP-01); " +
          `NIP-11 with Accept: ${NIP11_TYPE}\n`,
        { headers: { "content-type": "text/plain; charset=utf-8" } },
      );
    }
    return new Response("not found\n", { status: 404 });
  };

  const listen = (o: TownHttpListenOptions): HttpFront => {
    const front = listenHttpFront({
      ...o,
      headTimeoutMs: limits.httpHeadTimeoutMs,
      idleTimeoutMs: limits.httpIdleTimeoutMs,
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      maxConnectionsPerPrefix: effectivePrefixCap(limits),
      maxConnections: limits.maxConnections,
      upgrade,
      handler,
      operatorPaths: ["/health", "/metrics"],
    });
    if (relayUrls.length === 0) {
      relayUrls = townRelayUrls({ host: o.hostname, port: front.port, tls: o.tls !== undefined });
    }
    return front;
  };

  return {
    upgrade,
    handler,
    listen,
    hub,
    limits,
    counters,
    get connectionCount() {
      return sessions.size;
    },
    slowConsumers,
    close() {
      if (purgeTimer !== undefined) clearInterval(purgeTimer);
      for (const session of [...sessions]) session.close();
      sessions.clear();
      slowConsumers.close();
      trim.stop();
    },
  };
}

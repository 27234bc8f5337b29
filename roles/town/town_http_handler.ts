/**
 * The town's HTTP front: one handler for `Deno.serve` that routes
 *
 * - a WebSocket upgrade (any path) to NIP-01 ({@linkcode Nip01Session});
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
import type { EventStore } from "../../state/event_store.ts";
import { buildNip11Document, type Nip11Info } from "./nip11_document.ts";
import { type EventWireFormat, Nip01Session } from "./nip01_session.ts";
import { SubscriptionHub } from "./subscription_hub.ts";
import type { BlobRoutes } from "./blob_routes.ts";
import type { BlobStore } from "../../state/blob_store.ts";
import { resolveTownLimits, type TownLimits } from "./town_limits.ts";
import {
  createTownCounters,
  renderTownMetrics,
  type TownCounters,
  type TownGauges,
} from "./town_metrics.ts";
import { ConnectionGate, remoteHost } from "../../transport/connection_gate.ts";
import { ReadBudget } from "./read_budget.ts";

/** The subprotocol name a client offers to get TOON events. */
export const TOON_SUBPROTOCOL = "toon";

/** Options for {@linkcode createTownHttpHandler}. */
export interface TownHttpHandlerOptions {
  store: EventStore;
  /** The live-push hub (shared with the write side); a new one when absent. */
  hub?: SubscriptionHub;
  /** Overrides of {@linkcode DEFAULT_TOWN_LIMITS}. */
  limits?: Partial<TownLimits>;
  /** Hex pubkey of the town's owner: its EVENTs are verified and stored without payment. */
  ownerPubkey?: string;
  /** ILP address paid writes go to (named in `payment-required` answers). */
  ilpAddress?: string;
  /** Prices quoted in `payment-required` answers and NIP-11 `fees`. */
  pricing?: RelayPricing;
  /** NIP-11 fields. */
  info?: Nip11Info;
  /** How often expired events are purged from the store (NIP-40). Default 60 s; 0 = never. */
  purgeIntervalMs?: number;
  /** The Blossom routes and their store, when the town keeps blobs. */
  blobs?: { routes: BlobRoutes; store: BlobStore; payments: () => number };
  /** More gauges for `/metrics` (the BTP listener's, the write side's). */
  moreGauges?: () => Partial<TownGauges>;
}

/** The town's HTTP handler and what it owns. */
export interface TownHttpHandler {
  /** Pass to `Deno.serve` (the connection info gives the per-address connection cap). */
  handler: (request: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  hub: SubscriptionHub;
  limits: TownLimits;
  counters: TownCounters;
  /** Open connections. */
  readonly connectionCount: number;
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
 * const store = openEventStore({ path: "events.sqlite" });
 * const town = createTownHttpHandler({ store, ownerPubkey, ilpAddress: "g.town" });
 * Deno.serve({ hostname: "127.0.0.1", port: 7100 }, town.handler);
 * // write side, after a paid insert: town.hub.publish(event, toon)
 * ```
 */
export function createTownHttpHandler(options: TownHttpHandlerOptions): TownHttpHandler {
  const limits = resolveTownLimits(options.limits);
  const hub = options.hub ?? new SubscriptionHub();
  const counters = createTownCounters();
  const budget = new ReadBudget(limits);
  const gate = new ConnectionGate({
    maxPerAddress: limits.maxConnectionsPerAddress,
    maxTotal: limits.maxConnections,
  });
  const sessions = new Set<Nip01Session>();
  const ilpAddress = options.ilpAddress ?? "g.turnpike.town";
  const pricing = options.pricing ?? { ownerPubkey: options.ownerPubkey };
  const started = Date.now();
  const info: Nip11Info = {
    pubkey: options.ownerPubkey,
    pricePerByte: pricing.pricePerByte ?? 10n,
    ilpAddress,
    ...options.info,
  };
  const purgeMs = options.purgeIntervalMs ?? 60_000;
  const purgeTimer = purgeMs > 0
    ? setInterval(() => {
      try {
        counters.expiredPurgedTotal += options.store.purgeExpired().length;
        options.blobs?.store.purgeExpired().catch(() => {});
      } catch {
        // A busy or closed database: try again next time.
      }
    }, purgeMs)
    : undefined;

  const upgrade = (request: Request, address: string): Response => {
    const release = gate.open(address);
    if (typeof release !== "function") {
      counters.connectionsRefusedTotal++;
      return gate.refusalResponse(release);
    }
    try {
      return upgradeAdmitted(request, release);
    } catch (err) {
      release();
      throw err;
    }
  };

  const upgradeAdmitted = (request: Request, release: () => void): Response => {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const url = new URL(request.url);
    const wantsToonProtocol = offered.includes(TOON_SUBPROTOCOL);
    const format: EventWireFormat = wantsToonProtocol || url.searchParams.get("format") === "toon"
      ? "toon"
      : "json";
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      wantsToonProtocol ? { protocol: TOON_SUBPROTOCOL } : {},
    );
    counters.connectionsTotal++;
    const session = new Nip01Session(socket, {
      store: options.store,
      hub,
      limits,
      counters,
      format,
      ownerPubkey: options.ownerPubkey,
      ilpAddress,
      pricing,
      budget,
    });
    sessions.add(session);
    socket.addEventListener("close", () => {
      sessions.delete(session);
      release();
    });
    return response;
  };

  const blobGauges = () => {
    if (options.blobs === undefined) return {};
    const stats = options.blobs.store.stats();
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

  const handler = (
    request: Request,
    connection?: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      try {
        return upgrade(request, remoteHost(connection));
      } catch {
        return new Response("bad WebSocket upgrade\n", { status: 400 });
      }
    }
    const blob = options.blobs?.routes.handle(request);
    if (blob !== undefined) return blob;
    const { pathname } = new URL(request.url);
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    if (pathname === "/health") {
      return json({
        status: "ok",
        uptimeSeconds: Math.floor((Date.now() - started) / 1000),
        connections: sessions.size,
        subscriptions: hub.size,
        events: options.store.size(),
      });
    }
    if (pathname === "/metrics") {
      const text = renderTownMetrics(counters, {
        connectionsOpen: sessions.size,
        subscriptionsOpen: hub.size,
        eventsStored: options.store.size(),
        eventsPublishedTotal: hub.publishedTotal,
        liveDeliveriesTotal: hub.deliveredTotal,
        queriesInFlight: budget.queries,
        queuedQueryBytes: budget.queuedBytes,
        ...blobGauges(),
        ...options.moreGauges?.(),
      }, limits);
      return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4" } });
    }
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

  return {
    handler,
    hub,
    limits,
    counters,
    get connectionCount() {
      return sessions.size;
    },
    close() {
      if (purgeTimer !== undefined) clearInterval(purgeTimer);
      for (const session of [...sessions]) session.close();
      sessions.clear();
    },
  };
}

/**
 * A town's start-up step that opens its HTTP front (roles/town/town_http_handler.ts): NIP-01 and
 * NIP-11, Blossom, `/metrics` with the BTP listener's and the write side's gauges, behind the
 * town's connection caps; on a shared store the port is shared by the town's processes and
 * connections per address are counted town-wide (docs/OPERATIONS.md "A town on several machines").
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { TownBlobStore } from "../../state/blobs/town_blob_store.ts";
import type { HttpFront, HttpFrontStats } from "../../transport/http_front.ts";
import { createBlobRoutes } from "./blobs/blob_routes.ts";
import type { BtpServer, BtpServerStats } from "./btp/btp_server.ts";
import { LateBound } from "./late_bound.ts";
import { DEFAULT_PRIVATE_KINDS } from "./relay/relay_auth.ts";
import type { TownAddress } from "./town_address.ts";
import type { TownBooks } from "./town_books.ts";
import type { TownCertificate } from "./town_certificate.ts";
import { createTownHttpHandler, type TownHttpHandler } from "./town_http_handler.ts";
import type { TownGauges } from "./town_metrics.ts";
import type { TownRelay } from "./town_relay.ts";
import type { TownSizing } from "./town_sizing.ts";
import type { TownClosers } from "./town_stop.ts";
import type { TownStores } from "./town_stores.ts";

/** Options for {@linkcode startTownHttpFront}. */
export interface TownHttpFrontOptions {
  config: Pick<
    TownSettings,
    "host" | "httpPort" | "pricing" | "trustedProxies" | "privateKinds" | "publicRelayUrls"
  >;
  stores: Pick<TownStores, "store" | "blobs" | "connectionCounts" | "postgresStore">;
  sizing: Pick<TownSizing, "limits" | "fileLimit" | "unknownElsewhere">;
  relay: TownRelay;
  books: Pick<TownBooks, "ledger">;
  /** The BTP server, once started: its counters are read at scrape time. */
  btp: LateBound<BtpServer>;
  /** Packets refused for spent credit so far. */
  creditRefused: () => number;
  signer: NodeSigner;
  address: TownAddress;
  maxWriteAmount: bigint;
  /** What the routes use: the blob store, or the town-wide store over it. */
  townBlobs: TownBlobStore;
  blobPricePerMiB: bigint;
  closers: TownClosers;
  log: (line: string) => void;
  /** Serve `wss://`/`https://` with it (roles/town/town_certificate.ts); absent: plain. */
  certificate?: TownCertificate;
}

/** The town's HTTP front. */
export interface TownHttpFront {
  http: TownHttpHandler;
  server: HttpFront;
}

/**
 * Makes the town's HTTP handler and listens with it.
 *
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/interop/nostr_tools_town_read_test.ts.
 */
export function startTownHttpFront(options: TownHttpFrontOptions): TownHttpFront {
  const { config, stores: { store, blobs, connectionCounts }, relay: { hub, pipeline } } = options;
  const { limits, fileLimit, unknownElsewhere } = options.sizing;
  const { address, blobPricePerMiB, townBlobs, log } = options;
  // The listener starts after the handler; its counters are read at scrape time.
  const front = new LateBound<HttpFront>();
  const http = createTownHttpHandler({
    store,
    hub,
    limits,
    moreGauges: () => ({
      ...prefixed(options.btp.current?.stats()),
      spspRateLimitedTotal: pipeline.counters.spspRateLimited,
      peerCreditRefusedTotal: options.creditRefused(),
      openFileLimit: fileLimit?.soft,
      ...httpGauges(front.current?.stats()),
    }),
    peerBalances: () => options.books.ledger.balances(),
    ownerPubkey: config.pricing.ownerPubkey,
    // Gift wraps are always private; the operator's list adds to them.
    privateKinds: new Set([...DEFAULT_PRIVATE_KINDS, ...config.privateKinds ?? []]),
    publicRelayUrls: config.publicRelayUrls,
    ilpAddress: address.ilpAddress,
    pricing: config.pricing,
    info: {
      self: options.signer.pubkey,
      assetCode: address.assetCode,
      assetScale: address.assetScale,
      maxPacketAmount: options.maxWriteAmount,
      blobs: {
        pricePerMiB: blobPricePerMiB,
        maxBlobBytes: blobs.maxBlobBytes,
        quotaBytes: blobs.quotaBytes,
        retentionMs: blobs.retentionMs,
      },
    },
    blobs: {
      store: townBlobs,
      payments: () => pipeline.counters.blobPayments,
      routes: createBlobRoutes({
        blobs: townBlobs,
        pricePerMiB: blobPricePerMiB,
        ilpAddress: () => address.ilpAddress,
      }),
    },
  });
  const server = http.listen({
    hostname: config.host,
    port: config.httpPort,
    // Processes sharing a store share the ports too (one address for the town).
    reusePort: options.stores.postgresStore !== undefined,
    tls: options.certificate?.keyPair,
    trustedProxies: config.trustedProxies,
    log,
    connectionsElsewhere: connectionCounts &&
      (() => connectionCounts.reachable() ? 0 : unknownElsewhere),
    sharedSlot: connectionCounts &&
      ((address) => connectionCounts.take("http", address, limits.maxConnectionsPerAddress)),
  });
  front.bind(server);
  options.certificate?.serveOn(server);
  options.closers.add(async () => {
    http.close();
    await server.close();
  });
  return { http, server };
}

function prefixed(stats: BtpServerStats | undefined): Partial<TownGauges> {
  if (stats === undefined) return {};
  return {
    btpAuthFailuresTotal: stats.authFailuresTotal,
    btpAuthBlocksTotal: stats.authBlocksTotal,
    btpAuthBlockedRefusalsTotal: stats.authBlockedRefusalsTotal,
    btpConnectionsRefusedTotal: stats.connectionsRefusedTotal,
    btpConnectionsOpen: stats.connectionsOpen,
    btpHandshakesFailedTotal: stats.handshakesFailedTotal,
    btpAcceptErrorsTotal: stats.acceptErrorsTotal,
    btpSlowConsumerDisconnectsTotal: stats.slowConsumerDisconnectsTotal,
  };
}

function httpGauges(stats: HttpFrontStats | undefined): Partial<TownGauges> {
  if (stats === undefined) return {};
  return {
    connectionsRefusedTotal: stats.connectionsRefusedTotal,
    httpHandshakesFailedTotal: stats.handshakesFailedTotal,
    httpAcceptErrorsTotal: stats.acceptErrorsTotal,
    httpIdleClosedTotal: stats.idleClosedTotal,
    httpListenerRestartsTotal: stats.innerRestartsTotal,
    httpOperatorLaneServedTotal: stats.operatorLaneServedTotal,
    httpIdleEvictedTotal: stats.idleEvictedTotal,
  };
}

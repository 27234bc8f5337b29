/**
 * A running town, started in steps, each in its own module: the limits (town_sizing.ts), the
 * stores (town_stores.ts), the private listener, the write side (town_relay.ts), the books, the
 * claim gates, the router, the parent link, the HTTP front, the BTP server and the peer routes
 * across processes; {@linkcode TownNode.stop} takes them down in order (town_stop.ts: refuse
 * new packets T03 and answer those in flight, then close the sockets, commit what is queued,
 * close the stores).
 *
 * @module
 */
import { type NodeKeyOptions, nodeSignerOf } from "../../identity/local_node_signer.ts";
import type { TownStore } from "../../state/events/town_store.ts";
import type { PeerBalance, PeerLedger } from "../../state/payments/peer_ledger.ts";
import type { PeerCredit } from "../../state/payments/peer_credit.ts";
import type { BlobStore } from "../../state/blobs/blob_store.ts";
import type { TownBlobStore } from "../../state/blobs/town_blob_store.ts";
import type { TownSettings } from "../../config/town_settings.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../../protocol/blob_pricing.ts";
import type { BtpClaimGate } from "../channels/btp_claim_gate.ts";
import { deriveForwardKey } from "./btp/process_forward.ts";
import type { BtpPeerConnection } from "./btp/btp_peer_connection.ts";
import type { ChannelCosignDesk } from "./channels/channel_cosign_desk.ts";
import type { WriteCounters } from "./write/write_pipeline.ts";
import { announceTownPeerInfo, type TownAnnouncement } from "./town_peer_info.ts";
import { startTownTrustPublisher } from "./town_trust_publish.ts";
import { TownAddress } from "./town_address.ts";
import { sizeTownLimits } from "./town_sizing.ts";
import { openTownStores } from "./town_stores.ts";
import { startTownPrivateListener } from "./town_private_listener.ts";
import { createTownRelay } from "./town_relay.ts";
import { openTownBooks } from "./town_books.ts";
import { townClaimGates } from "./town_claim_gates.ts";
import { createTownRouter } from "./town_router.ts";
import { drainInFlight, TownClosers } from "./town_stop.ts";
import { linkTownToParent } from "./town_parent.ts";
import { startTownHttpFront } from "./town_http_front.ts";
import { TownCertificate } from "./town_certificate.ts";
import { startTownBtpServer, townBtpAccounts } from "./town_btp_server.ts";
import { routePeersAcrossProcesses } from "./town_process_routes.ts";

/** Options for {@linkcode startTownNode}. */
export interface TownNodeOptions extends NodeKeyOptions {
  config: TownSettings;
  /** SQLite file; default `<state dir>/town-events.sqlite`. `:memory:` for tests. */
  databasePath?: string;
  /**
   * A shared PostgreSQL store (`postgres://...`; default `config.storeUrl`): several town
   * processes with the same key and store serve as one town (docs/OPERATIONS.md).
   */
  storeUrl?: string;
  /** Group commit of concurrent writes (default true; false only for comparisons). */
  groupCommit?: boolean;
  /**
   * How long a stop waits for the PREPAREs in flight to be answered before it closes the sockets
   * (new ones are refused T03 meanwhile; docs/OPERATIONS.md "Stopping a town"). Default 5 s.
   */
  drainTimeoutMs?: number;
  /** Signature-verifying workers (0: inline). Default: cores - 1 (1..4); 0 on a shared store. */
  verifierWorkers?: number;
  /** Told about peers connecting and leaving. */
  log?: (line: string) => void;
  /** Payment channel claim gates of the peers that settle over a channel (btp_claim_gate.ts). */
  claimGate?: (account: string) => BtpClaimGate | undefined;
  /**
   * Whether an account settles over a channel here (`claimGate`'s peers): the packets of the
   * others are covered by their credit (`config.peerCreditLimit`, btp/peer_credit_gate.ts).
   */
  hasChannel?: (account: string) => boolean;
  /** Co-sign desks (cooperative settle, withdraw) of those peers (channel_cosign_desk.ts). */
  cosignDesk?: (account: string) => ChannelCosignDesk | undefined;
  /**
   * Told after each payment forwarded to a peer is on the books, and after each payment in doubt
   * the peer proved (a payout may be due).
   */
  onOwed?: (balance: PeerBalance) => void;
  /** Told when a BTP peer connected (its newest payout claim is sent again). */
  onPeerConnected?: (account: string) => void;
}

/** A running town. */
export interface TownNode {
  ilpAddress: string;
  pubkey: string;
  httpPort: number;
  btpPort: number;
  assetCode: string;
  assetScale: number;
  /** The SQLite file, or the PostgreSQL URL (password hidden). */
  databasePath: string;
  writeCounters: WriteCounters;
  /** Transactions the paid writes were committed in so far (group commit). */
  writeBatches(): number;
  /** The event store (read it; writes go through the pipeline). */
  store: TownStore;
  /** The blob store (Blossom on the HTTP port; uploads paid through the pipeline); on a shared
   * store without a shared directory: the bytes this process holds. */
  blobs: BlobStore;
  /** What the routes use: `blobs`, or the town-wide store over it (state/blobs/shared_blob_store.ts). */
  townBlobs: TownBlobStore;
  /** This process's private blob fetch URL (a shared store without a shared directory). */
  blobPeerUrl?: string;
  /**
   * This process's private listener (a shared store): blob fetches without a shared directory,
   * and the packets the town's other processes forward to the BTP peers connected here.
   */
  privateUrl?: string;
  /** The kind 10032 stored at start (when the config has a settlement section). */
  announcement?: TownAnnouncement;
  /** The town's books per BTP peer (state/payments/peer_ledger.ts). */
  ledger: PeerLedger;
  /**
   * What each peer without a channel spent and was paid out (state/payments/peer_credit.ts), when the
   * town gives credit: the town's payouts count there (`TownPayoutsOptions.credit`).
   */
  credit?: PeerCredit;
  /** The connection of a BTP peer, when connected (payouts are sent over it). */
  peer(account: string): BtpPeerConnection | undefined;
  /**
   * The certificate both ports serve (`config.tls`; town_certificate.ts): its `reload()` reads
   * the files again for new connections (SIGHUP). Absent: plain ws/http/btp+ws.
   */
  certificate?: TownCertificate;
  /** Stops everything; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a town.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { startTownNode } from "./town_node.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const town = await startTownNode({
 *   config: { host: "127.0.0.1", httpPort: 0, btpPort: 0, stateDir, network: "local",
 *     ilpAddress: "test.town", peers: [], acceptAnyToken: true, pricing: { pricePerByte: 10n },
 *     maxEventBytes: 65_536, assetCode: "USD", assetScale: 6 },
 *   secretKey: generateSecretKey(),
 *   databasePath: ":memory:",
 * });
 * assert.equal(town.ilpAddress, "test.town");
 * const health = await fetch(`http://127.0.0.1:${town.httpPort}/health`);
 * assert.equal(health.status, 200);
 * await health.body?.cancel();
 * await town.stop();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function startTownNode(options: TownNodeOptions): Promise<TownNode> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const storeUrl = options.storeUrl ?? config.storeUrl;
  const sizing = sizeTownLimits(config, storeUrl !== undefined, log);
  // Read before anything opens: a missing or unreadable file stops the start with its name.
  const certificate = config.tls && await TownCertificate.load(config.tls);
  // Each step adds what closes what it opened; a stop closes them last opened first.
  const closers = new TownClosers();
  const stores = await openTownStores({
    config,
    storeUrl,
    databasePath: options.databasePath,
    closers,
    log,
  });
  const { postgresStore, store, connectionCounts, blobs } = stores;
  const { listener, townBlobs, forwarded } = await startTownPrivateListener({
    config,
    stores,
    closers,
    log,
  });
  const blobPricePerMiB = config.blobs?.pricePerMiB ?? DEFAULT_BLOB_PRICE_PER_MIB;
  // The town's identity: signs SPSP answers and its kind 10032, seeds the shared secrets.
  const signer = nodeSignerOf(options);
  // The configured address and asset until the parent's IL-DCP answers.
  const address = new TownAddress(config);
  const accounts = townBtpAccounts(config);
  const books = await openTownBooks(config, postgresStore, closers, log);
  const relay = await createTownRelay({
    config,
    stores,
    sizing,
    signer,
    address,
    townBlobs,
    blobPricePerMiB,
    groupCommit: options.groupCommit,
    verifierWorkers: options.verifierWorkers,
    closers,
  });
  const forwardKey = postgresStore && await deriveForwardKey(signer);
  const { claimGate, hasChannel, cosignDesk, onPeerConnected } = options;
  const gates = townClaimGates({ config, books, claimGate, hasChannel, address, log });
  const onOwed = (balance: PeerBalance) => {
    gates.owed(balance);
    options.onOwed?.(balance);
  };
  // The BTP server, the parent link and the peer routes start after it: bound then.
  const { router, elsewhere, maxWriteAmount, btp: btpServer, parentLink, peerRoutes } =
    createTownRouter({
      config,
      pipeline: relay.pipeline,
      address,
      books,
      blobPricePerMiB,
      maxBlobBytes: blobs.maxBlobBytes,
      forwardKey,
      onOwed,
      log,
    });
  try {
    await linkTownToParent({
      parent: config.parent,
      storeUrl,
      elsewhere,
      router,
      parentLink,
      peerRoutes,
      address,
      closers,
      log,
    });
    const { http, server } = startTownHttpFront({
      config,
      stores,
      sizing,
      relay,
      books,
      btp: btpServer,
      creditRefused: gates.refused,
      signer,
      address,
      maxWriteAmount,
      townBlobs,
      blobPricePerMiB,
      closers,
      log,
      certificate,
    });
    const btp = startTownBtpServer({
      config,
      stores,
      sizing,
      accounts,
      router,
      claimGate: gates.claimGate,
      cosignDesk,
      slowConsumers: http.slowConsumers,
      peerRoutes,
      ledger: books.ledger,
      paidOnce: books.paidOnce,
      onPeerConnected,
      onOwed,
      townAddress: () => address.ilpAddress,
      closers,
      log,
      certificate,
    });
    btpServer.bind(btp);
    if (postgresStore && connectionCounts && listener && forwardKey) {
      await routePeersAcrossProcesses({
        postgresStore,
        connectionCounts,
        privateUrl: listener.url,
        forwardKey,
        btp,
        router,
        parentLink,
        peerRoutes,
        forwarded,
        ledger: books.ledger,
        paidOnce: books.paidOnce,
        onOwed,
        closers,
        log,
      });
    }
    // Announced once the BTP port and the (possibly IL-DCP learnt) address are known.
    const announcement = config.settlement && await announceTownPeerInfo({
      store,
      signer,
      ilpAddress: address.ilpAddress,
      btpEndpoint: `${certificate ? "btp+wss" : "btp+ws"}://${urlHost(config.host)}:${btp.port}`,
      assetCode: address.assetCode,
      assetScale: address.assetScale,
      settlement: config.settlement,
      maxPacketAmount: maxWriteAmount,
    });
    if (config.trustPublish && books.credit) {
      await startTownTrustPublisher({
        store,
        signer,
        config,
        credit: books.credit,
        hasChannel,
        intervalMs: config.trustPublish.intervalMs,
        closers,
        log,
      });
    }
    // Run first at a stop: what is in flight is answered while every socket and store is open.
    const timeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    closers.add(() => drainInFlight({ router, btp, timeoutMs, log }));
    return {
      ilpAddress: address.ilpAddress,
      pubkey: signer.pubkey,
      httpPort: server.port,
      btpPort: btp.port,
      assetCode: address.assetCode,
      assetScale: address.assetScale,
      databasePath: stores.databasePath,
      writeCounters: relay.pipeline.counters,
      writeBatches: () => relay.pipeline.committer.batches,
      store,
      blobs,
      townBlobs,
      blobPeerUrl: stores.sharedBlobsDir === undefined ? listener?.url : undefined,
      privateUrl: listener?.url,
      announcement,
      ledger: books.ledger,
      credit: books.credit,
      peer: (account) => btp.peer(account),
      certificate,
      stop: () => closers.stop(),
    };
  } catch (err) {
    await closers.stop();
    throw err;
  }
}

/** Default of {@linkcode TownNodeOptions.drainTimeoutMs}. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

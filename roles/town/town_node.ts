/**
 * A running town: the SQLite event store, the NIP-01/HTTP server (read side, with live push),
 * the BTP server for children, the optional link to a parent connector, the router, the paid
 * write pipeline and the SPSP responder, wired together; {@linkcode TownNode.stop} takes them
 * down in order (refuse new packets T03 and answer those in flight, then close the sockets,
 * commit what is queued, close the store).
 *
 * @module
 */
import { sleep } from "../../protocol/backoff.ts";
import { type NodeKeyOptions, nodeSignerOf } from "../../identity/local_node_signer.ts";
import { openEventStore } from "../../state/event_store.ts";
import { openPostgresEventStore, redactUrl } from "../../state/postgres_event_store.ts";
import { PostgresRateBuckets } from "../../state/postgres_rate_buckets.ts";
import { PostgresConnectionCounts } from "../../state/postgres_connection_counts.ts";
import { PostgresPeerRoutes } from "../../state/postgres_peer_routes.ts";
import { SqliteTownStore, type TownStore } from "../../state/town_store.ts";
import { BtpAccounts } from "./btp/btp_accounts.ts";
import type { BtpClaimGate } from "./channels/btp_claim_gate.ts";
import { connectParentLink, type ParentLink } from "./btp/btp_parent_link.ts";
import { startSharedParentLink, UPLINK_ROUTE } from "./btp/shared_parent_link.ts";
import { openPostgresUplink } from "../../state/postgres_uplink.ts";
import { createBtpRouter } from "./btp/btp_router.ts";
import {
  createForwardHandler,
  createProcessForwarder,
  deriveForwardKey,
} from "./btp/process_forward.ts";
import { type BtpServerStats, startBtpServer } from "./btp/btp_server.ts";
import type { BtpPeerConnection } from "./btp/btp_peer_connection.ts";
import type { TownGauges } from "./town_metrics.ts";
import type { ChannelCosignDesk } from "./channels/channel_cosign_desk.ts";
import { SpspResponder } from "./spsp/spsp_responder.ts";
import { deriveSpspSeed, SpspSecrets } from "./spsp/spsp_secrets.ts";
import { SubscriptionHub } from "./relay/subscription_hub.ts";
import { DEFAULT_TOWN_PAYOUTS, type TownSettings } from "../../config/town_settings.ts";
import { createTownHttpHandler } from "./town_http_handler.ts";
import { createWritePipeline, type WriteCounters } from "./write/write_pipeline.ts";
import { announceTownPeerInfo, type TownAnnouncement } from "./town_peer_info.ts";
import { type BlobStore, openBlobStore } from "../../state/blob_store.ts";
import { PostgresBlobIndex } from "../../state/postgres_blob_index.ts";
import { openSharedBlobStore } from "../../state/shared_blob_store.ts";
import type { TownBlobStore } from "../../state/town_blob_store.ts";
import { type BlobPeerListener, startBlobPeerListener } from "./blobs/blob_peer_listener.ts";
import { openPaymentLog } from "../../state/payment_log.ts";
import { townWriteEntry } from "../../state/town_write_entry.ts";
import { openPeerLedger, type PeerBalance, type PeerLedger } from "../../state/peer_ledger.ts";
import { createPeerBooks } from "./btp/peer_books.ts";
import { MAX_IN_DOUBT } from "../../protocol/payment_in_doubt.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import { createBlobRoutes } from "./blobs/blob_routes.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../../protocol/blob_pricing.ts";
import {
  DEFAULT_TOWN_LIMITS,
  effectivePrefixCap,
  resolveTownLimits,
  type TownLimits,
} from "../../config/town_limits.ts";
import { shareOfTownLimits } from "./town_share.ts";
import { sharedAuthFailures } from "./shared_auth_failures.ts";
import { type OpenFileLimit, raiseOpenFileLimit } from "../../transport/open_file_limit.ts";
import type { HttpFrontStats } from "../../transport/http_front.ts";
import { openFilePeerCredit } from "../../state/peer_credit.ts";
import { openPostgresPeerCredit } from "../../state/postgres_peer_credit.ts";
import { peerCreditGate } from "./btp/peer_credit_gate.ts";

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
  /** What the routes use: `blobs`, or the town-wide store over it (state/shared_blob_store.ts). */
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
  /** The town's books per BTP peer (state/peer_ledger.ts). */
  ledger: PeerLedger;
  /** The connection of a BTP peer, when connected (payouts are sent over it). */
  peer(account: string): BtpPeerConnection | undefined;
  /** Stops everything; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a town.
 *
 * @example
 * ```ts
 * declare const config: Parameters<typeof startTownNode>[0]["config"];
 * declare const signer: Parameters<typeof startTownNode>[0]["signer"];
 * const town = await startTownNode({ config, signer });
 * console.log(town.ilpAddress, town.httpPort, town.btpPort);
 * await town.stop();
 * ```
 */
export async function startTownNode(options: TownNodeOptions): Promise<TownNode> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const fileLimit = raiseOpenFileLimit();
  const townLimits = resolveTownLimits(sizedToFiles(config.limits ?? {}, fileLimit));
  const onSharedStore = config.storeUrl !== undefined || options.storeUrl !== undefined;
  const shares = shareOfTownLimits(townLimits, onSharedStore ? config.storeProcesses ?? 1 : 1);
  // On a shared store connections per address are counted town-wide (a slot taken in the
  // database at accept, state/postgres_connection_counts.ts): each takes the full cap.
  const limits = onSharedStore
    ? { ...shares, maxConnectionsPerAddress: townLimits.maxConnectionsPerAddress }
    : shares;
  if (fileLimit) {
    log(
      `open files: ${fileLimit.soft} (hard ${fileLimit.hard}); ` +
        `${limits.maxConnections} connections per port`,
    );
  }
  const storeUrl = options.storeUrl ?? config.storeUrl;
  const databasePath = storeUrl !== undefined
    ? redactUrl(storeUrl)
    : options.databasePath ?? `${config.stateDir}/town-events.sqlite`;
  if (databasePath !== ":memory:") await Deno.mkdir(config.stateDir, { recursive: true });
  const postgresStore = storeUrl !== undefined
    ? await openPostgresEventStore({ url: storeUrl })
    : undefined;
  const store: TownStore = postgresStore ??
    new SqliteTownStore(openEventStore({ path: databasePath }));
  // On a shared store the SPSP limits per account and in total hold town-wide in the database
  // (each process's share only while it cannot be reached).
  const sharedBuckets = postgresStore && await PostgresRateBuckets.open(postgresStore.sql);
  const connectionCounts = postgresStore &&
    await PostgresConnectionCounts.open(postgresStore.sql, { log });
  // The heartbeat at once: the other processes look this one's peers up by it.
  await connectionCounts?.exchange().catch((err) =>
    log(`connection counts not exchanged: ${(err as Error).message}`)
  );
  // While the database cannot be reached each process holds to its share of the cap.
  const unknownElsewhere = limits.maxConnectionsPerAddress - shares.maxConnectionsPerAddress;
  // A town on a shared store keeps blobs either in a directory its processes on one host share
  // (files and their SQLite index) or, without one, each process in its own directory with the
  // index in PostgreSQL and bytes fetched by hash from the holder (state/shared_blob_store.ts,
  // docs/OPERATIONS.md "A town on several machines").
  const sharedBlobsDir = storeUrl === undefined ? undefined : config.storeBlobsDir;
  const blobs = await openBlobStore({
    dir: sharedBlobsDir ?? `${config.stateDir}/blobs`,
    maxBlobBytes: config.blobs?.maxBlobBytes,
    quotaBytes: config.blobs?.quotaBytes,
    retentionMs: config.blobs?.retentionMs,
    sharedByProcesses: sharedBlobsDir !== undefined,
  });
  // The private listener of a process on a shared store: blob fetches (without a shared
  // directory) and packets forwarded by the other processes (set once the router exists).
  let blobPeer: BlobPeerListener | undefined;
  let forwarded: ((request: Request) => Promise<Response>) | undefined;
  let townBlobs: TownBlobStore = blobs;
  if (postgresStore !== undefined) {
    const peer = config.storeBlobPeer ?? { host: "127.0.0.1", port: 0 };
    blobPeer = startBlobPeerListener({
      blobs: sharedBlobsDir === undefined ? blobs : undefined,
      forward: (request) =>
        forwarded?.(request) ?? Promise.resolve(new Response("starting\n", { status: 503 })),
      hostname: peer.host,
      port: peer.port,
      publicUrl: peer.url,
    });
    log(`private listener: ${blobPeer.url}`);
  }
  if (postgresStore !== undefined && blobPeer !== undefined && sharedBlobsDir === undefined) {
    townBlobs = await openSharedBlobStore({
      local: blobs,
      index: await PostgresBlobIndex.open(postgresStore.sql),
      selfUrl: blobPeer.url,
    });
  }
  const blobPricePerMiB = config.blobs?.pricePerMiB ?? DEFAULT_BLOB_PRICE_PER_MIB;
  const hub = new SubscriptionHub();
  // Events other processes of this town commit (a shared store) go out live here too.
  store.onCommittedElsewhere(({ event, toon }) => hub.publish(event, toon));
  // The town's identity: signs SPSP answers and its kind 10032, seeds the shared secrets.
  const signer = nodeSignerOf(options);
  const secrets = new SpspSecrets({ seed: await deriveSpspSeed(signer) });
  let townAddress = config.ilpAddress;
  let assetCode = config.assetCode;
  let assetScale = config.assetScale;
  const responder = new SpspResponder({
    signer,
    secrets,
    townAddress: () => townAddress,
    assetCode,
    assetScale,
    perAccountPerMinute: limits.spspPerAccountPerMinute,
    totalPerMinute: limits.spspTotalPerMinute,
    maxQueued: limits.spspMaxQueued,
    queueTimeoutMs: limits.spspQueueTimeoutMs,
    shared: sharedBuckets && {
      buckets: sharedBuckets,
      perAccountPerMinute: townLimits.spspPerAccountPerMinute,
      totalPerMinute: townLimits.spspTotalPerMinute,
    },
  });
  const pipeline = createWritePipeline({
    store,
    hub,
    secrets,
    responder,
    pricing: config.pricing,
    townAddress: () => townAddress,
    maxEventBytes: config.maxEventBytes,
    groupCommit: options.groupCommit,
    databasePath: storeUrl === undefined ? databasePath : undefined,
    // On a shared store the processes are the parallelism: each verifies on its main thread,
    // which saves a worker's ~20 MiB per process (docs/OPERATIONS.md "A town on several machines").
    verifierWorkers: options.verifierWorkers ?? (storeUrl === undefined ? undefined : 0),
    blobs: townBlobs,
    blobPricePerMiB,
    createdAtWindow: limits,
  });
  const accounts = new BtpAccounts({
    peers: config.peers,
    acceptAnyToken: config.acceptAnyToken,
    defaultMaxPacketAmount: config.maxPacketAmount,
  });
  // The parent link while this process holds it (on a shared store one process at a time does).
  let parentLink: () => ParentLink | undefined = () => undefined;
  // Which process holds each BTP peer (a shared store), opened once the BTP server listens.
  let peerRoutes: PostgresPeerRoutes | undefined;
  const forwardKey = postgresStore && await deriveForwardKey(signer);
  // The BTP server is created below; the router looks children up lazily.
  let childOf: (account: string) => ReturnType<ReturnType<typeof startBtpServer>["peer"]> = () =>
    undefined;
  // The town's income, one line per paid write or blob, on disk before the FULFILL leaves.
  const income = await openPaymentLog({ stateDir: config.stateDir });
  // What the town owes each BTP peer it forwards payments to, on disk before the FULFILL leaves.
  const ledger = await openPeerLedger({ stateDir: config.stateDir });
  // What each peer without a channel has spent on credit: in the database on a shared store.
  const creditLimits = new Map(
    config.peers.flatMap((p) => p.creditLimit === undefined ? [] : [[p.account, p.creditLimit]]),
  );
  const credit = config.peerCreditLimit === undefined && creditLimits.size === 0
    ? undefined
    : postgresStore
    ? await openPostgresPeerCredit(postgresStore.sql)
    : await openFilePeerCredit({ stateDir: config.stateDir });
  let creditRefused = 0;
  const claimGate = credit === undefined
    ? options.claimGate
    : (account: string) =>
      peerCreditGate(account, options.claimGate?.(account), {
        credit,
        // A peer the town forwards payments to may spend what it earned too: those writes are
        // paid from its earnings' flow, never from the town's deposit (docs/PROTOCOL.md).
        limitOf: (a) => {
          const granted = creditLimits.get(a) ?? config.peerCreditLimit;
          return granted === undefined ? undefined : granted + ledger.balance(a).owed;
        },
        hasChannel: options.hasChannel ?? (() => false),
        triggeredBy: () => townAddress,
        onRefused: (a, amount, spent, limit) => {
          creditRefused++;
          log(
            `peer ${a}: ${amount} refused, ${spent} of its credit of ${limit} spent (no channel)`,
          );
        },
      });
  const payouts = config.payouts ?? DEFAULT_TOWN_PAYOUTS;
  const maxWriteAmount = config.maxPacketAmount ??
    largestWritePrice(config, blobPricePerMiB, blobs.maxBlobBytes);
  const elsewhere = forwardKey && createProcessForwarder({
    key: forwardKey,
    holder: (account) => peerRoutes?.holder(account) ?? Promise.resolve(undefined),
  });
  const router = createBtpRouter({
    townAddress: () => townAddress,
    assetCode,
    assetScale,
    pipeline,
    maxWriteAmount,
    onIncome: async (from, prepare, reply) => {
      const paidFor = JSON.parse(new TextDecoder().decode(reply.data)) as {
        eventId?: string;
        sha256?: string;
      };
      await income.append(townWriteEntry({
        direction: "in",
        kind: paidFor.sha256 !== undefined ? "blob" : "write",
        event: paidFor.eventId === undefined ? undefined : { id: paidFor.eventId },
        sha256: paidFor.sha256,
        amount: prepare.amount,
        asset: assetCode,
        scale: assetScale,
        peer: from,
      }));
    },
    child: (account) => childOf(account),
    elsewhere,
    parent: () => parentLink(),
    uplinkElsewhere: elsewhere && (() => elsewhere(UPLINK_ROUTE)),
    forwardBooks: createPeerBooks({
      ledger,
      maxOwed: () => payouts.maxOwed,
      triggeredBy: () => townAddress,
      onOwed: options.onOwed,
    }),
    onBooksError: (account, err) => log(`peer ${account}: answer not on the books: ${err.message}`),
  });
  const closers: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // keep stopping the rest
      }
    }
  };
  closers.push(async () => {
    pipeline.close();
    await pipeline.committer.close();
    // Let an already scheduled flush timer run (it finds the queue empty) before closing.
    await sleep(0);
    await blobPeer?.close();
    await connectionCounts?.close();
    await credit?.close();
    await store.close();
    blobs.close();
  });
  try {
    if (config.parent) {
      const { url, token } = config.parent;
      const connect = () =>
        connectParentLink({
          url,
          authToken: token,
          onPrepare: (prepare) => router.routePrepare({ kind: "parent" }, prepare),
        });
      let ildcp: ParentLink["ildcp"];
      if (storeUrl !== undefined && elsewhere) {
        // A connector's account takes one connection: one process dials, the others send
        // their parent-bound packets to it (roles/town/btp/shared_parent_link.ts).
        const lock = await openPostgresUplink({ url: storeUrl });
        closers.push(() => lock.close());
        const shared = await startSharedParentLink({
          lock,
          connect,
          log,
          onChange: () => peerRoutes?.changed(UPLINK_ROUTE),
        });
        parentLink = () => shared.current();
        closers.push(() => shared.close());
        ildcp = shared.ildcp;
      } else {
        const link = await connect();
        parentLink = () => link;
        closers.push(() => link.close());
        ildcp = link.ildcp;
      }
      townAddress = ildcp.clientAddress;
      assetCode = ildcp.assetCode;
      assetScale = ildcp.assetScale;
    }
    // The BTP server starts after the HTTP one; its counters are read at scrape time.
    const btpStats: { read?: () => BtpServerStats; http?: () => HttpFrontStats } = {};
    const http = createTownHttpHandler({
      store,
      hub,
      limits,
      moreGauges: () => ({
        ...prefixed(btpStats.read?.()),
        spspRateLimitedTotal: pipeline.counters.spspRateLimited,
        peerCreditRefusedTotal: creditRefused,
        openFileLimit: fileLimit?.soft,
        ...httpGauges(btpStats.http?.()),
      }),
      peerBalances: () => ledger.balances(),
      ownerPubkey: config.pricing.ownerPubkey,
      ilpAddress: townAddress,
      pricing: config.pricing,
      info: {
        self: signer.pubkey,
        assetCode,
        assetScale,
        maxPacketAmount: maxWriteAmount,
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
          ilpAddress: () => townAddress,
        }),
      },
    });
    // Processes sharing a store share the ports too (one address for the town).
    const reusePort = storeUrl !== undefined;
    const httpServer = http.listen({
      hostname: config.host,
      port: config.httpPort,
      reusePort,
      log,
      connectionsElsewhere: connectionCounts &&
        (() => connectionCounts.reachable() ? 0 : unknownElsewhere),
      sharedSlot: connectionCounts &&
        ((address) => connectionCounts.take("http", address, limits.maxConnectionsPerAddress)),
    });
    btpStats.http = httpServer.stats;
    closers.push(async () => {
      http.close();
      await httpServer.close();
    });
    const btp = startBtpServer({
      hostname: config.host,
      port: config.btpPort,
      reusePort,
      accounts,
      onIlp: (from, packet) => router.route({ kind: "child", account: from.account }, packet),
      onPeer: (event, account) => {
        log(`peer ${account} ${event}ed`);
        peerRoutes?.changed(account);
        if (event !== "connect") return;
        options.onPeerConnected?.(account);
        resolveInDoubt(account).catch((err) =>
          log(`peer ${account}: payments in doubt not resolved: ${(err as Error).message}`)
        );
      },
      claimGate,
      cosignDesk: options.cosignDesk,
      authTimeoutMs: limits.btpAuthTimeoutMs,
      handshakeTimeoutMs: limits.btpHandshakeTimeoutMs,
      maxFrameBytes: limits.btpMaxMessageBytes,
      // On a shared store failed auths are counted town-wide in the database at the town's
      // full limits (each process's own count too, at the full limits, for when it is away).
      authFailuresPerMinute: sharedBuckets
        ? townLimits.btpAuthFailuresPerMinute
        : limits.btpAuthFailuresPerMinute,
      authBlockMs: limits.btpAuthBlockSeconds * 1000,
      authFailuresPerMinuteTotal: sharedBuckets
        ? townLimits.btpAuthFailuresPerMinuteTotal
        : limits.btpAuthFailuresPerMinuteTotal,
      sharedAuthFailures: sharedBuckets && sharedAuthFailures({
        buckets: sharedBuckets,
        perAddressPerMinute: townLimits.btpAuthFailuresPerMinute,
        totalPerMinute: townLimits.btpAuthFailuresPerMinuteTotal,
      }),
      authTrialMs: limits.btpAuthTrialSeconds * 1000,
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      maxConnectionsPerPrefix: effectivePrefixCap(limits),
      maxConnections: limits.maxConnections,
      connectionsElsewhere: connectionCounts &&
        (() => connectionCounts.reachable() ? 0 : unknownElsewhere),
      sharedSlot: connectionCounts &&
        ((address) => connectionCounts.take("btp", address, limits.maxConnectionsPerAddress)),
      // One bound on what waits to be sent, both ports: the total covers them together.
      slowConsumers: http.slowConsumers,
      log,
    });
    btpStats.read = btp.stats;
    // Payments forwarded before a crash with no answer on record: the peer shows the
    // fulfillments it holds (protocol/payment_in_doubt.ts), each owed once proven.
    const resolveInDoubt = async (account: string) => {
      const doubts = ledger.inDoubt().filter((p) => p.account === account).map((p) => p.condition);
      for (let i = 0; i < doubts.length; i += MAX_IN_DOUBT) {
        const peer = btp.peer(account);
        if (!peer) return;
        const shown = await peer.askInDoubt(doubts.slice(i, i + MAX_IN_DOUBT), 10_000);
        for (const fulfillment of shown) {
          const amount = await ledger.prove(account, hexToBytes(fulfillment));
          if (amount > 0n) {
            log(`peer ${account}: payment in doubt proven, ${amount} owed`);
            // Owed now, as after a FULFILL: a payout may be due (docs/OPERATIONS.md).
            options.onOwed?.(ledger.balance(account));
          }
        }
      }
    };
    childOf = (account) => btp.peer(account);
    closers.push(() => btp.close());
    if (postgresStore && connectionCounts && blobPeer && forwardKey) {
      // Peers connected here are found by the other processes, which forward their packets
      // to this process's private listener (roles/town/btp/process_forward.ts).
      const routes = await PostgresPeerRoutes.open(postgresStore.sql, {
        process: connectionCounts.process,
        url: blobPeer.url,
        // The parent link too, while held here: the others send parent-bound packets here.
        connected: () => parentLink() ? [...btp.peers(), UPLINK_ROUTE] : btp.peers(),
        log,
      });
      peerRoutes = routes;
      closers.push(() => routes.close());
      forwarded = createForwardHandler({
        key: forwardKey,
        route: (packet) => router.route({ kind: "process" }, packet),
      });
    }
    // Announced once the BTP port and the (possibly IL-DCP learnt) address are known.
    const announcement = config.settlement && await announceTownPeerInfo({
      store,
      signer,
      ilpAddress: townAddress,
      btpEndpoint: `btp+ws://${urlHost(config.host)}:${btp.port}`,
      assetCode,
      assetScale,
      settlement: config.settlement,
      maxPacketAmount: maxWriteAmount,
    });
    // Run first at a stop: what is in flight is answered while every socket and store is open.
    closers.push(async () => {
      const bound = Date.now() + (options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      await router.drain(bound - Date.now());
      // Then what the claim gates still hold (a FULFILL waits for its claim to be durable).
      const left = await btp.settled(Math.max(0, bound - Date.now()));
      if (left > 0) log(`stopping: ${left} packets still in flight are cut off`);
    });
    let stopped: Promise<void> | undefined;
    return {
      ilpAddress: townAddress,
      pubkey: signer.pubkey,
      httpPort: httpServer.port,
      btpPort: btp.port,
      assetCode,
      assetScale,
      databasePath,
      writeCounters: pipeline.counters,
      writeBatches: () => pipeline.committer.batches,
      store,
      blobs,
      townBlobs,
      blobPeerUrl: sharedBlobsDir === undefined ? blobPeer?.url : undefined,
      privateUrl: blobPeer?.url,
      announcement,
      ledger,
      peer: (account) => btp.peer(account),
      stop: () => stopped ??= stopAll(),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Default of {@linkcode TownNodeOptions.drainTimeoutMs}. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

/**
 * The town's max packet amount for what is paid to itself, unless configured: twice the price
 * of the largest write (every TOON byte at the highest per-byte price) or of the largest blob,
 * whichever is more. An honest write never comes near it; 2^64-1 is refused F08.
 */
function largestWritePrice(
  config: TownSettings,
  blobPricePerMiB: bigint,
  maxBlobBytes: number,
): bigint {
  const perByte = [
    config.pricing?.pricePerByte ?? 10n,
    ...Object.values(config.pricing?.kindPricePerByte ?? {}),
  ].reduce((a, b) => (b > a ? b : a), 0n);
  const event = perByte * BigInt(config.maxEventBytes);
  const blob = blobPricePerMiB * BigInt(Math.ceil(maxBlobBytes / (1024 * 1024)));
  return 2n * (event > blob ? event : blob);
}

/**
 * The connection cap of each port, unless configured: at most a third of the open-file limit
 * each, so both ports full still leave descriptors for the store, blobs and outbound links.
 */
function sizedToFiles(
  overrides: Partial<TownLimits>,
  fileLimit: OpenFileLimit | undefined,
): Partial<TownLimits> {
  if (overrides.maxConnections !== undefined || fileLimit === undefined) return overrides;
  const share = Math.floor((fileLimit.soft - 128) / 3);
  return {
    ...overrides,
    maxConnections: Math.max(16, Math.min(DEFAULT_TOWN_LIMITS.maxConnections, share)),
  };
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

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

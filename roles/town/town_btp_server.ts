/**
 * A town's start-up step that starts its BTP server for children (roles/town/btp/btp_server.ts):
 * the packets of each peer pass its claim or credit gate to the router; failed auths and
 * connections per address are counted town-wide on a shared store; a peer that connects is
 * asked for the fulfillments of the payments in doubt it was forwarded before a crash
 * (protocol/payment_in_doubt.ts, docs/OPERATIONS.md), and a peer asking which of its payments the
 * town owes it is answered from the books (protocol/payment_owed.ts, btp/owed_answers.ts).
 *
 * @module
 */
import { effectivePrefixCap } from "../../config/town_limits.ts";
import type { TownSettings } from "../../config/town_settings.ts";
import { MAX_IN_DOUBT } from "../../protocol/payment_in_doubt.ts";
import type { PeerBalance, PeerLedger } from "../../state/payments/peer_ledger.ts";
import type { PaidOnce } from "./btp/paid_once.ts";
import type { PostgresPeerRoutes } from "../../state/postgres/postgres_peer_routes.ts";
import { BtpAccounts } from "./btp/btp_accounts.ts";
import type { BtpRouter } from "./btp/btp_router.ts";
import { type BtpServer, startBtpServer } from "./btp/btp_server.ts";
import { createOwedAnswers } from "./btp/owed_answers.ts";
import { proveShown } from "./btp/process_in_doubt.ts";
import type { BtpClaimGate } from "../channels/btp_claim_gate.ts";
import type { ChannelCosignDesk } from "./channels/channel_cosign_desk.ts";
import type { LateBound } from "./late_bound.ts";
import { sharedAuthFailures } from "./shared_auth_failures.ts";
import type { TownHttpHandler } from "./town_http_handler.ts";
import type { TownSizing } from "./town_sizing.ts";
import type { TownClosers } from "./town_stop.ts";
import type { TownCertificate } from "./town_certificate.ts";
import type { TownStores } from "./town_stores.ts";

/** Options for {@linkcode startTownBtpServer}. */
export interface TownBtpServerOptions {
  config: Pick<TownSettings, "host" | "btpPort" | "trustedProxies">;
  stores: Pick<TownStores, "sharedBuckets" | "connectionCounts" | "postgresStore">;
  sizing: Pick<TownSizing, "limits" | "townLimits" | "unknownElsewhere">;
  accounts: BtpAccounts;
  router: BtpRouter;
  /** The gate of an account's packets, if any. */
  claimGate: ((account: string) => BtpClaimGate | undefined) | undefined;
  cosignDesk: ((account: string) => ChannelCosignDesk | undefined) | undefined;
  /** One bound on what waits to be sent, both ports: the HTTP front's guard. */
  slowConsumers: TownHttpHandler["slowConsumers"];
  /** Which process holds each BTP peer, once open: told when a peer comes or goes. */
  peerRoutes: LateBound<PostgresPeerRoutes>;
  ledger: PeerLedger;
  /** On a shared store: a condition is owed by one process's books (btp/paid_once.ts). */
  paidOnce: PaidOnce | undefined;
  /** Told when a BTP peer connected. */
  onPeerConnected: ((account: string) => void) | undefined;
  /** Told after each payment in doubt the peer proved. */
  onOwed: ((balance: PeerBalance) => void) | undefined;
  /** The town's ILP address (a payer's `payment-owed` question names a child under it). */
  townAddress: () => string;
  closers: TownClosers;
  log: (line: string) => void;
  /** Serve `btp+wss://` with it (roles/town/town_certificate.ts); absent: plain. */
  certificate?: TownCertificate;
}

/**
 * The BTP accounts of the town's configured peers; an unusable one is refused
 * (`BtpAccountConfigError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townBtpAccounts } from "./town_btp_server.ts";
 *
 * const accounts = townBtpAccounts({ peers: [], acceptAnyToken: true });
 * assert.notEqual(accounts.authenticate("anyone", "any token"), undefined);
 * ```
 */
export function townBtpAccounts(
  config: Pick<TownSettings, "peers" | "acceptAnyToken" | "maxPacketAmount">,
): BtpAccounts {
  return new BtpAccounts({
    peers: config.peers,
    acceptAnyToken: config.acceptAnyToken,
    defaultMaxPacketAmount: config.maxPacketAmount,
  });
}

/**
 * Starts the town's BTP server.
 *
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/unit/protocol/town_btp_server_test.ts.
 */
export function startTownBtpServer(options: TownBtpServerOptions): BtpServer {
  const { config, stores: { sharedBuckets, connectionCounts }, router, log } = options;
  const { limits, townLimits, unknownElsewhere } = options.sizing;
  const btp: BtpServer = startBtpServer({
    hostname: config.host,
    port: config.btpPort,
    // Processes sharing a store share the ports too (one address for the town).
    reusePort: options.stores.postgresStore !== undefined,
    tls: options.certificate?.keyPair,
    trustedProxies: config.trustedProxies,
    accounts: options.accounts,
    onIlp: (from, packet) => router.route({ kind: "child", account: from.account }, packet),
    onPeer: (event, account) => {
      log(`peer ${account} ${event}ed`);
      options.peerRoutes.current?.changed(account);
      if (event !== "connect") return;
      options.onPeerConnected?.(account);
      resolveInDoubt(btp, account, options).catch((err) =>
        log(`peer ${account}: payments in doubt not resolved: ${(err as Error).message}`)
      );
    },
    claimGate: options.claimGate,
    cosignDesk: options.cosignDesk,
    // A peer's question about its payments, answered from these books (docs/PROTOCOL.md).
    owedAnswers: createOwedAnswers({
      ledger: options.ledger,
      shared: options.stores.postgresStore !== undefined,
      held: options.paidOnce && ((a, c) => options.paidOnce!.held(a, c)),
      townAddress: options.townAddress,
    }),
    authTimeoutMs: limits.btpAuthTimeoutMs,
    handshakeTimeoutMs: limits.btpHandshakeTimeoutMs,
    maxFrameBytes: limits.btpMaxMessageBytes,
    // On a shared store failed auths are counted town-wide in the database at the town's
    // full limits (each process's own count too, at the full limits, for when it is away); on
    // one process the BTP server reserves them in its memory by the same rules.
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
    slowConsumers: options.slowConsumers,
    log,
  });
  options.closers.add(() => btp.close());
  options.certificate?.serveOn(btp);
  return btp;
}

/**
 * Payments forwarded before a crash with no answer on record: the peer shows the fulfillments it
 * holds (protocol/payment_in_doubt.ts), each owed once proven to be of the packet forwarded.
 */
async function resolveInDoubt(
  btp: BtpServer,
  account: string,
  options: Pick<TownBtpServerOptions, "ledger" | "paidOnce" | "onOwed" | "log">,
): Promise<void> {
  const { ledger, log } = options;
  const doubts = ledger.inDoubt().filter((p) => p.account === account).map((p) => p.condition);
  for (let i = 0; i < doubts.length; i += MAX_IN_DOUBT) {
    const peer = btp.peer(account);
    if (!peer) return;
    const shown = await peer.askInDoubt(doubts.slice(i, i + MAX_IN_DOUBT), 10_000);
    await proveShown(
      { ledger, onOwed: options.onOwed, paidOnce: options.paidOnce, log },
      account,
      shown,
    );
  }
}

/**
 * The town's BTP 2.0 server (RFC 23) on a bounded WebSocket listener
 * (transport/http_front.ts: caps at accept, a handshake timeout, messages capped at
 * `maxFrameBytes` while they are read, fragments included, before or after auth), speaking what
 * `ilp-plugin-btp` clients and transport/btp_client.ts speak: the first frame must be an auth
 * MESSAGE (`auth` first, then `auth_token`, optional `auth_username`), answered by an empty
 * RESPONSE, or by ERROR F00 NotAcceptedError and a close when refused (as ilp-plugin-btp's
 * listener does). A second connection of the same account replaces the first.
 *
 * Guessing tokens is throttled per remote address: past `authFailuresPerMinute` failures the
 * connection is closed at once and the address is refused (HTTP 429 before the upgrade) for
 * `authBlockMs`, but for one try every `authTrialMs`; and in total: past
 * `authFailuresPerMinuteTotal`, addresses that never authenticated are refused until it refills
 * (auth_failure_throttle.ts). Each upgrade, a blocked address's trial included, first reserves
 * the failure it may cost against the per-address and total limits
 * (roles/town/shared_auth_failures.ts): on a shared store in the database, so the town's limits
 * hold across its processes, otherwise in this process's memory (memory_rate_buckets.ts), so
 * however many guesses arrive at once, and whichever addresses they come from, no more are read
 * than the limits allow. Open connections are capped per address and in total (HTTP 503).
 * A plain HTTP request (not an upgrade) is answered 400.
 *
 * A peer that does not read what the town sends it is read no more once that is over the
 * high-water mark of `slowConsumers`, and closed past its limits (docs/OPERATIONS.md "Peers that
 * do not read").
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { sleep } from "../../../protocol/backoff.ts";
import {
  BTP_ERROR,
  btpErrorFrame,
  BtpMessageError,
  decodeBtpFrame,
  encodeBtpFrame,
  getTextProtocolData,
  peekBtpRequestId,
} from "../../../protocol/btp_message.ts";
import type { BtpAccounts } from "./btp_accounts.ts";
import type { BtpClaimGate } from "../../channels/btp_claim_gate.ts";
import {
  type BtpCosignHandler,
  type BtpIlpHandler,
  BtpPeerConnection,
} from "./btp_peer_connection.ts";
import type { ChannelCosignDesk } from "../channels/channel_cosign_desk.ts";
import { AuthFailureThrottle } from "../auth_failure_throttle.ts";
import {
  type AuthFailureReservation,
  type SharedAuthFailures,
  sharedAuthFailures,
} from "../shared_auth_failures.ts";
import { MemoryRateBuckets } from "../memory_rate_buckets.ts";
import { listenHttpFront } from "../../../transport/http_front.ts";
import type { TlsKeyPair } from "../../../transport/tls_listener.ts";
import type { SlowConsumerGuard } from "../../../transport/slow_consumer_guard.ts";
import {
  ChannelCosignError,
  encodeCosignAnswer,
  NO_CHANNEL,
  refusalOf,
} from "../../../protocol/payment_channel_cosign.ts";

/** Largest auth frame accepted. */
const MAX_AUTH_FRAME_BYTES = 4096;
/** Pings a connection may send before its auth frame; one more closes it (1008). */
const MAX_PINGS_BEFORE_AUTH = 4;

/** Options for {@linkcode startBtpServer}. */
export interface BtpServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Share the port with the town's other processes (transport/http_front.ts). */
  reusePort?: boolean;
  /** Serve `btp+wss://` with this certificate (transport/http_front.ts `tls`). */
  tls?: TlsKeyPair;
  /** Proxies whose PROXY header names the client (transport/http_front.ts). */
  trustedProxies?: readonly string[];
  accounts: BtpAccounts;
  onIlp: BtpIlpHandler;
  /** Largest BTP frame per peer. Default 64 KiB. */
  maxFrameBytes?: number;
  /** Close a connection that has not authenticated by then. Default 5 s. */
  authTimeoutMs?: number;
  /** Failed auths per address per minute before it is refused. Default 5. */
  authFailuresPerMinute?: number;
  /** How long an address is refused after that. Default 5 minutes. */
  authBlockMs?: number;
  /** Failed auths per minute across all addresses (see auth_failure_throttle.ts). Default 120. */
  authFailuresPerMinuteTotal?: number;
  /** A blocked address may still try once per this long. Default 10 s. */
  authTrialMs?: number;
  /**
   * Reserves each connection's auth failure town-wide before its auth is read (a town on
   * several processes: buckets in its database, roles/town/shared_auth_failures.ts): an
   * address over there is refused (HTTP 429) and blocked here too; the town's total over
   * refuses it. A rejection (the database away) leaves the decision to this process. Default:
   * the same reservations on buckets in this process's memory, at `authFailuresPerMinute` and
   * `authFailuresPerMinuteTotal`.
   */
  sharedAuthFailures?: SharedAuthFailures;
  /** Connections from an address on the town's other processes (state/postgres/postgres_connection_counts.ts). */
  connectionsElsewhere?: (address: string) => number;
  /** A slot in the town-wide count per address (transport/http_front.ts `sharedSlot`). */
  sharedSlot?: (address: string) => Promise<(() => void) | "address">;
  /** Open connections per remote address. Default 64. */
  maxConnectionsPerAddress?: number;
  /** Open connections per network prefix (IPv4 /24, IPv6 /48). Default no cap. */
  maxConnectionsPerPrefix?: number;
  /** Open connections in total. Default 4096. */
  maxConnections?: number;
  /** Time for the WebSocket upgrade request to arrive. Default 5 s. */
  handshakeTimeoutMs?: number;
  /** Told about accept failures (e.g. out of file descriptors; they are survived). */
  log?: (line: string) => void;
  /** Told when a peer authenticated or left. */
  onPeer?: (event: "connect" | "disconnect", account: string) => void;
  /**
   * Bounds what waits to be sent to each peer (transport/slow_consumer_guard.ts): over its
   * high-water mark a peer's socket is read no more, past its limits it is closed. None: no bound.
   */
  slowConsumers?: SlowConsumerGuard;
  /**
   * The claim gate of an account that settles over a payment channel (its packets must be
   * covered by claims before `onIlp` sees them); undefined for an account without one.
   */
  claimGate?: (account: string) => BtpClaimGate | undefined;
  /**
   * The co-sign desk (cooperative settle, withdraw) of an account that settles over a payment
   * channel; an account without one is answered `unknown-channel`.
   */
  cosignDesk?: (account: string) => ChannelCosignDesk | undefined;
  /**
   * Answers a peer's `payment-owed` question from the town's books
   * (roles/town/btp/owed_answers.ts); none: refused with BTP ERROR F00.
   */
  owedAnswers?: (account: string, question: Uint8Array) => Promise<Uint8Array>;
}

/** A running BTP server. */
export interface BtpServer {
  /** The port bound. */
  port: number;
  /** The connection of an account, when connected. */
  peer(account: string): BtpPeerConnection | undefined;
  /** Connected account names. */
  peers(): string[];
  /** Counters for `/metrics`. */
  stats(): BtpServerStats;
  /** Open connections per remote address. */
  addressCounts(): [string, number][];
  /** New connections get `keyPair`, open ones keep theirs (transport/http_front.ts). */
  replaceCertificate(keyPair: TlsKeyPair): void;
  /**
   * Resolves once no ILP packet is being handled (its claim checked, routed, its claim made
   * durable and answered) and none arrived for `quietMs` (default 250: a packet already on its
   * way is answered, not cut off by the close), or after `timeoutMs`, with how many still were
   * being handled: a stopping town waits on it before {@linkcode BtpServer.close}.
   */
  settled(timeoutMs: number, quietMs?: number): Promise<number>;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

/** What the BTP listener refused so far. */
export interface BtpServerStats {
  authFailuresTotal: number;
  /** Addresses blocked for too many failed auths. */
  authBlocksTotal: number;
  /** Upgrades refused because the address is blocked. */
  authBlockedRefusalsTotal: number;
  /** Upgrades refused by the connection caps. */
  connectionsRefusedTotal: number;
  connectionsOpen: number;
  /** Handshakes not completed in time, or not WebSocket upgrades. */
  handshakesFailedTotal: number;
  /** Accepts that failed (out of file descriptors) and were survived. */
  acceptErrorsTotal: number;
  /** Peers closed for not reading what the town sent them (`slowConsumers`). */
  slowConsumerDisconnectsTotal: number;
}

/** The auth frame was refused: what is sent back as the BTP ERROR's data. */
export class BtpAuthRefusedError extends RoleError {
  override name = "BtpAuthRefusedError";
}

function readAuth(bytes: Uint8Array): { requestId: number; username: string; token: string } {
  const frame = decodeBtpFrame(bytes, { maxFrameBytes: MAX_AUTH_FRAME_BYTES });
  if (frame.type !== "message") {
    throw new BtpAuthRefusedError("First message sent over BTP connection must be auth packet");
  }
  if (frame.protocolData[0]?.protocolName !== "auth") {
    throw new BtpAuthRefusedError("First subprotocol must be auth");
  }
  const token = getTextProtocolData(frame, "auth_token");
  if (token === undefined) throw new BtpAuthRefusedError("auth_token subprotocol is required");
  return {
    requestId: frame.requestId,
    username: getTextProtocolData(frame, "auth_username") ?? "",
    token,
  };
}

/**
 * Starts the BTP server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startBtpServer } from "./btp_server.ts";
 * import { BtpAccounts } from "./btp_accounts.ts";
 *
 * const accounts = new BtpAccounts({ peers: [], acceptAnyToken: true });
 * const server = startBtpServer({ hostname: "127.0.0.1", port: 0, accounts,
 *   onIlp: () => Promise.reject(new Error("no packet is sent here")) });
 * assert(server.port > 0);
 * await server.close();
 * ```
 */
export function startBtpServer(options: BtpServerOptions): BtpServer {
  const maxFrameBytes = options.maxFrameBytes ?? 64 * 1024;
  const connections = new Map<string, BtpPeerConnection>();
  const sockets = new Set<WebSocket>();
  const throttle = new AuthFailureThrottle({
    maxFailuresPerMinute: options.authFailuresPerMinute ?? 5,
    blockMs: options.authBlockMs ?? 300_000,
    maxFailuresPerMinuteTotal: options.authFailuresPerMinuteTotal ?? 120,
    trialMs: options.authTrialMs,
  });
  // Every guess is reserved before its auth is read, on one process as on several: checking
  // the total only when a connection arrives let guesses opened at once, and every blocked
  // address's trial, past it (docs/OPERATIONS.md "A town's limits").
  const reservations = options.sharedAuthFailures ?? sharedAuthFailures({
    buckets: new MemoryRateBuckets(),
    perAddressPerMinute: options.authFailuresPerMinute ?? 5,
    totalPerMinute: options.authFailuresPerMinuteTotal ?? 120,
  });
  let authFailures = 0;
  let slowConsumerDisconnects = 0;
  // Packets being handled, the claim gate's work before and after the router included.
  let handling = 0;
  let lastArrival = 0;
  let idle: (() => void) | undefined;
  const onIlp: BtpIlpHandler = async (from, packet, claim) => {
    handling++;
    lastArrival = Date.now();
    try {
      const gate = options.claimGate?.(from.account.account);
      if (!gate) return await options.onIlp(from, packet, claim);
      return await gate.handle(packet, claim, () => options.onIlp(from, packet, claim));
    } finally {
      if (--handling === 0) idle?.();
    }
  };

  const onCosign: BtpCosignHandler = (from, request) => {
    const desk = options.cosignDesk?.(from.account.account);
    if (desk) return desk.answer(request);
    const err = new ChannelCosignError(
      "unknown-channel",
      `account ${from.account.account} settles over no payment channel here`,
    );
    return Promise.resolve(encodeCosignAnswer(refusalOf(NO_CHANNEL, err)));
  };

  const failAuth = (socket: WebSocket, bytes: Uint8Array, address: string, why: string) => {
    authFailures++;
    const blocked = throttle.recordFailure(address);
    refuse(socket, bytes, blocked ? `${why}; too many failed auths, address refused` : why);
  };

  /** The upgrade: the failure this connection may cost is reserved first. */
  const upgrade = async (address: string) => {
    const reserved = await reservations.reserve(address, () => throttle.isKnown(address))
      .catch(() => undefined);
    if (reserved === "address") {
      throttle.block(address);
      return { status: 429, text: "too many failed BTP auths from this address" };
    }
    if (reserved === "busy") {
      return { status: 429, text: "too many BTP auths in flight from this address; retry" };
    }
    if (reserved === "town") {
      return { status: 429, text: "too many failed BTP auths on this town; retry later" };
    }
    return {
      maxMessageBytes: maxFrameBytes,
      pauseReadingAboveBytes: options.slowConsumers?.highWaterBytes,
      onSocket: (socket: WebSocket) => onSocket(socket, address, reserved),
    };
  };

  const onSocket = (socket: WebSocket, address: string, reserved?: AuthFailureReservation) => {
    socket.binaryType = "arraybuffer";
    sockets.add(socket);
    const timer = setTimeout(
      () => socket.close(1008, "no BTP auth"),
      options.authTimeoutMs ?? 5_000,
    );
    let authRead = false;
    socket.addEventListener("close", () => {
      clearTimeout(timer);
      sockets.delete(socket);
      // Closed before an auth frame: no guess was made.
      if (!authRead) reserved?.refund();
    });
    // Before auth a peer has no reason to ping more than a keepalive's worth: a flood of them
    // is closed rather than answered until the auth timeout.
    let pings = 0;
    const onPing = () => {
      if (++pings > MAX_PINGS_BEFORE_AUTH) socket.close(1008, "pings before BTP auth");
    };
    socket.addEventListener("ping", onPing);
    const onFirst = (e: MessageEvent) => {
      socket.removeEventListener("message", onFirst);
      socket.removeEventListener("ping", onPing);
      clearTimeout(timer);
      authRead = true;
      const bytes = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : new Uint8Array(0);
      let auth;
      try {
        auth = readAuth(bytes);
      } catch (err) {
        reserved?.spend();
        failAuth(
          socket,
          bytes,
          address,
          err instanceof BtpMessageError || err instanceof BtpAuthRefusedError
            ? err.message
            : "bad auth frame",
        );
        return;
      }
      const account = options.accounts.authenticate(auth.username, auth.token);
      if (!account) {
        reserved?.spend();
        failAuth(socket, bytes, address, "invalid auth_token");
        return;
      }
      reserved?.refund();
      throttle.recordSuccess(address);
      const peer = new BtpPeerConnection(socket, {
        account,
        onIlp,
        onCosign,
        onOwed: options.owedAnswers &&
          ((from, question) => options.owedAnswers!(from.account.account, question)),
        maxFrameBytes,
        slowConsumers: options.slowConsumers,
        onSlowConsumer: (_reason, detail) => {
          slowConsumerDisconnects++;
          options.log?.(`peer ${account.account}: closed as a slow consumer (${detail})`);
        },
      });
      connections.get(account.account)?.close(1000, "replaced by a newer connection");
      connections.set(account.account, peer);
      socket.addEventListener("close", () => {
        if (connections.get(account.account) === peer) {
          connections.delete(account.account);
          options.onPeer?.("disconnect", account.account);
        }
      });
      socket.send(
        encodeBtpFrame({ type: "response", requestId: auth.requestId, protocolData: [] }),
      );
      options.onPeer?.("connect", account.account);
    };
    socket.addEventListener("message", onFirst);
  };

  const listener = listenHttpFront({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
    tls: options.tls,
    trustedProxies: options.trustedProxies,
    headTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 64,
    maxConnectionsPerPrefix: options.maxConnectionsPerPrefix,
    maxConnections: options.maxConnections ?? 4096,
    connectionsElsewhere: options.connectionsElsewhere,
    sharedSlot: options.sharedSlot,
    refuse: (address) => throttle.refusal(address),
    upgrade: (_head, address) => upgrade(address),
    log: options.log,
  });

  return {
    port: listener.port,
    peer: (account) => connections.get(account),
    peers: () => [...connections.keys()],
    addressCounts: () => listener.addressCounts(),
    replaceCertificate: (keyPair) => listener.replaceCertificate(keyPair),
    stats: () => {
      const l = listener.stats();
      return {
        authFailuresTotal: authFailures,
        authBlocksTotal: throttle.blockedTotal,
        authBlockedRefusalsTotal: l.addressesRefusedTotal,
        connectionsRefusedTotal: l.connectionsRefusedTotal,
        connectionsOpen: l.connectionsOpen,
        handshakesFailedTotal: l.handshakesFailedTotal,
        acceptErrorsTotal: l.acceptErrorsTotal,
        slowConsumerDisconnectsTotal: slowConsumerDisconnects,
      };
    },
    async settled(timeoutMs, quietMs = 250) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (handling > 0) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            idle = resolve;
            timer = setTimeout(resolve, until - Date.now());
          });
          clearTimeout(timer);
          continue;
        }
        const quietFor = Date.now() - lastArrival;
        if (quietFor >= quietMs) break;
        await sleep(Math.min(quietMs - quietFor, until - Date.now()));
      }
      return handling;
    },
    close() {
      for (const socket of sockets) {
        try {
          socket.close(1001, "town shutting down");
        } catch {
          // already closed
        }
      }
      return listener.close();
    },
  };
}

function refuse(socket: WebSocket, bytes: Uint8Array, message: string): void {
  const requestId = peekBtpRequestId(bytes);
  try {
    if (requestId !== undefined) {
      socket.send(encodeBtpFrame(btpErrorFrame(requestId, BTP_ERROR.notAccepted, message)));
    }
  } finally {
    socket.close(1008, "BTP auth refused");
  }
}

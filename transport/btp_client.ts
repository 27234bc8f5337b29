/**
 * A BTP 2.0 client (RFC 23) over the built-in WebSocket, speaking what `ilp-plugin-btp`
 * (the reference connector's BTP plugin) expects: an auth MESSAGE first (`auth`,
 * `auth_username`, `auth_token`), then ILP packets in MESSAGE frames answered by RESPONSE
 * frames, correlated by requestId. It also answers the peer's PREPAREs through a handler, learns
 * its own address by IL-DCP, reconnects with backoff when the socket drops, bounds frame sizes
 * and waits on `bufferedAmount` before sending more.
 *
 * With `claims`, every PREPARE with an amount is paid for with a payment channel claim (BTP
 * protocol data `payment-channel-claim`, docs/PROTOCOL.md): the client keeps the total of the
 * packets in flight or fulfilled (`committed`); a packet that takes it above what is already
 * claimed carries a new cumulative claim (raised to `committed + prepay`), signed and persisted
 * before it leaves; packets within an earlier claim's surplus carry none. Frames with claims
 * leave in nonce order. A REJECT gives the packet's amount back to the surplus (the peer
 * releases it too), also one that arrives after the packet timed out (while the socket lasts;
 * a packet with no answer at all stays counted as paid); a REJECT refusing the claim (its data
 * names a claim reason, `{"claimReject":...}`: the peer did not take it) drops our surplus, so
 * the next paid packet carries a claim; one saying the peer sees less cover (`not-covered`,
 * `credit-limit-exceeded`, e.g. after the peer restarted) also sends a packet that went without
 * a claim once more, with a claim for its full amount.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import { backoffDelay, sleep } from "../protocol/backoff.ts";
import { BtpRequests } from "./btp_requests.ts";
import {
  authProtocolData,
  BTP_ERROR,
  BtpContentType,
  type BtpError,
  btpErrorFrame,
  type BtpFrame,
  BtpFrameType,
  BtpMessageError,
  type BtpMessageFrame,
  type BtpProtocolData,
  decodeBtpFrame,
  DEFAULT_MAX_BTP_FRAME_BYTES,
  encodeBtpFrame,
  getIlpData,
  ilpProtocolData,
  peekBtpRequestId,
} from "../protocol/btp_message.ts";
import {
  decodeIlpPrepare,
  decodeIlpReply,
  encodeIlpPrepare,
  encodeIlpReply,
  ILP_ERROR,
  IlpPacketType,
  type IlpPrepare,
  type IlpReply,
} from "../protocol/ilp_packet.ts";
import {
  CLAIM_PROTOCOL_NAME,
  type ClaimRejectReason,
  claimRejectReasonOf,
  encodeClaim,
  type PaymentChannelClaim,
} from "../protocol/payment_channel_claim.ts";
import {
  decodeInDoubt,
  encodeInDoubtAnswer,
  IN_DOUBT_PROTOCOL_NAME,
  type InDoubtProof,
} from "../protocol/payment_in_doubt.ts";
import {
  decodeIldcpResponse,
  encodeIldcpRequest,
  IldcpError,
  type IldcpResponse,
} from "../protocol/ildcp.ts";
import { openWebSocket } from "./nodelay_websocket.ts";
import { BtpLateAnswers, type LateFulfillOption } from "./btp_late_answers.ts";

/** Answers a PREPARE the peer sent us. */
export type BtpPrepareHandler = (prepare: IlpPrepare) => IlpReply | Promise<IlpReply>;

/** Connection state. */
export type BtpClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** What signs the claims: `chain/claim_signer.ts`'s ClaimSigner fits (transport stays chain-free). */
export interface BtpClaimSigner {
  /** Cumulative amount signed so far. */
  readonly transferred: bigint;
  /** The most that can ever be claimed. */
  readonly deposit: bigint;
  /** Signs a claim raising the cumulative amount by `amount` (calls serialised, in order); one
   * that tops up may wait for it until `options.until` (epoch ms, the packet's deadline). */
  pay(amount: bigint, options?: { until?: number }): Promise<PaymentChannelClaim>;
}

/** Paying the peer with payment channel claims (see the module doc). */
export interface BtpClaimOptions {
  /** Signs cumulative claims on the channel with this peer. */
  signer: BtpClaimSigner;
  /** Makes a new claim durable (the channel file) before it is sent; resolves when written. */
  persist?: (claim: PaymentChannelClaim) => Promise<void>;
  /**
   * Claim this much beyond what is in flight, so the next packets travel without a claim (one
   * signature and one verification per several packets). It is the sender's own risk: value
   * claimed before it was delivered. Default 0: one claim per paid packet, exactly covering.
   */
  prepay?: bigint;
}

/** Paid packets that timed out whose late answers are still watched for. */

/** Claim rejections that mean "the peer saw less cover than we did": resent once with a claim. */
const UNCOVERED: ReadonlySet<ClaimRejectReason | undefined> = new Set([
  "not-covered",
  "credit-limit-exceeded",
]);

/** Options for {@linkcode BtpClient}. */
export interface BtpClientOptions {
  /** `btp+ws://host:port` (or `ws://`, `wss://`, `btp+wss://`); `user:token@` in it is used for auth. */
  url: string;
  /** `auth_token` (ilp-plugin-btp's listener `secret`). */
  authToken?: string;
  /** `auth_username`; "" when not given, as ilp-plugin-btp does. */
  authUsername?: string;
  /** Largest BTP frame sent or accepted. Default 64 KiB. */
  maxFrameBytes?: number;
  /** How long to wait for a RESPONSE/ERROR. Default 35 s (ilp-plugin-btp's default). */
  responseTimeoutMs?: number;
  /** Reconnect when an authenticated socket drops. Default true. */
  reconnect?: boolean;
  /** First reconnect delay. Default 1 s; doubles per failed attempt. */
  reconnectInitialDelayMs?: number;
  /** Largest reconnect delay. Default 30 s. */
  reconnectMaxDelayMs?: number;
  /** Wait before sending while the socket buffers more than this. Default 1 MiB. */
  highWaterMarkBytes?: number;
  /** Answers incoming PREPAREs. Without it they are rejected with F02. */
  onPrepare?: BtpPrepareHandler;
  /** Told about every state change (for logs and metrics). */
  onStateChange?: (state: BtpClientState) => void;
  /** Random source for jitter (tests pin it). Default Math.random. */
  random?: () => number;
  /** Pay every PREPARE with payment channel claims. */
  claims?: BtpClaimOptions;
  /**
   * Takes the peer's own payment channel claims (a town paying what it owes,
   * roles/channels/payout_receiver.ts): a MESSAGE whose protocol data is `payment-channel-claim` and no
   * `ilp`. Resolves once the claim is kept (answered RESPONSE); throws to refuse it (answered
   * BTP ERROR F00 with the message). Without it such messages are answered RESPONSE and dropped.
   */
  onClaim?: (claim: Uint8Array) => Promise<void>;
  /**
   * Answers the peer's `payment-in-doubt` question (protocol/payment_in_doubt.ts): given the
   * conditions of payments the town forwarded before a crash, the fulfillments this node holds
   * for them, each with the expiry of the PREPARE it fulfilled. Without it the answer lists none.
   */
  onInDoubt?: (conditions: string[]) => Promise<InDoubtProof[]>;
  /** TCP_NODELAY socket (transport/nodelay_websocket.ts). Default true; false: built-in WebSocket. */
  noDelay?: boolean;
}

/** The peer refused our credentials (ilp-plugin-btp answers ERROR F00 "invalid auth_token"). */
export class BtpAuthError extends TransportError {
  override name = "BtpAuthError";
}

/** The socket could not be opened or dropped while a request was in flight. */
export class BtpConnectionError extends TransportError {
  override name = "BtpConnectionError";
}

/** No RESPONSE/ERROR within the response timeout. */
export class BtpTimeoutError extends TransportError {
  override name = "BtpTimeoutError";
}

/** The client was closed by its owner. */
export class BtpClosedError extends TransportError {
  override name = "BtpClosedError";
}

/**
 * The socket dropped with the request on it: the peer may have acted on it, its answer lost
 * ({@linkcode BtpConnectionError} itself: the request never left).
 */
export class BtpConnectionLostError extends BtpConnectionError {
  override name = "BtpConnectionLostError";
}

/** The owner closed the client with the request on the socket: the peer may have acted on it. */
export class BtpClosedInFlightError extends BtpClosedError {
  override name = "BtpClosedInFlightError";
}

/** The peer answered a request with a BTP ERROR frame. */
export class BtpRemoteError extends TransportError {
  override name = "BtpRemoteError";
  /** BTP error code, e.g. F00: the peer's, not a kebab-case one (docs/ARCHITECTURE.md "Errors"). */
  override code: string;
  /** e.g. NotAcceptedError. */
  errorName: string;
  /** The ERROR frame's data, as text (for ilp-plugin-btp: the error message). */
  data: string;
  /** The three fields of the peer's ERROR frame. */
  constructor(code: string, errorName: string, data: string) {
    super(`peer answered BTP ERROR ${code} ${errorName}: ${data}`);
    this.code = code;
    this.errorName = errorName;
    this.data = data;
  }
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/** Options for {@linkcode BtpClient.sendData}. */
export interface BtpSendOptions extends LateFulfillOption {
  /** Overrides the client's response timeout for this request. */
  timeoutMs?: number;
  /**
   * Raw `payment-channel-claim` bytes to attach as they are, instead of the claims machinery
   * (claim-only messages, and tests that send tampered or replayed claims).
   */
  claimData?: Uint8Array;
}

function socketUrl(url: string): { wsUrl: string; username?: string; token?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url.startsWith("btp+") ? url.slice(4) : url);
  } catch {
    throw new BtpConnectionError(`invalid BTP URL "${url}"`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new BtpConnectionError(`BTP URL must be btp+ws:// or btp+wss://, got "${url}"`);
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const token = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.username = "";
  parsed.password = "";
  return { wsUrl: parsed.toString(), username, token };
}

/**
 * A BTP connection to one peer (normally the connector or town this node is a child of):
 * `connect()`, `fetchIldcp()` for its address, `sendPrepare(prepare)` for each packet, `close()`.
 * It needs a BTP peer, so it has no example that runs here:
 * tests/interop/town_credit_line_test.ts
 */
export class BtpClient {
  #options: Required<
    Omit<
      BtpClientOptions,
      | "onPrepare"
      | "onStateChange"
      | "authToken"
      | "authUsername"
      | "claims"
      | "onClaim"
      | "onInDoubt"
    >
  >;
  #claims?: BtpClaimOptions;
  /** Total of paid packets in flight or fulfilled (claims mode). */
  #committed = 0n;
  /** Cumulative amount asked of the signer so far (ahead of `signer.transferred` while signing). */
  #requested = 0n;
  /** Frames with claims leave in this order (the peer refuses a nonce below the last one). */
  #sendChain: Promise<unknown> = Promise.resolve();
  /** Paid packets that timed out on the open socket, until their late answer (if any). */
  readonly #late = new BtpLateAnswers((amount, data) => this.#giveBack(amount, data));
  #onPrepare?: BtpPrepareHandler;
  #onClaim?: (claim: Uint8Array) => Promise<void>;
  #onInDoubt?: (conditions: string[]) => Promise<InDoubtProof[]>;
  #onStateChange?: (state: BtpClientState) => void;
  #wsUrl: string;
  #username: string;
  #token: string;
  #ws?: WebSocket;
  #socketClosed: Promise<void> = Promise.resolve();
  #state: BtpClientState = "idle";
  readonly #requests = new BtpRequests();
  #openWaiters: Waiter[] = [];
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #reconnectAttempt = 0;
  #fatal?: Error;
  /** The address IL-DCP gave us, once {@linkcode fetchIldcp} ran. */
  ilpAddress?: string;

  /** Sets the client up; nothing is dialled until it is connected. */
  constructor(options: BtpClientOptions) {
    const { wsUrl, username, token } = socketUrl(options.url);
    this.#wsUrl = wsUrl;
    this.#username = options.authUsername ?? username ?? "";
    this.#token = options.authToken ?? token ?? "";
    this.#onPrepare = options.onPrepare;
    this.#onClaim = options.onClaim;
    this.#onInDoubt = options.onInDoubt;
    this.#onStateChange = options.onStateChange;
    this.#claims = options.claims;
    if (options.claims) {
      // Whatever was claimed before this client existed is taken as spent.
      this.#committed = options.claims.signer.transferred;
      this.#requested = options.claims.signer.transferred;
    }
    this.#options = {
      url: options.url,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_BTP_FRAME_BYTES,
      responseTimeoutMs: options.responseTimeoutMs ?? 35_000,
      reconnect: options.reconnect ?? true,
      reconnectInitialDelayMs: options.reconnectInitialDelayMs ?? 1_000,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 30_000,
      highWaterMarkBytes: options.highWaterMarkBytes ?? 1024 * 1024,
      random: options.random ?? Math.random,
      noDelay: options.noDelay ?? true,
    };
  }

  /** Current state. */
  get state(): BtpClientState {
    return this.#state;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#requests.size;
  }

  /**
   * Opens the socket and authenticates. Rejects with {@linkcode BtpAuthError} on bad
   * credentials and {@linkcode BtpConnectionError} when the peer cannot be reached (the first
   * connect does not retry; reconnects after a drop do).
   */
  async connect(): Promise<void> {
    if (this.#state === "closed") throw new BtpClosedError("client is closed");
    if (this.#state === "open") return;
    if (this.#state === "idle") {
      this.#setState("connecting");
      try {
        await this.#openSocket();
      } catch (err) {
        this.#setState("closed");
        this.#failWaiters(err as Error);
        await this.#socketClosed;
        throw err;
      }
      return;
    }
    await this.#waitOpen(this.#options.responseTimeoutMs);
  }

  /**
   * Sends an ILP packet in a MESSAGE and resolves with the `ilp` bytes of the RESPONSE.
   * While reconnecting it waits (up to the timeout) for the socket to come back.
   */
  async sendData(packet: Uint8Array, options: BtpSendOptions = {}): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? this.#options.responseTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    if (this.#state !== "open") await this.#waitOpen(timeoutMs);
    const protocolData = [ilpProtocolData(packet)];
    if (options.claimData) protocolData.push(claimProtocolData(options.claimData));
    const frame = await this.#request(
      { type: "message", requestId: 0, protocolData },
      Math.max(1, deadline - Date.now()),
    );
    const ilp = getIlpData(frame);
    if (!ilp) throw new BtpMessageError("RESPONSE carries no ilp protocol data");
    return ilp;
  }

  /**
   * Sends a MESSAGE with the given protocol data (e.g. `payment-channel-cosign`, no `ilp`) and
   * resolves with the RESPONSE's protocol data; a BTP ERROR rejects with
   * {@linkcode BtpRemoteError}. While reconnecting it waits (up to the timeout) like `sendData`.
   */
  async sendMessage(
    protocolData: BtpProtocolData[],
    options: BtpSendOptions = {},
  ): Promise<BtpProtocolData[]> {
    const timeoutMs = options.timeoutMs ?? this.#options.responseTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    if (this.#state !== "open") await this.#waitOpen(timeoutMs);
    const frame = await this.#request(
      { type: "message", requestId: 0, protocolData },
      Math.max(1, deadline - Date.now()),
    );
    return frame.type === "error" ? [] : frame.protocolData;
  }

  /**
   * Sends a PREPARE and decodes the FULFILL or REJECT. The wait is bounded by the packet's
   * expiry (plus a second of grace) and the response timeout.
   */
  async sendPrepare(prepare: IlpPrepare, options: BtpSendOptions = {}): Promise<IlpReply> {
    const bytes = encodeIlpPrepare(prepare);
    const untilExpiry = prepare.expiresAt.getTime() - Date.now() + 1_000;
    const timeoutMs = Math.max(
      1,
      Math.min(options.timeoutMs ?? this.#options.responseTimeoutMs, untilExpiry),
    );
    const amount = BigInt(prepare.amount);
    if (!this.#claims || amount === 0n || options.claimData) {
      return decodeIlpReply(
        await this.sendData(bytes, { timeoutMs, claimData: options.claimData }),
      );
    }
    return await this.#sendPaid(bytes, amount, timeoutMs, false, options);
  }

  /** Claims mode: cumulative amount claimed (signed) so far, and the total committed. */
  get claimBook(): { claimed: bigint; committed: bigint } | undefined {
    if (!this.#claims) return undefined;
    return { claimed: this.#claims.signer.transferred, committed: this.#committed };
  }

  async #sendPaid(
    bytes: Uint8Array,
    amount: bigint,
    timeoutMs: number,
    retried = false,
    late: LateFulfillOption = {},
  ): Promise<IlpReply> {
    const claims = this.#claims!;
    const deadline = Date.now() + timeoutMs;
    this.#committed += amount;
    let claim: Promise<PaymentChannelClaim> | undefined;
    if (this.#committed > this.#requested) {
      const deposit = claims.signer.deposit;
      const wanted = this.#committed + (claims.prepay ?? 0n);
      // Prepay never pushes a claim over the deposit; the packet itself may (and is refused).
      const upTo = wanted > deposit && this.#committed <= deposit ? deposit : wanted;
      const delta = upTo - this.#requested;
      this.#requested = upTo;
      claim = claims.signer.pay(delta, { until: deadline }).then(async (c) => {
        await claims.persist?.(c);
        return c;
      }, (err) => {
        this.#requested -= delta;
        throw err;
      });
      // Awaited by the send chain below, possibly after it failed: not an unhandled rejection.
      claim.catch(() => {});
    }
    const sent = this.#sendChain.then(async () => {
      const protocolData = [ilpProtocolData(bytes)];
      if (claim) protocolData.push(claimProtocolData(encodeClaim(await claim)));
      if (this.#state !== "open") await this.#waitOpen(Math.max(1, deadline - Date.now()));
      return await this.#dispatch(
        { type: "message", requestId: 0, protocolData },
        Math.max(1, deadline - Date.now()),
      );
    });
    this.#sendChain = sent.catch(() => {});
    let reply: IlpReply;
    let requestId: number | undefined;
    try {
      const dispatched = await sent;
      requestId = dispatched.requestId;
      const frame = await dispatched.answer;
      if (frame.type === "error") {
        throw new BtpRemoteError(frame.code, frame.name, frame.data);
      }
      const ilp = getIlpData(frame);
      if (!ilp) throw new BtpMessageError("RESPONSE carries no ilp protocol data");
      reply = decodeIlpReply(ilp);
    } catch (err) {
      // Never sent (signing refused, not connected): nothing of it reached the peer.
      if (requestId === undefined) this.#committed -= amount;
      // No answer in time: counted as paid until the peer's answer, if it still comes, says.
      else if (err instanceof BtpTimeoutError) this.#late.await(requestId, amount, late);
      throw err;
    }
    if (reply.type === "reject") this.#giveBack(amount, reply.data);
    if (reply.type === "reject" && UNCOVERED.has(claimRejectReasonOf(reply.data))) {
      // The peer saw no surplus where we did (e.g. it restarted): once more, with a claim.
      const left = deadline - Date.now();
      if (!claim && !retried && left > 0) {
        return await this.#sendPaid(bytes, amount, left, true, late);
      }
    }
    return reply;
  }

  /**
   * A paid packet was not forwarded (REJECT): its amount is cover for the next ones, unless the
   * peer refused the claim itself.
   */
  #giveBack(amount: bigint, rejectData: Uint8Array) {
    this.#committed -= amount;
    // The peer sees less cover than we do, or did not take our claim at all (any claim
    // rejection: a channel it has not learned yet, rate-limited, ...): our surplus is gone, and
    // the next paid packet carries a new claim. Without it, a town that has not learned the
    // channel would take the claimless packet as a configured account's, unpaid.
    if (claimRejectReasonOf(rejectData) !== undefined) this.#committed = this.#requested;
  }

  /** Asks the peer for our address and asset (IL-DCP) and remembers the address. */
  async fetchIldcp(options: BtpSendOptions = {}): Promise<IldcpResponse> {
    const reply = await this.sendData(encodeIldcpRequest(), options);
    if (reply[0] === IlpPacketType.reject) {
      const reject = decodeIlpReply(reply);
      if (reject.type === "reject") {
        throw new IldcpError(`IL-DCP rejected: ${reject.code} ${reject.message}`);
      }
    }
    const info = decodeIldcpResponse(reply);
    this.ilpAddress = info.clientAddress;
    return info;
  }

  /** Closes the socket, stops reconnecting, fails everything in flight with BtpClosedError. */
  async close(): Promise<void> {
    if (this.#state === "closed" && !this.#ws) return await this.#socketClosed;
    this.#setState("closed");
    clearTimeout(this.#reconnectTimer);
    this.#failPending(new BtpClosedInFlightError("client closed with the request in flight"));
    this.#failWaiters(new BtpClosedError("client closed"));
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.close();
    await this.#socketClosed;
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #setState(state: BtpClientState) {
    if (this.#state === state) return;
    this.#state = state;
    this.#onStateChange?.(state);
    if (state === "open") {
      const waiters = this.#openWaiters;
      this.#openWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  #failWaiters(err: Error) {
    const waiters = this.#openWaiters;
    this.#openWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  #failPending(err: Error) {
    this.#requests.failAll(err);
    // The socket is gone: answers to its timed-out packets cannot come any more.
    this.#late.clear();
  }

  #waitOpen(timeoutMs: number): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    if (this.#state === "closed") {
      return Promise.reject(this.#fatal ?? new BtpClosedError("client is closed"));
    }
    if (this.#state === "idle") {
      return Promise.reject(new BtpConnectionError("not connected: call connect() first"));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.#openWaiters = this.#openWaiters.filter((w) => w !== waiter);
        // A packet that never left is a connection problem, not an unanswered request.
        reject(new BtpConnectionError(`not connected to ${this.#wsUrl} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#openWaiters.push(waiter);
    });
  }

  /** Opens a socket and authenticates on it; resolves when open, rejects on failure. */
  #openSocket(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = openWebSocket(this.#wsUrl, { noDelay: this.#options.noDelay });
      } catch (err) {
        reject(new BtpConnectionError(`cannot open ${this.#wsUrl}: ${(err as Error).message}`));
        return;
      }
      ws.binaryType = "arraybuffer";
      this.#ws = ws;
      let authed = false;
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      this.#socketClosed = new Promise<void>((closed) => {
        ws.addEventListener("close", () => {
          closed();
          if (this.#ws === ws) this.#ws = undefined;
          settle(new BtpConnectionError(`connection to ${this.#wsUrl} closed before auth`));
          if (authed) this.#onSocketLost();
        });
      });
      ws.addEventListener("message", (event) => this.#onMessage(ws, event.data));
      ws.addEventListener("open", () => {
        this.#request(
          {
            type: "message",
            requestId: 0,
            protocolData: authProtocolData({ username: this.#username, token: this.#token }),
          },
          this.#options.responseTimeoutMs,
          ws,
        ).then(() => {
          authed = true;
          this.#reconnectAttempt = 0;
          if (this.#state !== "closed") this.#setState("open");
          settle();
        }, (err: Error) => {
          const authErr = err instanceof BtpRemoteError
            ? new BtpAuthError(
              `BTP auth refused by ${this.#wsUrl}: ${err.code} ${err.errorName} ${err.data}`,
            )
            : err;
          settle(authErr);
          ws.close();
        });
      });
    });
  }

  #onSocketLost() {
    this.#failPending(new BtpConnectionLostError(`connection to ${this.#wsUrl} lost`));
    if (this.#state === "closed") return;
    if (!this.#options.reconnect) {
      this.#fatal = new BtpConnectionError(`connection to ${this.#wsUrl} lost`);
      this.#setState("closed");
      this.#failWaiters(this.#fatal);
      return;
    }
    this.#setState("reconnecting");
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    const delay = backoffDelay(this.#reconnectAttempt++, {
      initialMs: this.#options.reconnectInitialDelayMs,
      maxMs: this.#options.reconnectMaxDelayMs,
      random: this.#options.random,
    });
    this.#reconnectTimer = setTimeout(() => {
      if (this.#state === "closed") return;
      this.#openSocket().catch((err: Error) => {
        if (this.#state === "closed") return;
        if (err instanceof BtpAuthError) {
          // Credentials will not get better by retrying: stop and tell everyone waiting.
          this.#fatal = err;
          this.#setState("closed");
          this.#failWaiters(err);
          return;
        }
        this.#scheduleReconnect();
      });
    }, delay);
  }

  async #request(frame: BtpFrame, timeoutMs: number, socket?: WebSocket): Promise<BtpFrame> {
    const { answer } = await this.#dispatch(frame, timeoutMs, socket);
    const reply = await answer;
    if (reply.type === "error") throw new BtpRemoteError(reply.code, reply.name, reply.data);
    return reply;
  }

  /** Sends a request; resolves once it is on the socket, with the promise of its answer. */
  async #dispatch(
    frame: BtpFrame,
    timeoutMs: number,
    socket?: WebSocket,
  ): Promise<{ answer: Promise<BtpFrame>; requestId: number }> {
    const ws = socket ?? this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      throw new BtpConnectionError(`not connected to ${this.#wsUrl}`);
    }
    const requestId = this.#requests.allocate();
    const bytes = encodeBtpFrame({ ...frame, requestId }, {
      maxFrameBytes: this.#options.maxFrameBytes,
    });
    await this.#drain(ws);
    const answer = this.#requests.wait(
      requestId,
      timeoutMs,
      () => new BtpTimeoutError(`no answer to BTP request ${requestId} in ${timeoutMs} ms`),
    );
    try {
      ws.send(bytes);
    } catch (err) {
      this.#requests.forget(requestId);
      throw new BtpConnectionError(`send failed: ${(err as Error).message}`);
    }
    return { answer, requestId };
  }

  /** Backpressure: WebSocket.send never blocks, so poll bufferedAmount down below the mark. */
  async #drain(ws: WebSocket) {
    while (
      ws.bufferedAmount > this.#options.highWaterMarkBytes && ws.readyState === WebSocket.OPEN
    ) {
      await sleep(1);
    }
  }

  #send(ws: WebSocket, frame: BtpFrame) {
    if (ws.readyState !== WebSocket.OPEN) return;
    try {
      ws.send(encodeBtpFrame(frame, { maxFrameBytes: this.#options.maxFrameBytes }));
    } catch {
      // The answer does not fit or the socket just closed: the peer's request times out, which
      // is all a BTP peer can be told once its own frame was valid.
    }
  }

  #sendError(ws: WebSocket, requestId: number, error: BtpError, data: string) {
    this.#send(ws, btpErrorFrame(requestId, error, data));
  }

  #onMessage(ws: WebSocket, data: unknown) {
    if (!(data instanceof ArrayBuffer)) return; // BTP is binary; text frames carry nothing for us
    const bytes = new Uint8Array(data);
    let frame: BtpFrame;
    try {
      frame = decodeBtpFrame(bytes, { maxFrameBytes: this.#options.maxFrameBytes });
    } catch (err) {
      this.#onBadFrame(ws, bytes, err as Error);
      return;
    }
    if (frame.type === "response" || frame.type === "error") {
      // False: a late answer to a request that timed out (a paid one may give its cover back).
      if (!this.#requests.settle(frame)) this.#late.answer(frame);
      return;
    }
    if (frame.type === "transfer") {
      this.#sendError(
        ws,
        frame.requestId,
        BTP_ERROR.notAccepted,
        "BTP TRANSFER is not supported",
      );
      return;
    }
    this.#onIncomingMessage(ws, frame);
  }

  #onBadFrame(ws: WebSocket, bytes: Uint8Array, err: Error) {
    const requestId = peekBtpRequestId(bytes);
    if (requestId === undefined) return;
    const answer = bytes[0] === BtpFrameType.response || bytes[0] === BtpFrameType.error;
    if (answer && this.#requests.fail(requestId, err)) return;
    if (bytes[0] === BtpFrameType.message || bytes[0] === BtpFrameType.transfer) {
      this.#sendError(ws, requestId, BTP_ERROR.invalidFields, err.message);
    }
  }

  async #onIncomingMessage(ws: WebSocket, frame: BtpMessageFrame) {
    const ilp = getIlpData(frame);
    const inDoubt = ilp
      ? undefined
      : frame.protocolData.find((p) => p.protocolName === IN_DOUBT_PROTOCOL_NAME);
    if (inDoubt) {
      let answer: Uint8Array;
      try {
        const conditions = decodeInDoubt("conditions", inDoubt.data);
        answer = encodeInDoubtAnswer((await this.#onInDoubt?.(conditions)) ?? []);
      } catch (err) {
        const why = (err as Error).message.slice(0, 300);
        this.#sendError(ws, frame.requestId, BTP_ERROR.invalidFields, why);
        return;
      }
      this.#send(ws, {
        type: "response",
        requestId: frame.requestId,
        protocolData: [{
          protocolName: IN_DOUBT_PROTOCOL_NAME,
          contentType: BtpContentType.json,
          data: answer,
        }],
      });
      return;
    }
    const claim = ilp
      ? undefined
      : frame.protocolData.find((p) => p.protocolName === CLAIM_PROTOCOL_NAME);
    if (claim && this.#onClaim) {
      try {
        await this.#onClaim(claim.data);
      } catch (err) {
        const why = (err as Error).message.slice(0, 300);
        this.#sendError(ws, frame.requestId, BTP_ERROR.notAccepted, why);
        return;
      }
    }
    if (!ilp) {
      this.#send(ws, { type: "response", requestId: frame.requestId, protocolData: [] });
      return;
    }
    const reply = await this.#answerPrepare(ilp);
    this.#send(ws, {
      type: "response",
      requestId: frame.requestId,
      protocolData: [ilpProtocolData(reply)],
    });
  }

  async #answerPrepare(ilp: Uint8Array): Promise<Uint8Array> {
    const reject = (code: string, message: string) =>
      encodeIlpReply({
        type: "reject",
        code,
        triggeredBy: this.ilpAddress ?? "",
        message,
        data: new Uint8Array(0),
      });
    let prepare: IlpPrepare;
    try {
      prepare = decodeIlpPrepare(ilp);
    } catch (err) {
      return reject(ILP_ERROR.invalidPacket, (err as Error).message.slice(0, 200));
    }
    if (!this.#onPrepare) return reject(ILP_ERROR.unreachable, "no receiver on this BTP client");
    try {
      return encodeIlpReply(await this.#onPrepare(prepare));
    } catch (err) {
      return reject(
        ILP_ERROR.internalError,
        `receiver failed: ${(err as Error).message}`.slice(0, 200),
      );
    }
  }
}

function claimProtocolData(data: Uint8Array): BtpProtocolData {
  return { protocolName: CLAIM_PROTOCOL_NAME, contentType: BtpContentType.json, data };
}

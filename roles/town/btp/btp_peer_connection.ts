/**
 * One authenticated BTP peer on the town's server side: answers the peer's PREPAREs (MESSAGE
 * frames with `ilp` protocol data) through a handler, and sends PREPAREs to the peer (for
 * packets routed to it) correlating the RESPONSE by requestId. Frames over the peer's size
 * limit or that do not decode get a BTP ERROR; an oversize frame also closes the socket.
 *
 * What waits to be sent to the peer is bounded by the town's slow-consumer guard
 * (transport/slow_consumer_guard.ts): {@linkcode BtpPeerConnection.backlog} tells the router
 * when the peer is behind (it then refuses the peer's PREPAREs and packets for it), and the
 * guard closes the socket past its limits (docs/OPERATIONS.md "Peers that do not read").
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import {
  BTP_ERROR,
  BtpContentType,
  type BtpError,
  btpErrorFrame,
  type BtpFrame,
  BtpFrameType,
  type BtpMessageFrame,
  decodeBtpFrame,
  encodeBtpFrame,
  getIlpData,
  ilpProtocolData,
  peekBtpRequestId,
} from "../../../protocol/btp_message.ts";
import { CLAIM_PROTOCOL_NAME } from "../../../protocol/payment_channel_claim.ts";
import { COSIGN_PROTOCOL_NAME } from "../../../protocol/payment_channel_cosign.ts";
import {
  decodeInDoubtAnswer,
  encodeInDoubt,
  IN_DOUBT_PROTOCOL_NAME,
  type InDoubtProof,
} from "../../../protocol/payment_in_doubt.ts";
import { OWED_PROTOCOL_NAME } from "../../../protocol/payment_owed.ts";
import { BtpRequests } from "../../../transport/btp_requests.ts";
import type {
  SlowConsumerGuard,
  SlowConsumerListener,
  WatchedSocket,
} from "../../../transport/slow_consumer_guard.ts";
import type { BtpPeerAccount } from "./btp_accounts.ts";

/**
 * Answers the `ilp` bytes of a peer's MESSAGE with the `ilp` bytes of the RESPONSE; `claim` is
 * the frame's `payment-channel-claim` protocol data, when it has one.
 */
export type BtpIlpHandler = (
  from: BtpPeerConnection,
  packet: Uint8Array,
  claim?: Uint8Array,
) => Promise<Uint8Array>;

/**
 * Answers the `payment-channel-cosign` data of a peer's MESSAGE (without `ilp`) with the data of
 * the RESPONSE (roles/town/channels/channel_cosign_desk.ts).
 */
export type BtpCosignHandler = (
  from: BtpPeerConnection,
  request: Uint8Array,
) => Promise<Uint8Array>;

/** Options for {@linkcode BtpPeerConnection}. */
export interface BtpPeerConnectionOptions {
  account: BtpPeerAccount;
  onIlp: BtpIlpHandler;
  /** Co-sign requests (cooperative settle, withdraw); none: refused with BTP ERROR F00. */
  onCosign?: BtpCosignHandler;
  /**
   * Answers the `payment-owed` data of a peer's MESSAGE (without `ilp`) from the town's books
   * (roles/town/btp/owed_answers.ts); throws on a malformed question (BTP ERROR F01). None:
   * answered BTP ERROR F00.
   */
  onOwed?: (from: BtpPeerConnection, question: Uint8Array) => Promise<Uint8Array>;
  /** Largest frame accepted from or sent to this peer. */
  maxFrameBytes: number;
  /** Bounds what waits to be sent to this peer; none: unbounded (and never behind). */
  slowConsumers?: SlowConsumerGuard;
  /** Told when that guard closed this peer's socket. */
  onSlowConsumer?: SlowConsumerListener;
}

/** Bytes waiting to be sent to a peer, and its high-water mark (over it the peer is behind). */
export interface PeerBacklog {
  bytes: number;
  highWaterBytes: number;
}

/** The peer did not answer in time, or the socket closed with the request in flight. */
export class BtpPeerUnavailableError extends RoleError {
  override name = "BtpPeerUnavailableError";
}

/**
 * Server side of one peer's WebSocket, after auth.
 *
 * It needs a connected peer's socket: no example that runs here:
 * tests/unit/protocol/town_btp_server_test.ts.
 */
export class BtpPeerConnection {
  readonly account: BtpPeerAccount;
  readonly #socket: WebSocket;
  readonly #o: BtpPeerConnectionOptions;
  readonly #requests = new BtpRequests();
  readonly #watched?: WatchedSocket;
  #closed = false;

  constructor(socket: WebSocket, options: BtpPeerConnectionOptions) {
    this.#socket = socket;
    this.#o = options;
    this.account = options.account;
    this.#watched = options.slowConsumers?.watch(socket, options.onSlowConsumer);
    socket.addEventListener("message", (e) => this.#onMessage(e.data));
    socket.addEventListener("close", () => this.#onClosed());
  }

  /** True once the socket closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** What waits to be sent to the peer now (the router refuses work past the high-water mark). */
  backlog(): PeerBacklog {
    return {
      bytes: this.#socket.bufferedAmount,
      highWaterBytes: this.#o.slowConsumers?.highWaterBytes ?? Infinity,
    };
  }

  /** Sends an ILP packet to the peer and resolves with the `ilp` bytes of its RESPONSE. */
  async request(packet: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const frame = await this.#request([ilpProtocolData(packet)], timeoutMs);
    const ilp = getIlpData(frame);
    if (!ilp) throw new BtpPeerUnavailableError("peer RESPONSE carries no ilp data");
    return ilp;
  }

  /**
   * Sends the peer a payment channel claim of the town's (a payout, roles/town/channels/peer_payout.ts):
   * a MESSAGE whose only protocol data is `payment-channel-claim`. Resolves once the peer
   * answered with a RESPONSE (it kept the claim); rejects with its BTP ERROR otherwise.
   */
  async sendClaim(claim: Uint8Array, timeoutMs: number): Promise<void> {
    await this.#request(
      [{ protocolName: CLAIM_PROTOCOL_NAME, contentType: BtpContentType.json, data: claim }],
      timeoutMs,
    );
  }

  /**
   * Asks the peer which of these payments (their conditions, hex) it fulfilled, after a crash
   * left them in doubt (protocol/payment_in_doubt.ts); resolves with the fulfillments it shows,
   * each with its PREPARE's expiry when the peer says it.
   */
  async askInDoubt(conditions: readonly string[], timeoutMs: number): Promise<InDoubtProof[]> {
    const frame = await this.#request(
      [{
        protocolName: IN_DOUBT_PROTOCOL_NAME,
        contentType: BtpContentType.json,
        data: encodeInDoubt("conditions", conditions),
      }],
      timeoutMs,
    );
    const answer = frame.protocolData.find((p) => p.protocolName === IN_DOUBT_PROTOCOL_NAME);
    return answer ? decodeInDoubtAnswer(answer.data) : [];
  }

  async #request(
    protocolData: BtpMessageFrame["protocolData"],
    timeoutMs: number,
  ): Promise<BtpFrame> {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) {
      throw new BtpPeerUnavailableError(`${this.account.account} disconnected`);
    }
    const requestId = this.#requests.allocate();
    const bytes = encodeBtpFrame(
      { type: "message", requestId, protocolData },
      { maxFrameBytes: this.#o.maxFrameBytes },
    );
    const answer = this.#requests.wait(
      requestId,
      Math.max(1, timeoutMs),
      () => new BtpPeerUnavailableError(`${this.account.account} did not answer in time`),
    );
    try {
      this.#socket.send(bytes);
      this.#watched?.sent();
    } catch (err) {
      this.#requests.fail(
        requestId,
        new BtpPeerUnavailableError(`send failed: ${(err as Error).message}`),
      );
    }
    const frame = await answer;
    if (frame.type === "error") {
      throw new BtpPeerUnavailableError(
        `peer answered BTP ERROR ${frame.code}: ${frame.data}`.slice(0, 300),
      );
    }
    return frame;
  }

  /** Closes the socket (e.g. replaced by a newer connection of the same account). */
  close(code = 1000, reason = ""): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closed
    }
    this.#onClosed();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#requests.failAll(new BtpPeerUnavailableError(`${this.account.account} disconnected`));
  }

  #send(frame: BtpFrame): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(encodeBtpFrame(frame, { maxFrameBytes: this.#o.maxFrameBytes }));
      this.#watched?.sent();
    } catch {
      // The socket just closed, or our answer does not fit: the peer's request times out.
    }
  }

  #error(requestId: number, error: BtpError, data: string): void {
    this.#send(btpErrorFrame(requestId, error, data));
  }

  #onCosign(requestId: number, request: Uint8Array): void {
    if (!this.#o.onCosign) {
      this.#error(requestId, BTP_ERROR.notAccepted, `${COSIGN_PROTOCOL_NAME} is not served`);
      return;
    }
    this.#o.onCosign(this, request).then((answer) => {
      this.#send({
        type: "response",
        requestId,
        protocolData: [{ protocolName: COSIGN_PROTOCOL_NAME, contentType: 2, data: answer }],
      });
    }, (err: Error) => {
      this.#error(requestId, BTP_ERROR.unreachable, err.message.slice(0, 200));
    });
  }

  #onOwedQuestion(requestId: number, question: Uint8Array): void {
    if (!this.#o.onOwed) {
      this.#error(requestId, BTP_ERROR.notAccepted, `${OWED_PROTOCOL_NAME} is not served`);
      return;
    }
    this.#o.onOwed(this, question).then((answer) =>
      this.#send({
        type: "response",
        requestId,
        protocolData: [{
          protocolName: OWED_PROTOCOL_NAME,
          contentType: BtpContentType.json,
          data: answer,
        }],
      }), (err: Error) => {
      this.#error(requestId, BTP_ERROR.invalidFields, err.message.slice(0, 200));
    });
  }

  #onMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this.close(1003, "BTP frames are binary");
      return;
    }
    const bytes = new Uint8Array(data);
    if (bytes.byteLength > this.#o.maxFrameBytes) {
      const id = peekBtpRequestId(bytes);
      if (id !== undefined) {
        this.#error(id, BTP_ERROR.invalidFields, `frame over ${this.#o.maxFrameBytes} bytes`);
      }
      this.close(1009, "BTP frame too large");
      return;
    }
    let frame: BtpFrame;
    try {
      frame = decodeBtpFrame(bytes, { maxFrameBytes: this.#o.maxFrameBytes });
    } catch (err) {
      const id = peekBtpRequestId(bytes);
      if (
        id !== undefined &&
        (bytes[0] === BtpFrameType.message || bytes[0] === BtpFrameType.transfer)
      ) {
        this.#error(id, BTP_ERROR.invalidFields, (err as Error).message.slice(0, 200));
      }
      return;
    }
    if (frame.type === "response" || frame.type === "error") {
      this.#requests.settle(frame);
      return;
    }
    if (frame.type === "transfer") {
      this.#error(frame.requestId, BTP_ERROR.notAccepted, "BTP TRANSFER is not supported");
      return;
    }
    const ilp = getIlpData(frame);
    const cosign = ilp
      ? undefined
      : frame.protocolData.find((p) => p.protocolName === COSIGN_PROTOCOL_NAME);
    if (cosign) {
      this.#onCosign(frame.requestId, cosign.data);
      return;
    }
    const owed = ilp
      ? undefined
      : frame.protocolData.find((p) => p.protocolName === OWED_PROTOCOL_NAME);
    if (owed) {
      this.#onOwedQuestion(frame.requestId, owed.data);
      return;
    }
    if (!ilp) {
      this.#send({ type: "response", requestId: frame.requestId, protocolData: [] });
      return;
    }
    const claim = frame.protocolData.find((p) => p.protocolName === CLAIM_PROTOCOL_NAME)?.data;
    this.#o.onIlp(this, ilp, claim).then((reply) => {
      this.#send({
        type: "response",
        requestId: frame.requestId,
        protocolData: [ilpProtocolData(reply)],
      });
    }, (err: Error) => {
      this.#error(frame.requestId, BTP_ERROR.unreachable, err.message.slice(0, 200));
    });
  }
}

/**
 * The payee's side of a payment channel: claims taken on BTP (docs/PROTOCOL.md), by the town's BTP
 * server for its peers and by a provider for the town's payouts (payout_receiver.ts). For a peer
 * that settles over a channel, every PREPARE with an amount must be covered by the peer's claims (the
 * `payment-channel-claim` protocol data of its frame, or an earlier claim's surplus, or the
 * configured credit) before it is routed. The check runs in arrival order, before anything is
 * forwarded or stored; a rejected claim changes nothing.
 *
 * A packet is answered with a FULFILL only once the newest claim covering it is durable (the
 * channel file; it is what the town would close the channel with). A packet that ends in a
 * REJECT gives its cover back. Claims ride along with the packets: one write of the channel
 * file covers the claims of every packet that arrived meanwhile (see state/coalesced_writer.ts).
 *
 * ILP codes of claim rejections (the data is the reason, `{"claimReject":"not-covered"}`, for
 * programs: docs/PROTOCOL.md "Claim rejections"; the message is the {@linkcode ClaimError}
 * message, for people):
 *
 * | reasons | code | why |
 * | --- | --- | --- |
 * | `not-covered`, `credit-limit-exceeded`, `beyond-deposit` | T04 Insufficient Liquidity | temporary: a new claim (or a top-up) makes the same packet acceptable; ilp-connector's balance middleware answers T04 when a peer goes over its maximum balance |
 * | `chain-unavailable` | T00 Internal Error | temporary: the channel could not be read on chain |
 * | `rate-limited` | T05 Rate Limited | temporary: too many claims on channels the town does not know yet (roles/town/channels/channel_discovery.ts) |
 * | anything else (`malformed`, `bad-signature`, `wrong-chain`, `wrong-contract`, `wrong-token`, `unknown-channel`, `channel-not-open`, `channel-in-use`, `replayed-nonce`, `amount-decreased`, ...) | F00 Bad Request | final: this claim will never be accepted |
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import {
  type ClaimBook,
  ClaimVerifier,
  type ClaimVerifierOptions,
} from "../../chain/claim_verifier.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelBook } from "../../state/channels/channel_book.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { openChannelFileWriter } from "../../state/channels/channel_writer.ts";
import { recordClaimBook, recordWithClaimBook } from "../../state/channels/file_channel_book.ts";
import {
  decodeIlpPrepare,
  encodeIlpReply,
  ILP_ERROR,
  IlpPacketType,
} from "../../protocol/ilp_packet.ts";
import { claimRejectReply } from "./claim_reject_reply.ts";
import {
  ClaimError,
  decodeClaim,
  type PaymentChannelClaim,
} from "../../protocol/payment_channel_claim.ts";

/** Where accepted claims are made durable: a `CoalescedWriter<ClaimBook>` fits. */
export interface ClaimBookWriter {
  /** Schedules the newest book; resolves when it (or a newer one) is written. */
  save(book: ClaimBook): Promise<void>;
  /** Resolves when the newest book saved so far is written. */
  durable(): Promise<void>;
}

/** Options for {@linkcode createBtpClaimGate}. */
export interface BtpClaimGateOptions {
  verifier: ClaimVerifier;
  writer: ClaimBookWriter;
  /** The town's ILP address, for the REJECTs. */
  triggeredBy: () => string;
  /** Told about each rejected claim or uncovered packet (logs, metrics). */
  onReject?: (err: ClaimError) => void;
  /** Refuses every paid packet while it returns an error (e.g. the channel closed on chain). */
  refuse?: () => ClaimError | undefined;
  /**
   * What the packets answered with a FULFILL add up to, from the record's `received_forwarded`
   * on (shared with the writer's record, see {@linkcode openChannelClaimGate}): what the channel
   * file says was delivered, so what a close pays. A packet counts once the router FULFILLs it
   * (its write committed, its payment taken further on), and its FULFILL waits for a write that
   * counts it. The book counts a packet as forwarded from its claim check on, before its write
   * commits: a process killed between the two must not have written it as delivered
   * (docs/PROTOCOL.md "Payment channels and claims"). A REJECT leaves it as it is, so refused
   * cover is never written as delivered either (the refused packet's new claim is written, not
   * waited for). Absent: each new claim's book is written as the packet is routed, `forwarded` as
   * the book has it; on shared books that is what {@linkcode ClaimVerifier.deliver} counts once
   * the router FULFILLs, the same rule in the shared store.
   */
  delivered?: { amount: bigint };
}

/** Checks the cover of one peer's packets. */
export interface BtpClaimGate {
  /**
   * Answers the `ilp` bytes of a peer's MESSAGE: rejects when not covered, otherwise runs
   * `next` (the router) and holds a FULFILL until the covering claim is durable.
   */
  handle(
    packet: Uint8Array,
    claim: Uint8Array | undefined,
    next: () => Promise<Uint8Array>,
  ): Promise<Uint8Array>;
}

export { claimRejectCode, claimRejectReply } from "./claim_reject_reply.ts";

/** The persisted claim could not be written: the packet is rejected (T00). */
export class ClaimPersistError extends RoleError {
  override name = "ClaimPersistError";
}

/**
 * Builds a peer's claim gate.
 *
 * It needs a chain to read the channel from: no example that runs here:
 * tests/interop/anvil_town_payout_test.ts (the gate in front of a town's BTP server).
 */
export function createBtpClaimGate(options: BtpClaimGateOptions): BtpClaimGate {
  const { verifier, writer } = options;
  const reject = (code: string, message: string): Uint8Array =>
    encodeIlpReply({
      type: "reject",
      code,
      triggeredBy: options.triggeredBy(),
      message: message.slice(0, 500),
      data: new Uint8Array(0),
    });
  const refuse = (err: ClaimError): Uint8Array => {
    options.onReject?.(err);
    return claimRejectReply(err, options.triggeredBy());
  };

  const settle = async (
    accepted: ReturnType<ClaimVerifier["accept"]>,
    amount: bigint,
    next: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> => {
    let acceptance;
    try {
      acceptance = await accepted;
    } catch (err) {
      if (err instanceof ClaimError) return refuse(err);
      throw err;
    }
    const delivered = options.delivered;
    const early = delivered === undefined && acceptance.newClaim
      ? writer.save(acceptance.book)
      : undefined;
    early?.catch(() => {}); // awaited below, after the packet is routed
    const release = () => {
      verifier.release(acceptance.channelId, amount);
      // A refused packet's claim is still the peer's newest, and its value cover: keep it.
      if (delivered && acceptance.newClaim) writer.save(acceptance.book).catch(() => {});
    };
    let reply: Uint8Array;
    try {
      reply = await next();
    } catch (err) {
      release();
      throw err;
    }
    if (reply[0] === IlpPacketType.reject) {
      release();
      return reply;
    }
    if (delivered) delivered.amount += amount;
    const durable = delivered
      ? writer.save(verifier.book(acceptance.channelId) ?? acceptance.book)
      : early ?? writer.durable();
    try {
      await durable;
      // Shared books: the packet moves from in flight to delivered, before its FULFILL goes out.
      await verifier.deliver(acceptance.channelId, amount);
    } catch (err) {
      if (delivered) delivered.amount -= amount;
      release();
      const failure = new ClaimPersistError(`cannot persist the claim: ${(err as Error).message}`);
      return reject(ILP_ERROR.internalError, failure.message);
    }
    return reply;
  };

  return {
    handle(packet, claimBytes, next) {
      let amount: bigint;
      try {
        amount = BigInt(decodeIlpPrepare(packet).amount);
      } catch {
        return next(); // not a PREPARE: the router answers it (F01)
      }
      if (amount === 0n && claimBytes === undefined) return next();
      const refused = options.refuse?.();
      if (refused) return Promise.resolve(refuse(refused));
      let claim: PaymentChannelClaim | undefined;
      try {
        claim = claimBytes === undefined ? undefined : decodeClaim(claimBytes);
      } catch (err) {
        if (err instanceof ClaimError) return Promise.resolve(refuse(err));
        throw err;
      }
      // Enqueued now, synchronously: claims are checked in the order their frames arrived.
      return settle(verifier.accept(claim, amount), amount, next);
    },
  };
}

/** Options for {@linkcode openChannelClaimGate}. */
export interface ChannelClaimGateOptions {
  stateDir: string;
  /** The channel's record (`channels/<id>.toml`): where the peer's newest claim is kept. */
  record: ChannelRecord;
  /** Audit trail for the updates (grouped by the audit log's window). */
  audit?: AuditLog;
  /** Reads the channel on chain; `TokenNetworkClient.getChannel` fits. */
  readChannel: ClaimVerifierOptions["readChannel"];
  /** Value forwarded beyond the claims that is tolerated. Default 0. */
  creditLimit?: bigint;
  triggeredBy: () => string;
  onReject?: (err: ClaimError) => void;
  /**
   * What pays the peer: `packets` (default), each claim covering the packets it rides with,
   * delivered as they are FULFILLed; or `claims`, the claim itself the payment with no packet
   * (a payout, roles/channels/payout_receiver.ts): all of it delivered once kept.
   */
  payments?: "packets" | "claims";
  /**
   * The claim books of the town's shared store (a town on several processes): claims and cover
   * are decided there under a row lock; the channel file still gets this process's newest.
   */
  sharedBooks?: ChannelBook;
}

/** A gate with the verifier and writer behind it (for status and tests). */
export interface ChannelClaimGate extends BtpClaimGate {
  verifier: ClaimVerifier;
  writer: ClaimBookWriter;
  /** The record as last written. */
  record(): ChannelRecord;
  /**
   * Writes a change of the record from outside the claims (the chain watcher: closed,
   * settled), ordered with the claim writes so neither overwrites the other. Once the record
   * is not open, paid packets are refused (`channel-not-open`, F00).
   */
  update(
    change: (record: ChannelRecord) => ChannelRecord,
    save: { action: string; fields?: Record<string, string> },
  ): Promise<ChannelRecord>;
  /**
   * Holds new packets (they wait, in order) and resolves, with the function that lets them go
   * on, once every packet before is answered and its claim durable: the book stays final while
   * a co-sign request is checked (roles/town/channels/channel_cosign_desk.ts).
   */
  hold(): Promise<() => void>;
}

/**
 * The gate of one peer's channel, resuming from its channel file: the verifier starts from the
 * newest claim recorded there (what was forwarded before a restart counts as claimed), and
 * each accepted claim updates `received`, `receivedNonce`, `receivedSignature` of the file and
 * the audit trail (`turnpike: payment channel <id> updated`).
 *
 * It needs a chain to read the channel from: no example that runs here:
 * tests/interop/anvil_town_payout_test.ts. The town hands the gate to its BTP server
 * (`startTownNode({ claimGate })`), a provider to its payout receiver (payout_receiver.ts).
 */
export function openChannelClaimGate(options: ChannelClaimGateOptions): ChannelClaimGate {
  const record = options.record;
  const verifier = new ClaimVerifier({
    chainId: record.chainId,
    tokenNetworkAddress: record.tokenNetworkAddress,
    tokenAddress: record.tokenAddress,
    peerAddress: record.peerAddress,
    selfAddress: record.selfAddress,
    readChannel: options.readChannel,
    creditLimit: options.creditLimit,
    sharedBooks: options.sharedBooks,
    currentChannel: options.sharedBooks ? record.channelId : undefined,
    books: record.receivedNonce > 0n || record.peerWithdrawn > 0n ? [recordClaimBook(record)] : [],
  });
  // What the file says was delivered: FULFILLed packets only (createBtpClaimGate's `delivered`).
  // With shared books the file only mirrors this process's newest claim: the books of record,
  // and what a close pays, are the shared store's, where a packet is in flight from its claim
  // check and delivered from its FULFILL (ClaimVerifier.deliver). A payout's claim is delivered
  // whole.
  const delivered = options.sharedBooks || options.payments === "claims"
    ? undefined
    : { amount: record.receivedForwarded ?? record.received };
  const file = openChannelFileWriter<ClaimBook>({
    stateDir: options.stateDir,
    record,
    audit: options.audit,
    // The newest claim when the write starts (a saved copy may be older), with what was delivered.
    withClaim: (r, saved) => {
      const book = verifier.book(saved.channelId) ?? saved;
      return delivered
        ? recordWithClaimBook(r, { ...book, forwarded: delivered.amount }, true)
        : recordWithClaimBook(r, book, false);
    },
    onUpdate: (next) => {
      if (next.status !== "open") verifier.invalidate(next.channelId);
    },
  });
  const writer: ClaimBookWriter = file;
  const gate = createBtpClaimGate({
    verifier,
    writer,
    triggeredBy: options.triggeredBy,
    onReject: options.onReject,
    delivered,
    refuse: () => {
      const record = file.record();
      return record.status === "open" ? undefined : new ClaimError(
        "channel-not-open",
        `payment channel ${record.channelId} is ${record.status}` +
          `${record.status === "closing" ? "" : " on chain"}: no more claims ` +
          "are accepted on it; open a new channel",
      );
    },
  });
  const held = holdable(gate.handle, writer);
  return {
    ...gate,
    handle: held.handle,
    hold: held.hold,
    verifier,
    writer,
    record: file.record,
    update: file.update,
  };
}

/**
 * Pauses a gate for a co-sign check (roles/town/channels/channel_cosign_desk.ts): packets arriving while
 * held wait, in arrival order; `hold` resolves once every packet handed over before is answered
 * and its claim durable, so the book is final until `release`.
 */
function holdable(
  handle: BtpClaimGate["handle"],
  writer: ClaimBookWriter,
): Pick<ChannelClaimGate, "handle" | "hold"> {
  const inFlight = new Set<Promise<unknown>>();
  let barrier: Promise<void> | undefined;
  const track = (reply: Promise<Uint8Array>) => {
    inFlight.add(reply);
    const done = () => inFlight.delete(reply);
    reply.then(done, done);
    return reply;
  };
  const queue = (step: Promise<void>) => {
    const b: Promise<void> = step.then(() => {
      if (barrier === b) barrier = undefined;
    });
    barrier = b;
  };
  return {
    handle(packet, claim, next) {
      if (barrier === undefined) return track(handle(packet, claim, next));
      const handed = barrier.then(() => track(handle(packet, claim, next)));
      queue(handed.then(() => {}, () => {}));
      return handed;
    },
    async hold() {
      let release!: () => void;
      const released = new Promise<void>((resolve) => release = resolve);
      const before = barrier ?? Promise.resolve();
      queue(before.then(() => released));
      await before; // packets queued earlier are handed over first
      await Promise.allSettled([...inFlight]);
      await writer.durable().catch(() => {});
      return release;
    },
  };
}

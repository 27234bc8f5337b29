/**
 * The town's answer to a peer's `payment-channel-cosign` request (protocol/payment_channel_cosign.ts):
 * checks a cooperative settle or a withdraw of the peer's channel against the town's books (the
 * channel's claim gate) and the chain, and signs it with the town's key.
 *
 * Cooperative settle: signed only when the channel is this account's, open on chain, the payer's
 * signature recovers to the channel's peer, the participants are the contract's order, the
 * payer's final transferred amount (and nonce) is at least the newest claim the town holds,
 * nothing was forwarded on credit beyond the claims, and the balances are exactly what the books
 * give (deposits minus withdrawn, moved by the final amount). The gate is held while the books
 * are read; before the signature leaves, the channel file says `closing` (audit
 * `turnpike: payment channel <id> closed`, `Cosigned: cooperative-settle`), and from then on the
 * gate refuses every paid packet on it. Asked again while closing (the payer lost the answer),
 * the same checks run on the frozen books and the town signs again. A channel the chain shows
 * settled is marked settled.
 *
 * Withdraw: signed only when the participant is the payer, its signature recovers to it, the
 * expiration is ahead of the chain's clock (at most a day), the total rises, nothing is on credit
 * and what stays in the channel covers every claim (deposit - totalWithdraw >= claimed). The new
 * total is written to the channel file (`peerWithdrawn`) and the claim verifier's cap lowered
 * before the signature leaves.
 *
 * Last claim: the newest claim of the payer the channel file holds (`received`, `receivedNonce`,
 * `receivedSignature`, read once the gate's pending claims are durable), for this account's
 * channel only and whatever its status: a payer that lost its channel file (`turnpike channel
 * recover`) learns what it signed, open or closed. Nothing is signed or written.
 *
 * On shared books (a town on several processes, `sharedBooks`) the books checked are the
 * shared ones, locked for the check: a settle marks the book `closing` in the same transaction,
 * so from its commit every process refuses the channel's packets, and a withdraw raises the
 * book's withdrawn total, which every process's verifier caps claims by. The payer's packets on
 * other processes are answered before it asks (it closes with none in flight). What the books
 * count delivered (`forwarded`) is FULFILLed packets only: one still in flight there, or left in
 * flight by a killed process, is not paid by the close (the payer's side; one FULFILLed after the
 * settle was signed is the town's loss).
 *
 * @module
 */
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { TokenNetworkDomain } from "../../../chain/balance_proof.ts";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";
import {
  ChannelCosignError,
  type CooperativeSettleRequest,
  COSIGN_VERSION,
  type CosignAnswer,
  type CosignLastClaim,
  type CosignRequest,
  decodeCosignRequest,
  encodeCosignAnswer,
  type LastClaimRequest,
  NO_CHANNEL,
  refusalOf,
  type WithdrawRequest,
} from "../../../protocol/payment_channel_cosign.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import type { ChannelBook, ClaimBook } from "../../../state/channels/channel_book.ts";
import { recordClaimBook } from "../../../state/channels/file_channel_book.ts";
import type { ChannelClaimGate } from "../../channels/btp_claim_gate.ts";
import {
  describeSignerMismatch,
  sameAddress,
  signerMismatch,
} from "../../../chain/signer_check.ts";
import {
  cosignedMessageOf,
  type CosignedMessages,
  type CosignedRequestOf,
  type CosignedType,
  recoverCosignedSigner,
  signCosigned,
} from "../../channels/channel_cosign_messages.ts";

/** Longest a withdraw signature may stay valid, from the chain's clock. */
export const MAX_WITHDRAW_EXPIRY_SECONDS = 86_400n;

/** Options for {@linkcode createChannelCosignDesk}. */
export interface ChannelCosignDeskOptions {
  /** The account's channel gate: its books, its record, its hold. */
  gate: ChannelClaimGate;
  /** The town's key (the channel's self side). */
  signer: NodeSigner;
  /** Reads the channel on chain; `TokenNetworkClient.getChannel` fits. */
  readChannel: (channelId: `0x${string}`) => Promise<OnChainChannel>;
  /** The chain's clock (unix seconds); `TokenNetworkClient.chainTime` fits. Default: now. */
  chainTime?: () => Promise<bigint>;
  /** The town's shared claim books (a town on several processes): checked and marked there. */
  sharedBooks?: ChannelBook;
}

/** Answers co-sign requests of one peer account. */
export interface ChannelCosignDesk {
  /** The encoded answer (signed or refused) to the bytes of a request. */
  answer(request: Uint8Array): Promise<Uint8Array>;
  /** The decoded answer to a request (tests, and callers holding a decoded request). */
  decide(request: CosignRequest): Promise<CosignAnswer>;
}

/**
 * Builds the desk of one peer's channel; requests are answered one at a time.
 *
 * It answers a channel's peer and reads the chain: no example that runs here:
 * tests/unit/identity/channel_last_claim_test.ts.
 */
export function createChannelCosignDesk(options: ChannelCosignDeskOptions): ChannelCosignDesk {
  let queue: Promise<unknown> = Promise.resolve();
  const decide = (request: CosignRequest): Promise<CosignAnswer> => {
    const run = queue.then(() => decideNow(options, request));
    queue = run.catch(() => {});
    return run;
  };
  return { decide, answer: answerCosignBytes(decide) };
}

/**
 * A desk's `answer` from its `decide`: the bytes decoded, decided and the answer encoded; bytes
 * that are no request are refused naming {@linkcode NO_CHANNEL}.
 *
 * @example
 * ```ts
 * import { answerCosignBytes } from "./channel_cosign_desk.ts";
 * import {
 *   ChannelCosignError,
 *   decodeCosignAnswer,
 *   NO_CHANNEL,
 *   refusalOf,
 * } from "../../../protocol/payment_channel_cosign.ts";
 * import assert from "node:assert/strict";
 * const answer = answerCosignBytes((request) =>
 *   Promise.resolve(refusalOf(request.channelId, new ChannelCosignError("unknown-channel", "no")))
 * );
 * const refused = decodeCosignAnswer(await answer(new TextEncoder().encode("{}")));
 * assert.ok(refused.type === "refused" && refused.channelId === NO_CHANNEL);
 * ```
 */
export function answerCosignBytes(
  decide: (request: CosignRequest) => Promise<CosignAnswer>,
): (bytes: Uint8Array) => Promise<Uint8Array> {
  return async (bytes) => {
    let request: CosignRequest;
    try {
      request = decodeCosignRequest(bytes);
    } catch (err) {
      if (!(err instanceof ChannelCosignError)) throw err;
      return encodeCosignAnswer(refusalOf(NO_CHANNEL, err));
    }
    return encodeCosignAnswer(await decide(request));
  };
}

async function decideNow(
  options: ChannelCosignDeskOptions,
  request: CosignRequest,
): Promise<CosignAnswer> {
  try {
    if (request.type === "last-claim") return await lastClaim(options, request);
    const signature = request.type === "cooperative-settle"
      ? await cosignSettle(options, request)
      : await cosignWithdraw(options, request);
    return { version: COSIGN_VERSION, type: "signed", channelId: request.channelId, signature };
  } catch (err) {
    if (err instanceof ChannelCosignError) return refusalOf(request.channelId, err);
    throw err;
  }
}

function refuse(reason: ChannelCosignError["reason"], message: string): never {
  throw new ChannelCosignError(reason, message);
}

/** The account's record, when the request names its channel (chain and contract included). */
function ownChannelOf(options: ChannelCosignDeskOptions, request: CosignRequest): ChannelRecord {
  const record = options.gate.record();
  if (request.channelId.toLowerCase() !== record.channelId.toLowerCase()) {
    refuse("unknown-channel", `channel ${request.channelId} is not this account's channel`);
  }
  if (request.chainId !== record.chainId) {
    refuse("wrong-chain", `chain ${request.chainId}, the channel is on ${record.chainId}`);
  }
  if (!sameAddress(request.tokenNetworkAddress, record.tokenNetworkAddress)) {
    refuse(
      "wrong-contract",
      `TokenNetwork ${request.tokenNetworkAddress}, expected ${record.tokenNetworkAddress}`,
    );
  }
  return record;
}

/** The channel, its record and its chain state, after the checks every request shares. */
async function openChannelOf(
  options: ChannelCosignDeskOptions,
  request: CosignRequest,
): Promise<{ record: ChannelRecord; onChain: OnChainChannel; domain: TokenNetworkDomain }> {
  const record = ownChannelOf(options, request);
  if (record.status === "settled" || record.status === "closed") {
    refuse("channel-not-open", `channel ${record.channelId} is ${record.status}`);
  }
  let onChain: OnChainChannel;
  try {
    onChain = await options.readChannel(record.channelId);
  } catch (err) {
    return refuse("chain-unavailable", `cannot read the channel on chain: ${err}`);
  }
  if (onChain.state === "none") {
    // Settled (cooperatively by the payer, most likely): the books follow the chain.
    await options.gate.update((r) => ({ ...r, status: "settled" }), {
      action: "settle",
      fields: { Cause: "ChannelSettled on chain" },
    });
    refuse("channel-not-open", `channel ${record.channelId} is settled on chain`);
  }
  if (onChain.state !== "opened") {
    refuse("channel-not-open", `channel ${record.channelId} is ${onChain.state} on chain`);
  }
  const domain = { chainId: record.chainId, verifyingContract: record.tokenNetworkAddress };
  return { record, onChain, domain };
}

async function cosignSettle(
  options: ChannelCosignDeskOptions,
  request: CooperativeSettleRequest,
): Promise<`0x${string}`> {
  const { record, onChain, domain } = await openChannelOf(options, request);
  if (
    !sameAddress(request.participant1, onChain.participant1) ||
    !sameAddress(request.participant2, onChain.participant2)
  ) {
    refuse(
      "wrong-participants",
      `participants must be ${onChain.participant1}, ${onChain.participant2} (the contract's order)`,
    );
  }
  const settle = await peerSignedMessage(request, record.peerAddress, domain);
  const frozen = record.status === "closing";
  const release = frozen ? () => {} : await options.gate.hold();
  try {
    // Checked on the locked shared book and marked closing with it, or on the gate's.
    await withBook(options, (book) => {
      checkFinal(options.gate.record(), book, request, onChain);
      return { ...book, closing: true };
    });
    if (!frozen) {
      await options.gate.update((r) => ({ ...r, status: "closing" }), {
        action: "close",
        fields: {
          Cosigned: "cooperative-settle",
          Transferred: request.transferredAmount.toString(),
          Nonce: request.nonce.toString(),
          Balance1: `${request.participant1} ${request.balance1}`,
          Balance2: `${request.participant2} ${request.balance2}`,
        },
      });
    }
  } finally {
    release();
  }
  return await signCosigned("cooperative-settle", settle, { account: options.signer.evm, domain });
}

/** The payer's final amount against the books, and the balances against the chain. */
function checkFinal(
  record: ChannelRecord,
  book: ClaimBook,
  request: CooperativeSettleRequest,
  onChain: OnChainChannel,
): void {
  if (book.forwarded > book.claimed) {
    refuse(
      "settle-credit-outstanding",
      `${book.forwarded - book.claimed} forwarded on credit beyond the claims (${book.claimed})`,
    );
  }
  // What was delivered (forwarded and not refused; nothing is in flight while the gate is held)
  // is what the payer owes: the newest claim may be above it by packets refused after their
  // claim was taken (docs/PROTOCOL.md "Cooperative close and withdraw").
  if (request.transferredAmount < book.forwarded || request.nonce < book.nonce) {
    refuse(
      "settle-below-claim",
      `final amount ${request.transferredAmount} (nonce ${request.nonce}) is below what was ` +
        `delivered, ${book.forwarded}, against the newest claim held, ${book.claimed} (nonce ` +
        `${book.nonce})`,
    );
  }
  const payer = participant(onChain, record.peerAddress);
  const self = participant(onChain, record.selfAddress);
  const payerLeft = payer.deposit - payer.withdrawn;
  if (request.transferredAmount > payerLeft) {
    refuse("beyond-deposit", `final amount ${request.transferredAmount} exceeds ${payerLeft}`);
  }
  const selfBalance = self.deposit - self.withdrawn + request.transferredAmount - record.sent;
  const payerBalance = payerLeft - request.transferredAmount + record.sent;
  const asked = new Map([
    [request.participant1.toLowerCase(), request.balance1],
    [request.participant2.toLowerCase(), request.balance2],
  ]);
  if (
    asked.get(record.selfAddress.toLowerCase()) !== selfBalance ||
    asked.get(record.peerAddress.toLowerCase()) !== payerBalance
  ) {
    refuse(
      "balances-mismatch",
      `the books give ${record.peerAddress} ${payerBalance} and ${record.selfAddress} ` +
        `${selfBalance} for a final amount of ${request.transferredAmount}`,
    );
  }
}

async function cosignWithdraw(
  options: ChannelCosignDeskOptions,
  request: WithdrawRequest,
): Promise<`0x${string}`> {
  const { record, onChain, domain } = await openChannelOf(options, request);
  if (record.status !== "open") {
    refuse("channel-closing", `channel ${record.channelId} is ${record.status}`);
  }
  if (!sameAddress(request.participant, record.peerAddress)) {
    refuse("wrong-participants", `only the payer ${record.peerAddress} withdraws here`);
  }
  const withdraw = await peerSignedMessage(request, record.peerAddress, domain);
  const now = options.chainTime
    ? await options.chainTime().catch((err) => refuse("chain-unavailable", `${err}`))
    : BigInt(Math.floor(Date.now() / 1000));
  if (request.expiration <= now || request.expiration > now + MAX_WITHDRAW_EXPIRY_SECONDS) {
    refuse(
      "withdraw-expiration",
      `expiration ${request.expiration} must be after the chain's clock ${now} and at most ` +
        `${MAX_WITHDRAW_EXPIRY_SECONDS} s ahead`,
    );
  }
  const release = await options.gate.hold();
  try {
    const payer = participant(onChain, record.peerAddress);
    // Checked on the locked shared book and raised there, or on the gate's: persisted, then
    // the cap lowered, before the signature leaves, so a restart or a claim that arrives next
    // (on any process) never counts on tokens that may be gone.
    await withBook(options, (book) => {
      if (book.closing) refuse("channel-closing", `channel ${record.channelId} is closing`);
      const current = max(
        max(options.gate.record().peerWithdrawn, payer.withdrawn),
        book.peerWithdrawn ?? 0n,
      );
      if (request.totalWithdraw <= current) {
        refuse(
          "withdraw-not-increasing",
          `total ${request.totalWithdraw} is not above the ${current} already withdrawn`,
        );
      }
      const onCredit = book.forwarded - book.claimed;
      if (onCredit > 0n) {
        refuse(
          "settle-credit-outstanding",
          `${onCredit} forwarded on credit beyond the claims (${book.claimed})`,
        );
      }
      if (payer.deposit - request.totalWithdraw < book.claimed) {
        refuse(
          "withdraw-uncovers-claims",
          `withdrawing ${request.totalWithdraw} of the deposit ${payer.deposit} would leave less ` +
            `than the ${book.claimed} already claimed`,
        );
      }
      return { ...book, peerWithdrawn: request.totalWithdraw };
    });
    await options.gate.update((r) => ({ ...r, peerWithdrawn: request.totalWithdraw }), {
      action: "withdraw",
      fields: {
        Cosigned: "withdraw",
        TotalWithdraw: request.totalWithdraw.toString(),
        Expiration: request.expiration.toString(),
      },
    });
    options.gate.verifier.noteWithdraw(record.channelId, request.totalWithdraw);
  } finally {
    release();
  }
  return await signCosigned("withdraw", withdraw, { account: options.signer.evm, domain });
}

async function lastClaim(
  options: ChannelCosignDeskOptions,
  request: LastClaimRequest,
): Promise<CosignLastClaim> {
  ownChannelOf(options, request);
  // Claims accepted but not yet written are waited for: the answer is what a restart would keep.
  const release = await options.gate.hold();
  let record: ChannelRecord;
  let delivered: bigint;
  try {
    record = options.gate.record();
    const shared = await sharedBook(options, record.channelId);
    delivered = (shared ?? booksOf(options.gate)).forwarded;
    // Another process may have taken newer claims than this one's file holds.
    if (shared !== undefined && shared.nonce > record.receivedNonce) {
      record = {
        ...record,
        received: shared.claimed,
        receivedNonce: shared.nonce,
        receivedSignature: shared.signature,
      };
    }
  } finally {
    release();
  }
  const answer: CosignLastClaim = {
    version: COSIGN_VERSION,
    type: "claim",
    channelId: request.channelId,
    nonce: 0n,
    transferredAmount: 0n,
  };
  if (record.receivedNonce === 0n) return answer;
  if (!record.receivedSignature) {
    // The nonce came from the chain (this town's file was itself recovered): nothing to prove it.
    refuse(
      "internal-error",
      `the newest claim held (nonce ${record.receivedNonce}) has no signature on file`,
    );
  }
  return {
    ...answer,
    nonce: record.receivedNonce,
    transferredAmount: record.received,
    signature: record.receivedSignature,
    delivered: delivered < record.received ? delivered : record.received,
  };
}

function booksOf(gate: ChannelClaimGate): ClaimBook {
  const record = gate.record();
  return gate.verifier.book(record.channelId) ?? recordClaimBook(record);
}

/**
 * Runs `decide` on the channel's book: on shared books the locked row, which gets what it
 * returns in the same transaction (nothing when it refuses); else the gate's, read only.
 */
async function withBook(
  options: ChannelCosignDeskOptions,
  decide: (book: ClaimBook) => ClaimBook,
): Promise<void> {
  const shared = options.sharedBooks;
  const local = booksOf(options.gate);
  if (shared === undefined) {
    decide(local);
    return;
  }
  try {
    await shared.update(local.channelId, local, decide);
  } catch (err) {
    if (err instanceof ChannelCosignError) throw err;
    unreachable(err);
  }
}

/** The shared book of the channel, when the town has shared books and one was written. */
async function sharedBook(
  options: ChannelCosignDeskOptions,
  channelId: `0x${string}`,
): Promise<ClaimBook | undefined> {
  if (options.sharedBooks === undefined) return undefined;
  try {
    return await options.sharedBooks.read(channelId);
  } catch (err) {
    return unreachable(err);
  }
}

function unreachable(err: unknown): never {
  refuse("internal-error", `the town's shared channel books are unreachable: ${err}`);
}

/** The request's message, once the payer's signature over it recovers to the channel's peer. */
async function peerSignedMessage<T extends CosignedType>(
  request: CosignedRequestOf<T> & { type: T },
  peer: `0x${string}`,
  domain: TokenNetworkDomain,
): Promise<CosignedMessages[T]> {
  const message = cosignedMessageOf(request.type, request);
  const mismatch = await signerMismatch(
    () => recoverCosignedSigner(request.type, message, request.signature, domain),
    peer,
  );
  if (mismatch !== undefined) {
    refuse("bad-signature", describeSignerMismatch(mismatch, `the channel peer ${peer}`));
  }
  return message;
}

function participant(
  onChain: OnChainChannel,
  address: `0x${string}`,
): { deposit: bigint; withdrawn: bigint } {
  const p = onChain.participants[address.toLowerCase()];
  if (!p) refuse("wrong-participants", `${address} is not in channel ${onChain.channelId}`);
  return { deposit: p.deposit, withdrawn: p.withdrawn ?? 0n };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

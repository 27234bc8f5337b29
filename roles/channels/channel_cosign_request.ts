/**
 * The payer's side of `payment-channel-cosign` (protocol/payment_channel_cosign.ts): asks the
 * channel's BTP peer (the town) to co-sign final balances or a withdraw, checks that the
 * signature returned recovers to the peer's address before using it; the transaction and the
 * channel file's record are roles/channels/channel_cosign_chain.ts's.
 *
 * Final balances come from the chain (deposits, withdrawn, participant order) and this node's
 * books: it pays its peer the cumulative amount of its newest claim (`sent`) and is paid the
 * peer's newest claim it holds (`received`).
 *
 * {@linkcode requestLastClaim} asks the peer for the newest claim of ours it holds (a payer that
 * lost its channel file rebuilds `sent`/`sentNonce` from it): the claim is used only when its
 * signature recovers to our own address.
 *
 * Every failure is a {@linkcode ChannelCosignError}: the peer's refusal keeps the peer's reason
 * token (`fromPeer`), an unreachable or silent peer is `peer-unavailable`, a BTP ERROR is
 * `peer-error`, a signature of someone else is `bad-peer-signature`.
 *
 * @module
 */
import type { NodeSigner } from "../../protocol/node_signer.ts";
import {
  BalanceProofSignatureError,
  type CooperativeSettle,
  type Hex,
  recoverBalanceProofSignerFast,
  type TokenNetworkDomain,
  type Withdraw,
} from "../../chain/balance_proof.ts";
import type { OnChainChannel } from "../../chain/token_network_client.ts";
import { BtpContentType, type BtpProtocolData } from "../../protocol/btp_message.ts";
import {
  ChannelCosignError,
  COSIGN_PROTOCOL_NAME,
  COSIGN_VERSION,
  type CosignAnswer,
  type CosignChannelRef,
  type CosignRequest,
  decodeCosignAnswer,
  encodeCosignRequest,
} from "../../protocol/payment_channel_cosign.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { BtpRemoteError } from "../../transport/btp_client.ts";
import { describeSignerMismatch, sameAddress, signerMismatch } from "../../chain/signer_check.ts";
import {
  type CosignedContext,
  type CosignedMessages,
  cosignedRequestBody,
  type CosignedType,
  recoverCosignedSigner,
  signCosigned,
} from "./channel_cosign_messages.ts";

/** Default wait for the peer's answer. */
export const DEFAULT_COSIGN_TIMEOUT_MS = 10_000;
/** Default validity of a withdraw signature, from the chain's clock. */
export const DEFAULT_WITHDRAW_EXPIRY_SECONDS = 3_600n;

/** What sends the request: `BtpClient` fits. */
export interface CosignTransport {
  sendMessage(
    protocolData: BtpProtocolData[],
    options?: { timeoutMs?: number },
  ): Promise<BtpProtocolData[]>;
}

/** Options shared by the requests. */
export interface CosignRequestOptions {
  /** Connected to the channel's peer. */
  peer: CosignTransport;
  /** This node's channel file (the payer's side). */
  record: ChannelRecord;
  /** This node's key (the record's self address). */
  signer: NodeSigner;
  /** The channel as the chain holds it now (`TokenNetworkClient.getChannel`). */
  onChain: OnChainChannel;
  /** Wait for the answer. Default {@linkcode DEFAULT_COSIGN_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Final balances both sides signed. */
export interface CooperativeSettleAgreement {
  settle: CooperativeSettle;
  signature1: `0x${string}`;
  signature2: `0x${string}`;
  /** What this node pays in the end (its newest claim, or what the peer delivered if less). */
  transferredAmount: bigint;
}

/** Options for {@linkcode requestWithdraw}. */
export interface WithdrawRequestOptions extends CosignRequestOptions {
  /** New cumulative withdrawal of this node. */
  totalWithdraw: bigint;
  /** Unix seconds (chain clock) after which the signatures expire. */
  expiration: bigint;
}

/** A withdraw both sides signed. */
export interface WithdrawAgreement {
  withdraw: Withdraw;
  participantSignature: `0x${string}`;
  partnerSignature: `0x${string}`;
}

/**
 * The final balances of a channel as the chain and this node's books give them, in the
 * contract's participant order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalBalances } from "./channel_cosign_request.ts";
 * import type { OnChainChannel } from "../../chain/token_network_client.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * const onChain: OnChainChannel = { channelId: record.channelId, state: "opened" as const, participant1: self,
 *   participant2: peer, settleTimeout: 3600n, settleAt: 0n, closer: peer, participants: {
 *     [self]: { deposit: 1000n, withdrawn: 0n, nonce: 0n, transferredAmount: 0n },
 *     [peer]: { deposit: 500n, withdrawn: 0n, nonce: 0n, transferredAmount: 0n },
 *   } };
 * // 100 sent to the peer: both deposits, 1500, split 900 / 600.
 * const settle = finalBalances({ ...record, sent: 100n, sentNonce: 1n }, onChain);
 * assert.deepEqual([settle.balance1, settle.balance2], [900n, 600n]);
 * ```
 */
export function finalBalances(record: ChannelRecord, onChain: OnChainChannel): CooperativeSettle {
  const self = onChain.participants[record.selfAddress.toLowerCase()];
  const peer = onChain.participants[record.peerAddress.toLowerCase()];
  if (!self || !peer) {
    throw new ChannelCosignError(
      "wrong-participants",
      `channel ${record.channelId} on chain is not between ${record.selfAddress} and ${record.peerAddress}`,
    );
  }
  const selfBalance = self.deposit - (self.withdrawn ?? 0n) - record.sent + record.received;
  const peerBalance = peer.deposit - (peer.withdrawn ?? 0n) + record.sent - record.received;
  const selfFirst = sameAddress(onChain.participant1, record.selfAddress);
  return {
    channelId: record.channelId,
    participant1: onChain.participant1,
    balance1: selfFirst ? selfBalance : peerBalance,
    participant2: onChain.participant2,
    balance2: selfFirst ? peerBalance : selfBalance,
  };
}

/**
 * Asks the peer to co-sign the final balances; resolves with both signatures in the contract's
 * order once the peer's recovers to the peer.
 *
 * It needs a chain and the channel's peer: no example that runs here:
 * tests/interop/anvil_channel_cooperative_close_test.ts.
 * @throws {ChannelCosignError} when the peer refuses, does not answer, or signs wrongly.
 */
export async function requestCooperativeSettle(
  options: CosignRequestOptions,
): Promise<CooperativeSettleAgreement> {
  const { record } = options;
  const settle = finalBalances(record, options.onChain);
  const { mine, theirs } = await cosignWithPeer(options, "cooperative-settle", settle, {
    transferredAmount: record.sent,
    nonce: record.sentNonce,
  });
  const selfFirst = sameAddress(settle.participant1, record.selfAddress);
  return {
    settle,
    signature1: selfFirst ? mine : theirs,
    signature2: selfFirst ? theirs : mine,
    transferredAmount: record.sent,
  };
}

/**
 * Asks the peer to co-sign a withdraw of this node; resolves once the peer's signature recovers
 * to the peer.
 *
 * It needs a chain and the channel's peer: no example that runs here:
 * tests/interop/anvil_channel_cooperative_close_test.ts.
 * @throws {ChannelCosignError} when the peer refuses, does not answer, or signs wrongly.
 */
export async function requestWithdraw(options: WithdrawRequestOptions): Promise<WithdrawAgreement> {
  const { record } = options;
  const withdraw: Withdraw = {
    channelId: record.channelId,
    participant: record.selfAddress,
    totalWithdraw: options.totalWithdraw,
    expiration: options.expiration,
  };
  const { mine, theirs } = await cosignWithPeer(options, "withdraw", withdraw, {});
  return { withdraw, participantSignature: mine, partnerSignature: theirs };
}

/** Options for {@linkcode requestLastClaim}. */
export interface LastClaimRequestOptions {
  /** Connected to the channel's peer. */
  peer: CosignTransport;
  /** This node's channel record (the payer's side; from the chain when the file was lost). */
  record: ChannelRecord;
  /** Wait for the answer. Default {@linkcode DEFAULT_COSIGN_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** The newest claim of ours the peer holds. */
export interface LastClaim {
  /** 0: the peer holds none. */
  nonce: bigint;
  /** Cumulative amount of that claim. */
  transferredAmount: bigint;
  /** Our EIP-712 `BalanceProof` signature of it (absent when `nonce` is 0). */
  signature?: `0x${string}`;
  /** What the peer counts as delivered against it (absent: older peers, take the claim). */
  delivered?: bigint;
}

/**
 * Asks the peer for the newest claim of ours it holds; resolves once its signature recovers to
 * this node's own address (`record.selfAddress`) in the channel's EIP-712 domain.
 *
 * It needs the channel's peer: no example that runs here:
 * tests/unit/identity/channel_last_claim_test.ts.
 * @throws {ChannelCosignError} when the peer refuses or does not answer (`peer-unavailable`,
 * `peer-error`), or the claim is not ours (`bad-peer-signature`).
 */
export async function requestLastClaim(options: LastClaimRequestOptions): Promise<LastClaim> {
  const { record } = options;
  const answer = await ask(options, { type: "last-claim" });
  if (answer.type !== "claim") {
    throw new ChannelCosignError("peer-error", `expected a claim, the answer is "${answer.type}"`);
  }
  const { nonce, transferredAmount, signature, delivered } = answer;
  if (signature === undefined) return { nonce, transferredAmount };
  let signer: string;
  try {
    signer = recoverBalanceProofSignerFast(
      { channelId: record.channelId, nonce, transferredAmount },
      signature,
      domainOf(record),
    );
  } catch (err) {
    if (!(err instanceof BalanceProofSignatureError)) throw err;
    throw new ChannelCosignError("bad-peer-signature", err.message);
  }
  if (!sameAddress(signer, record.selfAddress)) {
    throw new ChannelCosignError(
      "bad-peer-signature",
      `the claim returned (nonce ${nonce}) is signed by ${signer}, not by this node ` +
        `${record.selfAddress}`,
    );
  }
  return { nonce, transferredAmount, signature, ...(delivered !== undefined ? { delivered } : {}) };
}

/**
 * Signs the message, sends it about the record's channel with its unsigned context and returns
 * both signatures, once the peer's recovers to the peer.
 */
async function cosignWithPeer<T extends CosignedType>(
  options: CosignRequestOptions,
  type: T,
  message: CosignedMessages[T],
  context: CosignedContext<T>,
): Promise<{ mine: Hex; theirs: Hex }> {
  const domain = domainOf(options.record);
  const mine = await signCosigned(type, message, { account: options.signer.evm, domain });
  const answer = await ask(options, cosignedRequestBody(type, message, context, mine));
  if (answer.type !== "signed") {
    throw new ChannelCosignError(
      "peer-error",
      `expected a signature, the answer is "${answer.type}"`,
    );
  }
  const theirs = answer.signature;
  await checkPeerSigner(
    () => recoverCosignedSigner(type, message, theirs, domain),
    options.record.peerAddress,
  );
  return { mine, theirs };
}

/** A request's own fields: the channel it is about is the record's. */
type RequestBody<R extends CosignRequest = CosignRequest> = R extends CosignRequest
  ? Omit<R, keyof CosignChannelRef>
  : never;

/** The peer's answer to a request, unless it refused (then a {@linkcode ChannelCosignError}). */
async function ask(
  options: Pick<CosignRequestOptions, "peer" | "timeoutMs" | "record">,
  body: RequestBody,
): Promise<Exclude<CosignAnswer, { type: "refused" }>> {
  const { record } = options;
  const request = {
    version: COSIGN_VERSION,
    channelId: record.channelId,
    chainId: record.chainId,
    tokenNetworkAddress: record.tokenNetworkAddress,
    ...body,
  } as CosignRequest;
  const data = encodeCosignRequest(request);
  let reply: BtpProtocolData[];
  try {
    reply = await options.peer.sendMessage(
      [{ protocolName: COSIGN_PROTOCOL_NAME, contentType: BtpContentType.json, data }],
      { timeoutMs: options.timeoutMs ?? DEFAULT_COSIGN_TIMEOUT_MS },
    );
  } catch (err) {
    if (err instanceof BtpRemoteError) {
      throw new ChannelCosignError("peer-error", err.message);
    }
    throw new ChannelCosignError("peer-unavailable", (err as Error).message);
  }
  const entry = reply.find((p) => p.protocolName === COSIGN_PROTOCOL_NAME);
  if (!entry) throw new ChannelCosignError("peer-error", "the answer carries no co-sign data");
  let answer;
  try {
    answer = decodeCosignAnswer(entry.data);
  } catch (err) {
    throw new ChannelCosignError("peer-error", `bad answer: ${(err as Error).message}`);
  }
  if (answer.type === "refused") {
    throw new ChannelCosignError(answer.reason, answer.message, { fromPeer: true });
  }
  if (answer.channelId.toLowerCase() !== request.channelId.toLowerCase()) {
    throw new ChannelCosignError("peer-error", `the answer is for channel ${answer.channelId}`);
  }
  return answer;
}

async function checkPeerSigner(recover: () => Promise<string>, peer: string): Promise<void> {
  const mismatch = await signerMismatch(recover, peer);
  if (mismatch !== undefined) {
    throw new ChannelCosignError(
      "bad-peer-signature",
      describeSignerMismatch(mismatch, `the peer ${peer}`),
    );
  }
}

function domainOf(record: ChannelRecord): TokenNetworkDomain {
  return { chainId: record.chainId, verifyingContract: record.tokenNetworkAddress };
}

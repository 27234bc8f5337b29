/**
 * The two messages a payment channel's parties sign together over `payment-channel-cosign`
 * (protocol/payment_channel_cosign.ts): the final balances of a cooperative settle and a
 * withdraw. For each, how a request carries its message and how the message is signed and its
 * signer recovered (EIP-712, chain/balance_proof.ts). The payer that asks
 * (roles/channels/channel_cosign_request.ts) and the town that answers (roles/town/channels/channel_cosign_desk.ts)
 * both go through this one table, so the two sides always sign the same message for a request.
 *
 * @module
 */
import {
  type CooperativeSettle,
  type Hex,
  recoverCooperativeSettleSigner,
  recoverWithdrawSigner,
  signCooperativeSettle,
  type SignOptions,
  signWithdraw,
  type TokenNetworkDomain,
  type Withdraw,
} from "../../chain/balance_proof.ts";
import type {
  CooperativeSettleRequest,
  CosignChannelRef,
  CosignRequestBase,
  WithdrawRequest,
} from "../../protocol/payment_channel_cosign.ts";

/** A request whose message both parties sign. */
export type CosignedRequest = CooperativeSettleRequest | WithdrawRequest;

/** What such a request asks for: `cooperative-settle` or `withdraw`. */
export type CosignedType = CosignedRequest["type"];

/** The request of each type. */
export type CosignedRequestOf<T extends CosignedType> = Extract<CosignedRequest, { type: T }>;

/** The message each type of request carries. */
export interface CosignedMessages {
  "cooperative-settle": CooperativeSettle;
  withdraw: Withdraw;
}

/**
 * What a request says besides its channel, its message and the signature: context the peer
 * checks against its books, not signed (a settle's final claim; nothing for a withdraw).
 */
export type CosignedContext<T extends CosignedType> = Omit<
  CosignedRequestOf<T>,
  keyof CosignRequestBase | "type" | keyof CosignedMessages[T]
>;

type CosignedRequestBodies = {
  [T in CosignedType]: Omit<CosignedRequestOf<T>, keyof CosignChannelRef>;
};

/** A request's own fields: all but its channel, which who sends it adds. */
export type CosignedRequestBody<T extends CosignedType = CosignedType> = CosignedRequestBodies[T];

interface CosignedKind<T extends CosignedType> {
  messageOf(request: CosignedRequestOf<T>): CosignedMessages[T];
  bodyOf(
    message: CosignedMessages[T],
    context: CosignedContext<T>,
    signature: Hex,
  ): CosignedRequestBody<T>;
  sign(message: CosignedMessages[T], options: SignOptions): Promise<Hex>;
  recover(message: CosignedMessages[T], signature: Hex, domain: TokenNetworkDomain): Promise<Hex>;
}

const KINDS: { [T in CosignedType]: CosignedKind<T> } = {
  "cooperative-settle": {
    messageOf: (request) => ({
      channelId: request.channelId,
      participant1: request.participant1,
      balance1: request.balance1,
      participant2: request.participant2,
      balance2: request.balance2,
    }),
    bodyOf: (settle, context, signature) => ({
      type: "cooperative-settle",
      participant1: settle.participant1,
      balance1: settle.balance1,
      participant2: settle.participant2,
      balance2: settle.balance2,
      transferredAmount: context.transferredAmount,
      nonce: context.nonce,
      signature,
    }),
    sign: signCooperativeSettle,
    recover: recoverCooperativeSettleSigner,
  },
  withdraw: {
    messageOf: (request) => ({
      channelId: request.channelId,
      participant: request.participant,
      totalWithdraw: request.totalWithdraw,
      expiration: request.expiration,
    }),
    bodyOf: (withdraw, _context, signature) => ({
      type: "withdraw",
      participant: withdraw.participant,
      totalWithdraw: withdraw.totalWithdraw,
      expiration: withdraw.expiration,
      signature,
    }),
    sign: signWithdraw,
    recover: recoverWithdrawSigner,
  },
};

function kindOf<T extends CosignedType>(type: T): CosignedKind<T> {
  return KINDS[type];
}

/**
 * The message a request asks to have co-signed (the signed fields only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosignedMessageOf } from "./channel_cosign_messages.ts";
 * import { COSIGN_VERSION, type WithdrawRequest } from "../../protocol/payment_channel_cosign.ts";
 *
 * const request: WithdrawRequest = { type: "withdraw", version: COSIGN_VERSION,
 *   channelId: `0x${"ab".repeat(32)}`, chainId: 31337, tokenNetworkAddress: `0x${"cd".repeat(20)}`,
 *   participant: `0x${"a1".repeat(20)}`, totalWithdraw: 400n, expiration: 1_000n,
 *   signature: `0x${"00".repeat(65)}` };
 * assert.deepEqual(cosignedMessageOf("withdraw", request), { channelId: request.channelId,
 *   participant: request.participant, totalWithdraw: 400n, expiration: 1_000n });
 * ```
 */
export function cosignedMessageOf<T extends CosignedType>(
  type: T,
  request: CosignedRequestOf<T>,
): CosignedMessages[T] {
  return kindOf(type).messageOf(request);
}

/**
 * The request's own fields that ask to co-sign `message`: the message (but its channel), the
 * unsigned context and the asker's signature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosignedRequestBody, signCosigned } from "./channel_cosign_messages.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const withdraw = { channelId: `0x${"ab".repeat(32)}` as const, participant: account.address,
 *   totalWithdraw: 400n, expiration: 1_000n };
 * const mine = await signCosigned("withdraw", withdraw, { account, domain });
 * const body = cosignedRequestBody("withdraw", withdraw, {}, mine);
 * assert.deepEqual(body, { type: "withdraw", participant: account.address, totalWithdraw: 400n,
 *   expiration: 1_000n, signature: mine });
 * ```
 */
export function cosignedRequestBody<T extends CosignedType>(
  type: T,
  message: CosignedMessages[T],
  context: CosignedContext<T>,
  signature: Hex,
): CosignedRequestBody<T> {
  return kindOf(type).bodyOf(message, context, signature);
}

/**
 * Signs the message with this node's key, in the channel's EIP-712 domain.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 * import { recoverCosignedSigner, signCosigned } from "./channel_cosign_messages.ts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const settle = { channelId: `0x${"ab".repeat(32)}` as const, participant1: account.address,
 *   balance1: 600n, participant2: `0x${"b2".repeat(20)}` as const, balance2: 400n };
 * const mine = await signCosigned("cooperative-settle", settle, { account, domain });
 * assert.equal(await recoverCosignedSigner("cooperative-settle", settle, mine, domain), account.address);
 * ```
 */
export async function signCosigned<T extends CosignedType>(
  type: T,
  message: CosignedMessages[T],
  options: SignOptions,
): Promise<Hex> {
  return await kindOf(type).sign(message, options);
}

/**
 * The address whose signature over the message `signature` is; throws
 * `BalanceProofSignatureError` when it cannot be recovered (a high-s one included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverCosignedSigner, signCosigned } from "./channel_cosign_messages.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const withdraw = { channelId: `0x${"ab".repeat(32)}` as const, participant: account.address,
 *   totalWithdraw: 400n, expiration: 1_000n };
 * const signature = await signCosigned("withdraw", withdraw, { account, domain });
 * assert.equal(await recoverCosignedSigner("withdraw", withdraw, signature, domain), account.address);
 * ```
 */
export async function recoverCosignedSigner<T extends CosignedType>(
  type: T,
  message: CosignedMessages[T],
  signature: Hex,
  domain: TokenNetworkDomain,
): Promise<Hex> {
  return await kindOf(type).recover(message, signature, domain);
}

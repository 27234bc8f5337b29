/**
 * A co-sign request (protocol/payment_channel_cosign.ts) reaching a process of a town on several
 * processes that holds no gate for the channel it names: the other processes took every claim on
 * it (docs/OPERATIONS.md "A town on several machines"). What the shared books say of the channel
 * is all this process knows, so:
 *
 * - a last claim is answered from the books (their newest claim and what was delivered against
 *   it), nothing learned: the request proves nothing of the payer's, so it binds the channel to no
 *   account;
 * - a settle or a withdraw must be signed by the signer of the books' newest claim (the channel's
 *   payer) before the channel is learned from that claim (roles/town/channels/town_channel_registry.ts)
 *   and the request answered by its desk, from the books (channel_cosign_desk.ts).
 *
 * @module
 */
import { recoverBalanceProofSignerKey } from "../../../chain/balance_proof.ts";
import { sameAddress } from "../../../chain/signer_check.ts";
import {
  ChannelCosignError,
  type CooperativeSettleRequest,
  COSIGN_VERSION,
  type CosignAnswer,
  type CosignReason,
  type CosignRequest,
  type WithdrawRequest,
} from "../../../protocol/payment_channel_cosign.ts";
import type {
  ClaimError,
  ClaimRejectReason,
  PaymentChannelClaim,
} from "../../../protocol/payment_channel_claim.ts";
import type { ClaimBook } from "../../../state/channels/channel_book.ts";
import {
  cosignedMessageOf,
  recoverCosignedSigner,
} from "../../channels/channel_cosign_messages.ts";

/**
 * The books' newest claim as a claim on the request's channel, chain and contract (`token`: the
 * town's on that chain), to learn the channel from. The book must hold a signed claim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimOfBook } from "./shared_book_cosign.ts";
 *
 * const request = { version: 1, type: "last-claim" as const, channelId: `0x${"ab".repeat(32)}` as const,
 *   chainId: 31337, tokenNetworkAddress: `0x${"cd".repeat(20)}` as const };
 * const book = { channelId: request.channelId, nonce: 3n, claimed: 900n, forwarded: 700n,
 *   signature: `0x${"11".repeat(65)}` as const };
 * const claim = claimOfBook(request, book, `0x${"ee".repeat(20)}`);
 * assert.deepEqual([claim.nonce, claim.transferredAmount], [3n, 900n]);
 * ```
 */
export function claimOfBook(
  request: CosignRequest,
  book: ClaimBook & { signature: `0x${string}` },
  token: `0x${string}`,
): PaymentChannelClaim {
  return {
    version: 1,
    messageId: "shared-books",
    timestamp: new Date().toISOString(),
    chainId: request.chainId,
    tokenNetworkAddress: request.tokenNetworkAddress,
    tokenAddress: token,
    channelId: request.channelId.toLowerCase() as `0x${string}`,
    nonce: book.nonce,
    transferredAmount: book.claimed,
    signature: book.signature,
  };
}

/**
 * The books' newest claim and what was delivered against it, as a desk answers a last claim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastClaimOfBook } from "./shared_book_cosign.ts";
 *
 * const request = { version: 1, type: "last-claim" as const, channelId: `0x${"ab".repeat(32)}` as const,
 *   chainId: 31337, tokenNetworkAddress: `0x${"cd".repeat(20)}` as const };
 * const answer = lastClaimOfBook(request, { channelId: request.channelId, nonce: 3n, claimed: 900n,
 *   forwarded: 700n, signature: `0x${"11".repeat(65)}` });
 * assert.ok(answer.type === "claim" && answer.delivered === 700n);
 * ```
 */
export function lastClaimOfBook(request: CosignRequest, book: ClaimBook): CosignAnswer {
  return {
    version: COSIGN_VERSION,
    type: "claim",
    channelId: request.channelId,
    nonce: book.nonce,
    transferredAmount: book.claimed,
    signature: book.signature,
    delivered: book.forwarded < book.claimed ? book.forwarded : book.claimed,
  };
}

/**
 * Resolves when the request is signed by the signer of `claim` (the books' newest: the channel's
 * payer); else a `bad-signature` {@linkcode ChannelCosignError}, before anything is learned.
 *
 * It needs signed messages of a channel: no example that runs here:
 * tests/e2e/town_shared_learned_cosign_test.ts.
 */
export async function checkSignedByPayer(
  request: CooperativeSettleRequest | WithdrawRequest,
  claim: PaymentChannelClaim,
): Promise<void> {
  const domain = { chainId: claim.chainId, verifyingContract: claim.tokenNetworkAddress };
  let payer: `0x${string}`;
  let signer: `0x${string}`;
  try {
    payer = recoverBalanceProofSignerKey(claim, claim.signature, domain).address;
    signer = await recoverCosignedSigner(
      request.type,
      cosignedMessageOf(request.type, request),
      request.signature,
      domain,
    );
  } catch (err) {
    throw new ChannelCosignError("bad-signature", `the request's signature: ${err}`);
  }
  if (!sameAddress(signer, payer)) {
    throw new ChannelCosignError(
      "bad-signature",
      `signed by ${signer}, not by the payer of channel ${claim.channelId}`,
    );
  }
}

/** A claim's reason as a co-sign refusal's, where one says the same; the rest `unknown-channel`. */
const COSIGN_REASON_OF: Partial<Record<ClaimRejectReason, CosignReason>> = {
  "wrong-chain": "wrong-chain",
  "wrong-contract": "wrong-contract",
  "channel-not-open": "channel-not-open",
  "beyond-deposit": "beyond-deposit",
  "chain-unavailable": "chain-unavailable",
  "bad-signature": "bad-signature",
};

/**
 * A learning's refusal as a co-sign refusal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
 * import { cosignErrorOf } from "./shared_book_cosign.ts";
 *
 * assert.equal(cosignErrorOf(new ClaimError("channel-in-use", "another's")).reason, "unknown-channel");
 * assert.equal(cosignErrorOf(new ClaimError("chain-unavailable", "down")).reason, "chain-unavailable");
 * ```
 */
export function cosignErrorOf(err: ClaimError): ChannelCosignError {
  return new ChannelCosignError(COSIGN_REASON_OF[err.reason] ?? "unknown-channel", err.message);
}

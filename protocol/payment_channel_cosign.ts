/**
 * The BTP protocol-data entry `payment-channel-cosign`: the payer of a payment channel asks its
 * BTP peer (the receiver, normally the town) to co-sign final balances (cooperative settle) or a
 * withdraw while the channel stays open, or to hand back the newest claim of the payer it holds
 * (`last-claim`, for a payer rebuilding its channel file), and gets the peer's signature, the
 * claim or a refusal back, in the RESPONSE of the same MESSAGE. Content type `application/json` (BTP content type 2), UTF-8, at
 * most {@linkcode MAX_COSIGN_BYTES} bytes. Amounts are decimal strings (uint256).
 *
 * ```json
 * { "version": 1, "type": "cooperative-settle", "channelId": "0x..", "chainId": 31337,
 *   "tokenNetworkAddress": "0x..", "participant1": "0x..", "balance1": "49000000",
 *   "participant2": "0x..", "balance2": "1000000", "transferredAmount": "1000000",
 *   "nonce": "12", "signature": "0x<130 hex>" }
 * { "version": 1, "type": "withdraw", "channelId": "0x..", "chainId": 31337,
 *   "tokenNetworkAddress": "0x..", "participant": "0x..", "totalWithdraw": "10000000",
 *   "expiration": "1767225600", "signature": "0x<130 hex>" }
 * { "version": 1, "type": "last-claim", "channelId": "0x..", "chainId": 31337,
 *   "tokenNetworkAddress": "0x.." }
 * { "version": 1, "type": "signed", "channelId": "0x..", "signature": "0x<130 hex>" }
 * { "version": 1, "type": "claim", "channelId": "0x..", "nonce": "12",
 *   "transferredAmount": "1000000", "signature": "0x<130 hex>", "delivered": "990000" }
 * { "version": 1, "type": "refused", "channelId": "0x..", "reason": "settle-below-claim",
 *   "message": "..." }
 * ```
 *
 * `participant1`/`participant2` are in the contract's order (`getChannel`); `signature` of a
 * request is the payer's EIP-712 signature over `CooperativeSettle` or `Withdraw`
 * (chain/balance_proof.ts), of an answer the peer's over the same message. `last-claim` carries
 * no signature: the BTP connection is authenticated as the account, and the answer is the payer's
 * own EIP-712 `BalanceProof` signature of its newest claim the peer holds (the payer checks it
 * recovers to itself); `nonce` "0", `transferredAmount` "0" and no `signature` when the peer
 * holds none. Unknown fields are ignored. Decoding checks the
 * shape only; the peer's desk (roles/town/channels/channel_cosign_desk.ts) checks the rest. Every
 * rejection is a {@linkcode ChannelCosignError} whose `reason` is a {@linkcode CosignReason}.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { ClaimChannel } from "./payment_channel_claim.ts";
import { decodeVersionedJson, numberField, stringField, uintField } from "./versioned_json.ts";

/** BTP protocol-data name of the exchange. */
export const COSIGN_PROTOCOL_NAME = "payment-channel-cosign";
/** Format version this code writes and reads. */
export const COSIGN_VERSION = 1;
/** Largest encoded request or answer accepted (a real one is ~600 bytes). */
export const MAX_COSIGN_BYTES = 4096;
/** Longest refusal message kept. */
export const MAX_COSIGN_MESSAGE_LENGTH = 500;
/** The channel a refusal names when the request named none it could read (all zeros). */
export const NO_CHANNEL: `0x${string}` = `0x${"00".repeat(32)}`;

const UINT256_MAX = 2n ** 256n - 1n;

/** Fields every request carries: the channel it is about. */
export interface CosignChannelRef
  extends Pick<ClaimChannel, "channelId" | "chainId" | "tokenNetworkAddress"> {
  /** Format version, {@linkcode COSIGN_VERSION}. */
  version: number;
}

/** Fields every request to co-sign carries. */
export interface CosignRequestBase extends CosignChannelRef {
  /** The payer's EIP-712 signature over the message. */
  signature: `0x${string}`;
}

/** Final balances for `cooperativeSettle`, in the contract's participant order. */
export interface CooperativeSettleRequest extends CosignRequestBase {
  /** Discriminant. */
  type: "cooperative-settle";
  /** The channel's participant1, as `getChannel` returns it. */
  participant1: `0x${string}`;
  /** What participant1 receives at settle, token base units. */
  balance1: bigint;
  /** The channel's participant2. */
  participant2: `0x${string}`;
  /** What participant2 receives at settle, token base units. */
  balance2: bigint;
  /** The payer's final cumulative claim (what it believes it paid). */
  transferredAmount: bigint;
  /** Nonce of that claim. */
  nonce: bigint;
}

/** A withdraw for `setTotalWithdraw` while the channel stays open. */
export interface WithdrawRequest extends CosignRequestBase {
  /** Discriminant. */
  type: "withdraw";
  /** The participant taking tokens out (the payer). */
  participant: `0x${string}`;
  /** Its new cumulative withdrawal, token base units. */
  totalWithdraw: bigint;
  /** Unix seconds (block time) after which the contract refuses the signatures. */
  expiration: bigint;
}

/** The newest claim of the payer the peer holds (the payer lost its channel file). */
export interface LastClaimRequest extends CosignChannelRef {
  /** Discriminant. */
  type: "last-claim";
}

/** A request to the peer. */
export type CosignRequest = CooperativeSettleRequest | WithdrawRequest | LastClaimRequest;

/** The peer's signature over the requested message. */
export interface CosignSigned {
  /** Format version, {@linkcode COSIGN_VERSION}. */
  version: number;
  /** Discriminant. */
  type: "signed";
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** The peer's EIP-712 signature over the requested message, 65 bytes (0x + 130 hex). */
  signature: `0x${string}`;
}

/** The peer's refusal. */
export interface CosignRefused {
  /** Format version, {@linkcode COSIGN_VERSION}. */
  version: number;
  /** Discriminant. */
  type: "refused";
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** Why, one token. */
  reason: CosignReason;
  /** Why, in words; at most {@linkcode MAX_COSIGN_MESSAGE_LENGTH} characters. */
  message: string;
}

/** The payer's newest claim the peer holds, as the payer signed it. */
export interface CosignLastClaim {
  /** Format version, {@linkcode COSIGN_VERSION}. */
  version: number;
  /** Discriminant. */
  type: "claim";
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** 0: the peer holds no claim (then `transferredAmount` is 0 and there is no signature). */
  nonce: bigint;
  /** Cumulative amount of that claim, token base units. */
  transferredAmount: bigint;
  /** The payer's EIP-712 `BalanceProof` signature; present exactly when `nonce` > 0. */
  signature?: `0x${string}`;
  /**
   * What the peer counts as delivered against the claims (forwarded and not refused), at most
   * `transferredAmount`: the least final amount it co-signs (a packet refused after its claim was
   * taken is not owed). Absent: `transferredAmount` (older peers).
   */
  delivered?: bigint;
}

/** The peer's answer. */
export type CosignAnswer = CosignSigned | CosignRefused | CosignLastClaim;

/** Why a request was refused (by the codec, the peer's desk, or the payer checking the answer). */
export type CosignReason =
  | "too-large"
  | "malformed"
  | "unsupported-version"
  | "unknown-channel"
  | "wrong-chain"
  | "wrong-contract"
  | "channel-not-open"
  | "channel-closing"
  | "wrong-participants"
  | "bad-signature"
  | "balances-mismatch"
  | "beyond-deposit"
  | "settle-below-claim"
  | "settle-credit-outstanding"
  | "withdraw-not-increasing"
  | "withdraw-uncovers-claims"
  | "withdraw-expiration"
  | "withdraw-unsupported"
  | "chain-unavailable"
  | "internal-error"
  | "peer-unavailable"
  | "peer-error"
  | "bad-peer-signature";

const REASONS: ReadonlySet<string> = new Set<CosignReason>([
  "too-large",
  "malformed",
  "unsupported-version",
  "unknown-channel",
  "wrong-chain",
  "wrong-contract",
  "channel-not-open",
  "channel-closing",
  "wrong-participants",
  "bad-signature",
  "balances-mismatch",
  "beyond-deposit",
  "settle-below-claim",
  "settle-credit-outstanding",
  "withdraw-not-increasing",
  "withdraw-uncovers-claims",
  "withdraw-expiration",
  "withdraw-unsupported",
  "chain-unavailable",
  "internal-error",
  "peer-unavailable",
  "peer-error",
  "bad-peer-signature",
]);

/** Options for {@linkcode ChannelCosignError}. */
export interface ChannelCosignErrorOptions {
  /** The peer refused (its answer's reason), as opposed to a local check or transport. */
  fromPeer?: boolean;
}

/** A co-sign request or answer was refused; `reason` says why in one token. */
export class ChannelCosignError extends ProtocolError {
  override name = "ChannelCosignError";
  /** True when the peer refused (its answer's reason), false for a local check or transport. */
  readonly fromPeer: boolean;
  /** `reason`: the token; `detail`: the details, in words (also in `message`). */
  constructor(
    readonly reason: CosignReason,
    readonly detail: string,
    options: ChannelCosignErrorOptions = {},
  ) {
    super(`payment channel co-sign refused (${reason}): ${detail}`);
    this.fromPeer = options.fromPeer ?? false;
  }
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

/**
 * Encodes a request as the UTF-8 JSON bytes of the protocol-data entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COSIGN_PROTOCOL_NAME, COSIGN_VERSION, type CosignRequest, encodeCosignRequest } from "./payment_channel_cosign.ts";
 *
 * const request: CosignRequest = {
 *   version: COSIGN_VERSION,
 *   type: "last-claim",
 *   channelId: `0x${"ab".repeat(32)}`,
 *   chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`,
 * };
 * const data = encodeCosignRequest(request);
 * // a BTP message's protocol data entry (protocol/btp_message.ts)
 * const entry = { protocolName: COSIGN_PROTOCOL_NAME, contentType: 2, data };
 * assert.deepEqual(decodeCosignRequest(entry.data), request);
 * ```
 */
export function encodeCosignRequest(request: CosignRequest): Uint8Array {
  validateCosignRequest(request);
  const base = {
    version: request.version,
    type: request.type,
    channelId: request.channelId,
    chainId: request.chainId,
    tokenNetworkAddress: request.tokenNetworkAddress,
  };
  if (request.type === "last-claim") return encodeJson({ ...base });
  const body = request.type === "cooperative-settle"
    ? {
      ...base,
      participant1: request.participant1,
      balance1: request.balance1.toString(),
      participant2: request.participant2,
      balance2: request.balance2.toString(),
      transferredAmount: request.transferredAmount.toString(),
      nonce: request.nonce.toString(),
      signature: request.signature,
    }
    : {
      ...base,
      participant: request.participant,
      totalWithdraw: request.totalWithdraw.toString(),
      expiration: request.expiration.toString(),
      signature: request.signature,
    };
  return encodeJson(body);
}

/**
 * Decodes and shape-checks a request. Throws {@linkcode ChannelCosignError} `too-large`,
 * `malformed` or `unsupported-version`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COSIGN_VERSION, decodeCosignRequest, encodeCosignRequest } from "./payment_channel_cosign.ts";
 *
 * const data = encodeCosignRequest({
 *   version: COSIGN_VERSION,
 *   type: "last-claim",
 *   channelId: `0x${"ab".repeat(32)}`,
 *   chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`,
 * });
 * const request = decodeCosignRequest(data);
 * assert.ok(request.type === "last-claim" && request.chainId === 31337);
 * assert.throws(() => decodeCosignRequest('{"version":1}'), ChannelCosignError);
 * ```
 */
export function decodeCosignRequest(data: Uint8Array | string): CosignRequest {
  const v = decodeObject(data);
  const ref = {
    version: COSIGN_VERSION,
    channelId: str(v, "channelId") as `0x${string}`,
    chainId: num(v, "chainId"),
    tokenNetworkAddress: str(v, "tokenNetworkAddress") as `0x${string}`,
  };
  if (v.type === "last-claim") {
    const request: LastClaimRequest = { ...ref, type: "last-claim" };
    validateCosignRequest(request);
    return request;
  }
  const base = { ...ref, signature: str(v, "signature") as `0x${string}` };
  let request: CosignRequest;
  if (v.type === "cooperative-settle") {
    request = {
      ...base,
      type: "cooperative-settle",
      participant1: str(v, "participant1") as `0x${string}`,
      balance1: uint(v, "balance1"),
      participant2: str(v, "participant2") as `0x${string}`,
      balance2: uint(v, "balance2"),
      transferredAmount: uint(v, "transferredAmount"),
      nonce: uint(v, "nonce"),
    };
  } else if (v.type === "withdraw") {
    request = {
      ...base,
      type: "withdraw",
      participant: str(v, "participant") as `0x${string}`,
      totalWithdraw: uint(v, "totalWithdraw"),
      expiration: uint(v, "expiration"),
    };
  } else {
    throw new ChannelCosignError(
      "malformed",
      'type must be "cooperative-settle", "withdraw" or "last-claim"',
    );
  }
  validateCosignRequest(request);
  return request;
}

/**
 * Checks a request's fields (formats and ranges, not signatures). Throws
 * {@linkcode ChannelCosignError} `malformed` naming the first bad field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const request = { version: 1, type: "last-claim" as const, channelId: `0x${"ab".repeat(32)}` as const, chainId: 31337, tokenNetworkAddress: `0x${"cd".repeat(20)}` as const };
 * validateCosignRequest(request); // returns: every field is well formed
 * assert.throws(() => validateCosignRequest({ ...request, chainId: 0 }), ChannelCosignError);
 * ```
 */
export function validateCosignRequest(request: CosignRequest): void {
  if (request.version !== COSIGN_VERSION) bad("version", `must be ${COSIGN_VERSION}`);
  if (!BYTES32.test(request.channelId)) bad("channelId", "is not 32 bytes of hex");
  if (!Number.isSafeInteger(request.chainId) || request.chainId <= 0) {
    bad("chainId", "must be a positive integer");
  }
  if (!ADDRESS.test(request.tokenNetworkAddress)) bad("tokenNetworkAddress", "is not an address");
  if (request.type === "last-claim") return;
  if (!SIGNATURE.test(request.signature)) bad("signature", "is not 65 bytes of hex");
  if (request.type === "cooperative-settle") {
    if (!ADDRESS.test(request.participant1)) bad("participant1", "is not an address");
    if (!ADDRESS.test(request.participant2)) bad("participant2", "is not an address");
    for (const f of ["balance1", "balance2", "transferredAmount", "nonce"] as const) {
      checkUint(request[f], f);
    }
  } else if (request.type === "withdraw") {
    if (!ADDRESS.test(request.participant)) bad("participant", "is not an address");
    checkUint(request.totalWithdraw, "totalWithdraw");
    checkUint(request.expiration, "expiration");
    if (request.totalWithdraw === 0n) bad("totalWithdraw", "must be positive");
  } else {
    bad("type", 'must be "cooperative-settle", "withdraw" or "last-claim"');
  }
}

/**
 * Encodes the peer's answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const channelId: `0x${string}` = `0x${"ab".repeat(32)}`;
 * const data = encodeCosignAnswer({ version: 1, type: "signed", channelId, signature: `0x${"11".repeat(65)}` });
 * assert.equal(decodeCosignAnswer(data).type, "signed");
 * ```
 */
export function encodeCosignAnswer(answer: CosignAnswer): Uint8Array {
  validateCosignAnswer(answer);
  if (answer.type === "claim") {
    return encodeJson({
      version: answer.version,
      type: answer.type,
      channelId: answer.channelId,
      nonce: answer.nonce.toString(),
      transferredAmount: answer.transferredAmount.toString(),
      ...(answer.signature === undefined ? {} : { signature: answer.signature }),
      ...(answer.delivered === undefined ? {} : { delivered: answer.delivered.toString() }),
    });
  }
  return encodeJson(
    answer.type === "signed"
      ? {
        version: answer.version,
        type: answer.type,
        channelId: answer.channelId,
        signature: answer.signature,
      }
      : {
        version: answer.version,
        type: answer.type,
        channelId: answer.channelId,
        reason: answer.reason,
        message: answer.message,
      },
  );
}

/**
 * A refusal answer for an error (the message is cut to {@linkcode MAX_COSIGN_MESSAGE_LENGTH}).
 *
 * @example
 * ```ts
 * import { ChannelCosignError, refusalOf } from "./payment_channel_cosign.ts";
 * import assert from "node:assert/strict";
 * const channelId: `0x${string}` = `0x${"ab".repeat(32)}`;
 * const answer = refusalOf(channelId, new ChannelCosignError("settle-below-claim", "..."));
 * assert.ok(answer.type === "refused" && answer.reason === "settle-below-claim");
 * ```
 */
export function refusalOf(channelId: `0x${string}`, err: ChannelCosignError): CosignRefused {
  return {
    version: COSIGN_VERSION,
    type: "refused",
    channelId,
    reason: err.reason,
    message: err.detail.slice(0, MAX_COSIGN_MESSAGE_LENGTH),
  };
}

/**
 * Decodes and shape-checks the peer's answer. Throws {@linkcode ChannelCosignError}
 * `too-large`, `malformed` or `unsupported-version`.
 *
 * @example
 * ```ts
 * import { decodeCosignAnswer, encodeCosignAnswer } from "./payment_channel_cosign.ts";
 * import assert from "node:assert/strict";
 * const channelId: `0x${string}` = `0x${"ab".repeat(32)}`;
 * const data = encodeCosignAnswer({
 *   version: 1,
 *   type: "refused",
 *   channelId,
 *   reason: "settle-below-claim",
 *   message: "the settle pays less than the newest claim",
 * });
 * const answer = decodeCosignAnswer(data);
 * assert.equal(answer.type === "refused" && answer.reason, "settle-below-claim");
 * ```
 */
export function decodeCosignAnswer(data: Uint8Array | string): CosignAnswer {
  const v = decodeObject(data);
  const channelId = str(v, "channelId") as `0x${string}`;
  let answer: CosignAnswer;
  if (v.type === "signed") {
    answer = {
      version: COSIGN_VERSION,
      type: "signed",
      channelId,
      signature: str(v, "signature") as `0x${string}`,
    };
  } else if (v.type === "refused") {
    answer = {
      version: COSIGN_VERSION,
      type: "refused",
      channelId,
      reason: str(v, "reason") as CosignReason,
      message: str(v, "message"),
    };
  } else if (v.type === "claim") {
    answer = {
      version: COSIGN_VERSION,
      type: "claim",
      channelId,
      nonce: uint(v, "nonce"),
      transferredAmount: uint(v, "transferredAmount"),
    };
    if (v.signature !== undefined) answer.signature = str(v, "signature") as `0x${string}`;
    if (v.delivered !== undefined) answer.delivered = uint(v, "delivered");
  } else {
    throw new ChannelCosignError("malformed", 'type must be "signed", "refused" or "claim"');
  }
  validateCosignAnswer(answer);
  return answer;
}

/**
 * Checks an answer's fields. Throws {@linkcode ChannelCosignError} `malformed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const answer = { version: 1, type: "signed" as const, channelId: `0x${"ab".repeat(32)}` as const, signature: `0x${"11".repeat(65)}` as const };
 * validateCosignAnswer(answer); // returns: every field is well formed
 * assert.throws(() => validateCosignAnswer({ ...answer, signature: "0x12" }), ChannelCosignError);
 * ```
 */
export function validateCosignAnswer(answer: CosignAnswer): void {
  if (answer.version !== COSIGN_VERSION) bad("version", `must be ${COSIGN_VERSION}`);
  if (!BYTES32.test(answer.channelId)) bad("channelId", "is not 32 bytes of hex");
  if (answer.type === "signed") {
    if (!SIGNATURE.test(answer.signature)) bad("signature", "is not 65 bytes of hex");
  } else if (answer.type === "refused") {
    if (!REASONS.has(answer.reason)) bad("reason", "is not a known reason token");
    if (typeof answer.message !== "string" || answer.message.length > MAX_COSIGN_MESSAGE_LENGTH) {
      bad("message", `must be a string of at most ${MAX_COSIGN_MESSAGE_LENGTH} characters`);
    }
  } else if (answer.type === "claim") {
    checkUint(answer.nonce, "nonce");
    checkUint(answer.transferredAmount, "transferredAmount");
    if (answer.nonce === 0n) {
      // "No claim held" has one spelling, so a payer never mistakes it for a claim.
      if (answer.transferredAmount !== 0n) bad("transferredAmount", "must be 0 when nonce is 0");
      if (answer.signature !== undefined) bad("signature", "must be absent when nonce is 0");
    } else if (answer.signature === undefined || !SIGNATURE.test(answer.signature)) {
      bad("signature", "is not 65 bytes of hex");
    }
    if (answer.delivered !== undefined) {
      checkUint(answer.delivered, "delivered");
      if (answer.delivered > answer.transferredAmount) {
        bad("delivered", "must not exceed transferredAmount");
      }
    }
  } else {
    bad("type", 'must be "signed", "refused" or "claim"');
  }
}

function encodeJson(body: Record<string, unknown>): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  if (bytes.length > MAX_COSIGN_BYTES) {
    throw new ChannelCosignError(
      "too-large",
      `${bytes.length} bytes, the limit is ${MAX_COSIGN_BYTES}`,
    );
  }
  return bytes;
}

function decodeObject(data: Uint8Array | string): Record<string, unknown> {
  return decodeVersionedJson(data, {
    maxBytes: MAX_COSIGN_BYTES,
    version: COSIGN_VERSION,
    fail: cosignFault,
  });
}

function cosignFault(reason: CosignReason, message: string): never {
  throw new ChannelCosignError(reason, message);
}

function bad(field: string, why: string): never {
  throw new ChannelCosignError("malformed", `${field} ${why}`);
}

function str(v: Record<string, unknown>, name: string): string {
  return stringField(v, name, cosignFault);
}

function num(v: Record<string, unknown>, name: string): number {
  return numberField(v, name, cosignFault);
}

function uint(v: Record<string, unknown>, name: string): bigint {
  return uintField(v, name, cosignFault);
}

function checkUint(value: bigint, name: string): void {
  if (typeof value !== "bigint" || value < 0n || value > UINT256_MAX) {
    bad(name, "must be 0 to 2^256-1");
  }
}

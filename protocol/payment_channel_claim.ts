/**
 * The BTP protocol-data entry `payment-channel-claim` (docs/PROTOCOL.md): a signed cumulative
 * balance proof that rides with (or ahead of) the ILP packets it pays for. Content type
 * `application/json` (BTP content type 2), UTF-8, at most {@linkcode MAX_CLAIM_BYTES} bytes:
 *
 * ```json
 * { "version": 1, "messageId": "b3c1...", "timestamp": "2026-11-22T10:00:00.000Z",
 *   "chainId": 31337, "tokenNetworkAddress": "0x...", "tokenAddress": "0x...",
 *   "channelId": "0x<64 hex>", "nonce": "12", "transferredAmount": "1500",
 *   "signature": "0x<130 hex>" }
 * ```
 *
 * `nonce` and `transferredAmount` are decimal strings (uint256 does not fit a JSON number);
 * `signature` is the EIP-712 BalanceProof signature (`chain/balance_proof.ts`) with
 * `lockedAmount` 0 and an empty `locksRoot`. Decoding checks the shape only; the receiving
 * side's `chain/claim_verifier.ts` checks signature, channel, nonce and amounts. Every rejection
 * is a {@linkcode ClaimError} whose `reason` is one of {@linkcode ClaimRejectReason}.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { decodeVersionedJson, numberField, stringField, uintField } from "./versioned_json.ts";

/** BTP protocol-data name of the claim. */
export const CLAIM_PROTOCOL_NAME = "payment-channel-claim";
/** Claim format version this code writes and reads. */
export const CLAIM_VERSION = 1;
/** Largest encoded claim accepted (a real one is ~450 bytes). */
export const MAX_CLAIM_BYTES = 2048;
/** Largest messageId, in characters. */
export const MAX_MESSAGE_ID_LENGTH = 128;

const UINT256_MAX = 2n ** 256n - 1n;

/** A payment channel claim. */
export interface PaymentChannelClaim {
  /** Format version, {@linkcode CLAIM_VERSION}. */
  version: number;
  /** Unique id of the claim: 1-{@linkcode MAX_MESSAGE_ID_LENGTH} of `[A-Za-z0-9._:-]`. */
  messageId: string;
  /** ISO 8601 UTC time the claim was signed. */
  timestamp: string;
  /** EVM chain id of the channel (positive integer). */
  chainId: number;
  /** The TokenNetwork contract holding the channel (0x + 40 hex). */
  tokenNetworkAddress: `0x${string}`;
  /** The ERC-20 the channel is in (0x + 40 hex). */
  tokenAddress: `0x${string}`;
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: `0x${string}`;
  /** Balance proof nonce, 1 to 2^256-1; strictly increasing per channel. */
  nonce: bigint;
  /** Cumulative amount, token base units, 0 to 2^256-1; never decreasing. */
  transferredAmount: bigint;
  /** EIP-712 BalanceProof signature, 65 bytes (0x + 130 hex). */
  signature: `0x${string}`;
}

/**
 * The channel a claim is on, as the claim names it: chain, TokenNetwork contract, token and
 * channel id (what a signer of claims is given, and what a receiver checks first).
 */
export type ClaimChannel = Pick<
  PaymentChannelClaim,
  "chainId" | "tokenNetworkAddress" | "tokenAddress" | "channelId"
>;

/** Why a claim was rejected: stable tokens for logs, metrics and ILP reject messages. */
export type ClaimRejectReason =
  | "too-large"
  | "malformed"
  | "unsupported-version"
  | "bad-signature"
  | "wrong-chain"
  | "wrong-contract"
  | "wrong-token"
  | "unknown-channel"
  | "channel-not-open"
  | "wrong-signer"
  | "replayed-nonce"
  | "amount-decreased"
  | "beyond-deposit"
  | "not-covered"
  | "credit-limit-exceeded"
  | "chain-unavailable"
  /** The channel settles for another BTP account, or the account for another open channel. */
  | "channel-in-use"
  /** Too many claims naming channels the receiver does not know yet: try again later. */
  | "rate-limited";

/** A claim was rejected; `reason` says why in one token, `message` in words. */
export class ClaimError extends ProtocolError {
  /** `"ClaimError"`: explicit so it survives bundling. */
  override name = "ClaimError";
  /** `reason`: the stable token; `message` is prefixed with it. */
  constructor(readonly reason: ClaimRejectReason, message: string) {
    super(`payment channel claim rejected (${reason}): ${message}`);
  }
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const MESSAGE_ID = /^[A-Za-z0-9._:-]+$/;

/**
 * Encodes a claim as the UTF-8 JSON bytes of the protocol-data entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const claim = { version: 1, messageId: "m1", timestamp: "2026-11-25T12:00:00.000Z", chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}` as const, tokenAddress: `0x${"ee".repeat(20)}` as const,
 *   channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n, signature: `0x${"11".repeat(65)}` as const };
 * const entry = { protocolName: CLAIM_PROTOCOL_NAME, contentType: 2, data: encodeClaim(claim) }; // beside `ilp`
 * assert.equal(decodeClaim(entry.data).transferredAmount, 10n);
 * ```
 */
export function encodeClaim(claim: PaymentChannelClaim): Uint8Array {
  validateClaim(claim);
  const json = JSON.stringify({
    version: claim.version,
    messageId: claim.messageId,
    timestamp: claim.timestamp,
    chainId: claim.chainId,
    tokenNetworkAddress: claim.tokenNetworkAddress,
    tokenAddress: claim.tokenAddress,
    channelId: claim.channelId,
    nonce: claim.nonce.toString(),
    transferredAmount: claim.transferredAmount.toString(),
    signature: claim.signature,
  });
  return new TextEncoder().encode(json);
}

/**
 * Decodes and shape-checks a claim from protocol-data bytes (or a JSON string). Throws
 * {@linkcode ClaimError} with reason `too-large`, `malformed` or `unsupported-version`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sent = { version: 1, messageId: "m1", timestamp: "2026-11-25T12:00:00.000Z", chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}` as const, tokenAddress: `0x${"ee".repeat(20)}` as const,
 *   channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n, signature: `0x${"11".repeat(65)}` as const };
 * const claim = decodeClaim(encodeClaim(sent));
 * assert.deepEqual([claim.nonce, claim.transferredAmount], [1n, 10n]);
 * assert.throws(() => decodeClaim("{}"), ClaimError);
 * ```
 */
export function decodeClaim(data: Uint8Array | string): PaymentChannelClaim {
  const v = decodeVersionedJson(data, {
    maxBytes: MAX_CLAIM_BYTES,
    version: CLAIM_VERSION,
    fail: claimFault,
  });
  const claim: PaymentChannelClaim = {
    version: CLAIM_VERSION,
    messageId: stringField(v, "messageId", claimFault),
    timestamp: stringField(v, "timestamp", claimFault),
    chainId: numberField(v, "chainId", claimFault),
    tokenNetworkAddress: stringField(v, "tokenNetworkAddress", claimFault) as `0x${string}`,
    tokenAddress: stringField(v, "tokenAddress", claimFault) as `0x${string}`,
    channelId: stringField(v, "channelId", claimFault) as `0x${string}`,
    nonce: uintField(v, "nonce", claimFault),
    transferredAmount: uintField(v, "transferredAmount", claimFault),
    signature: stringField(v, "signature", claimFault) as `0x${string}`,
  };
  validateClaim(claim);
  return claim;
}

/**
 * Checks a claim's fields (formats and ranges, not the signature). Throws
 * {@linkcode ClaimError} `malformed` naming the first bad field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const claim = { version: 1, messageId: "m1", timestamp: "2026-11-25T12:00:00.000Z", chainId: 31337,
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}` as const, tokenAddress: `0x${"ee".repeat(20)}` as const,
 *   channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n, signature: `0x${"11".repeat(65)}` as const };
 * validateClaim(claim); // returns: every field is well formed
 * assert.throws(() => validateClaim({ ...claim, nonce: -1n }), ClaimError);
 * ```
 */
export function validateClaim(claim: PaymentChannelClaim): void {
  const bad = (f: string, why: string) => {
    throw new ClaimError("malformed", `${f} ${why}`);
  };
  if (claim.version !== CLAIM_VERSION) bad("version", `must be ${CLAIM_VERSION}`);
  if (
    typeof claim.messageId !== "string" || claim.messageId.length === 0 ||
    claim.messageId.length > MAX_MESSAGE_ID_LENGTH || !MESSAGE_ID.test(claim.messageId)
  ) {
    bad("messageId", `must be 1-${MAX_MESSAGE_ID_LENGTH} characters of [A-Za-z0-9._:-]`);
  }
  if (!ISO_UTC.test(claim.timestamp) || Number.isNaN(Date.parse(claim.timestamp))) {
    bad("timestamp", "must be an ISO 8601 UTC time");
  }
  if (!Number.isSafeInteger(claim.chainId) || claim.chainId <= 0) {
    bad("chainId", "must be a positive integer");
  }
  if (!ADDRESS.test(claim.tokenNetworkAddress)) bad("tokenNetworkAddress", "is not an address");
  if (!ADDRESS.test(claim.tokenAddress)) bad("tokenAddress", "is not an address");
  if (!BYTES32.test(claim.channelId)) bad("channelId", "is not 32 bytes of hex");
  if (typeof claim.nonce !== "bigint" || claim.nonce < 1n || claim.nonce > UINT256_MAX) {
    bad("nonce", "must be 1 to 2^256-1");
  }
  if (
    typeof claim.transferredAmount !== "bigint" || claim.transferredAmount < 0n ||
    claim.transferredAmount > UINT256_MAX
  ) {
    bad("transferredAmount", "must be 0 to 2^256-1");
  }
  if (!SIGNATURE.test(claim.signature)) bad("signature", "is not 65 bytes of hex");
}

// Every reason, so a reader takes only a known token from a REJECT's data (complete by type).
const REASONS = {
  "too-large": true,
  "malformed": true,
  "unsupported-version": true,
  "bad-signature": true,
  "wrong-chain": true,
  "wrong-contract": true,
  "wrong-token": true,
  "unknown-channel": true,
  "channel-not-open": true,
  "wrong-signer": true,
  "replayed-nonce": true,
  "amount-decreased": true,
  "beyond-deposit": true,
  "not-covered": true,
  "credit-limit-exceeded": true,
  "chain-unavailable": true,
  "channel-in-use": true,
  "rate-limited": true,
} satisfies Record<ClaimRejectReason, true>;

/** Longest data {@linkcode claimRejectReasonOf} reads: the object with the longest reason. */
const MAX_REJECT_DATA = 64;

/**
 * The data of the ILP REJECT that refuses a claim: the reason as a one-field JSON object in UTF-8,
 * `{"claimReject":"<reason>"}` (docs/PROTOCOL.md "Claim rejections"), so any ILP implementation
 * reads why without parsing the message, which is for people.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRejectData, claimRejectReasonOf } from "./payment_channel_claim.ts";
 *
 * const data = claimRejectData("not-covered");
 * assert.equal(new TextDecoder().decode(data), '{"claimReject":"not-covered"}');
 * assert.equal(claimRejectReasonOf(data), "not-covered");
 * ```
 */
export function claimRejectData(reason: ClaimRejectReason): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ claimReject: reason }));
}

/**
 * The reason of a claim rejection from its REJECT's data ({@linkcode claimRejectData}), so a payer
 * branches on the token, not on the words; undefined for any other data (another REJECT, an
 * unknown reason, more than 64 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRejectData, claimRejectReasonOf } from "./payment_channel_claim.ts";
 *
 * assert.equal(claimRejectReasonOf(claimRejectData("channel-in-use")), "channel-in-use");
 * assert.equal(claimRejectReasonOf(new Uint8Array(0)), undefined);
 * ```
 */
export function claimRejectReasonOf(data: Uint8Array): ClaimRejectReason | undefined {
  if (data.length === 0 || data.length > MAX_REJECT_DATA || data[0] !== 0x7b) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  const reason = (parsed as { claimReject?: unknown } | null)?.claimReject;
  return typeof reason === "string" && Object.hasOwn(REASONS, reason)
    ? reason as ClaimRejectReason
    : undefined;
}

function claimFault(reason: ClaimRejectReason, message: string): never {
  throw new ClaimError(reason, message);
}

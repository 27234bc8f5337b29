/**
 * The EIP-712 digest of a TokenNetwork balance proof (a payment channel's claim) over its fixed
 * layout: `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`, the domain separator cached per
 * chain and contract. viem's generic typed-data encoder computes the same bytes at several times
 * the cost; the receiving side checks every claim with this digest
 * (chain/balance_proof_signer_key.ts) and the signing side signs it
 * (identity/signer_request_answer.ts, docs/SCALE.md "Claims signed natively").
 *
 * Written by hand because it must be faster than the library: a node signs and checks a claim
 * for every payment.
 *
 * @module
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexToBytes } from "@noble/hashes/utils.js";

/**
 * The EIP-712 types of the TokenNetwork's three signed messages: the balance proof, the
 * cooperative settle and the withdraw. A signature covers only its `primaryType`'s struct.
 */
export const TOKEN_NETWORK_TYPES = {
  BalanceProof: [
    { name: "channelId", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "transferredAmount", type: "uint256" },
    { name: "lockedAmount", type: "uint256" },
    { name: "locksRoot", type: "bytes32" },
  ],
  CooperativeSettle: [
    { name: "channelId", type: "bytes32" },
    { name: "participant1", type: "address" },
    { name: "balance1", type: "uint256" },
    { name: "participant2", type: "address" },
    { name: "balance2", type: "uint256" },
  ],
  Withdraw: [
    { name: "channelId", type: "bytes32" },
    { name: "participant", type: "address" },
    { name: "totalWithdraw", type: "uint256" },
    { name: "expiration", type: "uint256" },
  ],
} as const;

/** A balance proof's fields, hex checked by the caller (32 bytes each). */
export interface BalanceProofFields {
  channelId: `0x${string}`;
  nonce: bigint;
  transferredAmount: bigint;
  lockedAmount?: bigint;
  locksRoot?: `0x${string}`;
}

/** The TokenNetwork a balance proof is for. */
export interface BalanceProofDomain {
  chainId: number;
  verifyingContract: `0x${string}`;
}

const encoder = new TextEncoder();
const BALANCE_PROOF_TYPEHASH = keccak_256(
  encoder.encode(
    "BalanceProof(bytes32 channelId,uint256 nonce,uint256 transferredAmount," +
      "uint256 lockedAmount,bytes32 locksRoot)",
  ),
);
const DOMAIN_TYPEHASH = keccak_256(
  encoder.encode(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
  ),
);
const ZERO_BYTES32 = new Uint8Array(32);
const domainSeparators = new Map<string, Uint8Array>();
const MAX_UINT256 = (1n << 256n) - 1n;

function uint256(value: bigint, out: Uint8Array, offset: number): void {
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function domainSeparator(domain: BalanceProofDomain): Uint8Array {
  const key = `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`;
  let sep = domainSeparators.get(key);
  if (!sep) {
    const buf = new Uint8Array(160);
    buf.set(DOMAIN_TYPEHASH, 0);
    buf.set(keccak_256(encoder.encode("TokenNetwork")), 32);
    buf.set(keccak_256(encoder.encode("1")), 64);
    uint256(BigInt(domain.chainId), buf, 96);
    buf.set(hexToBytes(domain.verifyingContract.slice(2)), 140);
    sep = keccak_256(buf);
    domainSeparators.set(key, sep);
  }
  return sep;
}

/**
 * The digest of a balance proof whose fields are already checked (32-byte hex, amounts within
 * uint256): chain/balance_proof.ts `balanceProofDigest` checks them first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const verifyingContract: `0x${string}` = `0x${"cd".repeat(20)}`;
 * const proof = { channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n };
 * assert.equal(checkedBalanceProofDigest(proof, { chainId: 31337, verifyingContract }).length, 32);
 * ```
 */
export function checkedBalanceProofDigest(
  proof: BalanceProofFields,
  domain: BalanceProofDomain,
): Uint8Array {
  const struct = new Uint8Array(192);
  struct.set(BALANCE_PROOF_TYPEHASH, 0);
  struct.set(hexToBytes(proof.channelId.slice(2)), 32);
  uint256(proof.nonce, struct, 64);
  uint256(proof.transferredAmount, struct, 96);
  uint256(proof.lockedAmount ?? 0n, struct, 128);
  struct.set(proof.locksRoot ? hexToBytes(proof.locksRoot.slice(2)) : ZERO_BYTES32, 160);
  const outer = new Uint8Array(66);
  outer[0] = 0x19;
  outer[1] = 0x01;
  outer.set(domainSeparator(domain), 2);
  outer.set(keccak_256(struct), 34);
  return keccak_256(outer);
}

const TYPES_JSON = JSON.stringify(TOKEN_NETWORK_TYPES);
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const hasKeys = (v: Record<string, unknown>, keys: string) =>
  Object.keys(v).sort().join(",") === keys;
const isUint256 = (v: unknown): v is bigint => typeof v === "bigint" && v >= 0n && v <= MAX_UINT256;

/**
 * The digest of typed data that is exactly a TokenNetwork balance proof as chain/balance_proof.ts
 * builds it (the domain `TokenNetwork`, version 1, a chain id and contract and nothing else; the
 * three types of {@linkcode TOKEN_NETWORK_TYPES}; the five fields, amounts as bigints); undefined
 * for anything else, which the caller hashes with viem's generic encoder. Never a digest other
 * than viem's: tests/unit/protocol/balance_proof_digest_test.ts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const message = { channelId: `0x${"ab".repeat(32)}`, nonce: 1n, transferredAmount: 10n,
 *   lockedAmount: 0n, locksRoot: `0x${"00".repeat(32)}` };
 * const domain = { name: "TokenNetwork", version: "1", chainId: 1, verifyingContract: `0x${"cd".repeat(20)}` };
 * const data = { domain, types: TOKEN_NETWORK_TYPES, primaryType: "BalanceProof", message };
 * assert.equal(typedBalanceProofDigest(data)?.length, 32);
 * assert.equal(typedBalanceProofDigest({ ...data, primaryType: "Withdraw" }), undefined);
 * ```
 */
export function typedBalanceProofDigest(typedData: unknown): Uint8Array | undefined {
  if (!isRecord(typedData) || !hasKeys(typedData, "domain,message,primaryType,types")) return;
  const { domain, types, primaryType, message } = typedData;
  if (primaryType !== "BalanceProof" || !isRecord(domain) || !isRecord(message)) return;
  if (JSON.stringify(types) !== TYPES_JSON) return;
  if (!hasKeys(domain, "chainId,name,verifyingContract,version")) return;
  const { name, version, chainId, verifyingContract } = domain;
  if (name !== "TokenNetwork" || version !== "1") return;
  if (typeof chainId !== "number" || !Number.isSafeInteger(chainId) || chainId < 0) return;
  if (typeof verifyingContract !== "string" || !ADDRESS.test(verifyingContract)) return;
  if (!hasKeys(message, "channelId,lockedAmount,locksRoot,nonce,transferredAmount")) return;
  const { channelId, nonce, transferredAmount, lockedAmount, locksRoot } = message;
  if (typeof channelId !== "string" || !BYTES32.test(channelId)) return;
  if (typeof locksRoot !== "string" || !BYTES32.test(locksRoot)) return;
  if (!isUint256(nonce) || !isUint256(transferredAmount) || !isUint256(lockedAmount)) return;
  return checkedBalanceProofDigest(
    {
      channelId: channelId as `0x${string}`,
      nonce,
      transferredAmount,
      lockedAmount,
      locksRoot: locksRoot as `0x${string}`,
    },
    { chainId, verifyingContract: verifyingContract as `0x${string}` },
  );
}

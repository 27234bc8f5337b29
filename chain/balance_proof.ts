/**
 * EIP-712 balance proofs of the TokenNetwork contract (docs/PROTOCOL.md):
 *
 * ```
 * BalanceProof(bytes32 channelId, uint256 nonce, uint256 transferredAmount,
 *              uint256 lockedAmount, bytes32 locksRoot)
 * domain {name: "TokenNetwork", version: "1", chainId, verifyingContract}
 * ```
 *
 * Amounts are cumulative: the newest proof (highest nonce) replaces every older one. The node's
 * NIP-06 secp256k1 key signs (the same key signs its EVM transactions). Also the
 * `CooperativeSettle` message both sides sign to settle at once, and the
 * `Withdraw(bytes32 channelId,address participant,uint256 totalWithdraw,uint256 expiration)`
 * message both sides sign so one takes tokens out of an open channel. Signing uses viem's
 * typed-data code. The receiving side's per-claim check, {@linkcode recoverBalanceProofSignerFast}, hashes
 * the fixed layout directly and recovers with noble secp256k1 (what viem uses underneath):
 * viem's generic encoder and validation added 25-35% to each recovery
 * (bench/channel_bench_script.ts); the unit test checks both agree.
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import {
  checkedBalanceProofDigest,
  TOKEN_NETWORK_TYPES,
} from "../protocol/balance_proof_digest.ts";
import { bytesToHex, hexToBytes, recoverTypedDataAddress, type TypedDataDefinition } from "viem";
import type { LocalAccount } from "viem/accounts";

/** `0x` + hex digits: bytes, a hash or a signature (the same type as viem's `Hex`). */
export type Hex = `0x${string}`;

/** The EIP-712 domain of one TokenNetwork contract on one chain. */
export interface TokenNetworkDomain {
  /** EVM chain id (31337 anvil, 84532 Base Sepolia). */
  chainId: number;
  /** The TokenNetwork contract's address. */
  verifyingContract: `0x${string}`;
}

/** A balance proof's fields. `lockedAmount`/`locksRoot` default to 0 (locks are unsupported). */
export interface BalanceProof {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** Strictly increasing per signer and channel; 1 and up (uint256). */
  nonce: bigint;
  /** Cumulative amount sent, token base units (uint256). */
  transferredAmount: bigint;
  /** Amount in pending locks, base units; always 0 here. */
  lockedAmount?: bigint;
  /** Merkle root of the pending locks, bytes32; {@linkcode ZERO_BYTES32} here. */
  locksRoot?: Hex;
}

/** Final balances both participants sign for `cooperativeSettle`. */
export interface CooperativeSettle {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** The channel's participant1 (the opener), as the contract holds it. */
  participant1: `0x${string}`;
  /** What participant1 receives at settle, token base units. */
  balance1: bigint;
  /** The channel's participant2. */
  participant2: `0x${string}`;
  /** What participant2 receives at settle, token base units. */
  balance2: bigint;
}

/**
 * A withdraw both participants sign for the contract's `setTotalWithdraw`: `participant` takes its
 * cumulative `totalWithdraw` out of the open channel, valid until `expiration` (unix seconds).
 */
export interface Withdraw {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** The participant taking tokens out. */
  participant: `0x${string}`;
  /** Its new cumulative withdrawal, token base units. */
  totalWithdraw: bigint;
  /** Unix seconds (block time) after which the contract refuses the signatures. */
  expiration: bigint;
}

/**
 * Options for {@linkcode signBalanceProof}, {@linkcode signCooperativeSettle} and
 * {@linkcode signWithdraw}.
 */
export interface SignOptions {
  /** The node's EVM account (its NIP-06 key, wherever it is: see protocol/node_signer.ts). */
  account: LocalAccount;
  /** The TokenNetwork and chain the signature is for. */
  domain: TokenNetworkDomain;
}

/** A signature that cannot be parsed or recovered. */
export class BalanceProofSignatureError extends ChainError {
  override name = "BalanceProofSignatureError";
}

/** The zero bytes32 (empty locks root). */
export const ZERO_BYTES32: Hex = `0x${"00".repeat(32)}`;

export { TOKEN_NETWORK_TYPES };

/**
 * The full EIP-712 domain object for a TokenNetwork.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const domain = tokenNetworkDomain({ chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` });
 * assert.deepEqual([domain.name, domain.version], ["TokenNetwork", "1"]);
 * ```
 */
export function tokenNetworkDomain(domain: TokenNetworkDomain): {
  readonly name: "TokenNetwork";
  readonly version: "1";
  readonly chainId: number;
  readonly verifyingContract: `0x${string}`;
} {
  return {
    name: "TokenNetwork",
    version: "1",
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  } as const;
}

function message(proof: BalanceProof) {
  return {
    channelId: proof.channelId,
    nonce: proof.nonce,
    transferredAmount: proof.transferredAmount,
    lockedAmount: proof.lockedAmount ?? 0n,
    locksRoot: proof.locksRoot ?? ZERO_BYTES32,
  };
}

/**
 * Signs a balance proof; returns the 65-byte signature as hex (r | s | v, v 27/28).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signBalanceProof } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const account = privateKeyToAccount(generatePrivateKey()); // a node's: NodeSigner.evm
 * const tokenNetwork: `0x${string}` = `0x${"cd".repeat(20)}`;
 * const sig = await signBalanceProof(
 *   { channelId: `0x${"ab".repeat(32)}`, nonce: 1n, transferredAmount: 10n },
 *   { account, domain: { chainId: 31337, verifyingContract: tokenNetwork } },
 * );
 * assert.equal(sig.length, 132); // 65 bytes in hex
 * ```
 */
export async function signBalanceProof(proof: BalanceProof, options: SignOptions): Promise<Hex> {
  return await options.account.signTypedData(
    typedData("BalanceProof", message(proof), options.domain),
  );
}

/**
 * Recovers the address that signed a balance proof. A signature over other fields recovers some
 * other address, so compare the result with the expected signer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverBalanceProofSigner, signBalanceProof } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const proof = { channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n };
 * const sig = await signBalanceProof(proof, { account: peer, domain });
 * assert.equal(await recoverBalanceProofSigner(proof, sig, domain), peer.address);
 * ```
 */
export async function recoverBalanceProofSigner(
  proof: BalanceProof,
  signature: Hex,
  domain: TokenNetworkDomain,
): Promise<`0x${string}`> {
  return await recoverChecked(signature, typedData("BalanceProof", message(proof), domain));
}

/**
 * Signs the cooperative-settle message (final balances) for the contract's `cooperativeSettle`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CooperativeSettle, signCooperativeSettle } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const settle: CooperativeSettle = {
 *   channelId: `0x${"ab".repeat(32)}`,
 *   participant1: account.address,
 *   balance1: 40n,
 *   participant2: `0x${"ef".repeat(20)}`,
 *   balance2: 10n,
 * };
 * const sig = await signCooperativeSettle(settle, { account, domain });
 * assert.match(sig, /^0x[0-9a-f]{130}$/); // r | s | v
 * ```
 */
export async function signCooperativeSettle(
  settle: CooperativeSettle,
  options: SignOptions,
): Promise<Hex> {
  return await options.account.signTypedData(
    typedData("CooperativeSettle", settle, options.domain),
  );
}

/**
 * Recovers the address that signed a cooperative-settle message; refuses high-s signatures like
 * the contract. Compare the result with the expected signer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverCooperativeSettleSigner, signCooperativeSettle } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const settle = { channelId: `0x${"ab".repeat(32)}` as const, participant1: `0x${"ef".repeat(20)}` as const, balance1: 40n, participant2: peer.address, balance2: 10n };
 * const sig = await signCooperativeSettle(settle, { account: peer, domain });
 * assert.equal(await recoverCooperativeSettleSigner(settle, sig, domain), peer.address);
 * ```
 */
export async function recoverCooperativeSettleSigner(
  settle: CooperativeSettle,
  signature: Hex,
  domain: TokenNetworkDomain,
): Promise<`0x${string}`> {
  return await recoverChecked(signature, typedData("CooperativeSettle", settle, domain));
}

/**
 * Signs a withdraw message; both the participant and its partner sign the same message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signWithdraw } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const channelId = `0x${"ab".repeat(32)}` as const;
 * const now = BigInt(Math.floor(Date.now() / 1000));
 * const withdraw = { channelId, participant: account.address, totalWithdraw: 5n, expiration: now + 600n };
 * const mine = await signWithdraw(withdraw, { account, domain }); // and the partner signs the same
 * assert.match(mine, /^0x[0-9a-f]{130}$/);
 * ```
 */
export async function signWithdraw(withdraw: Withdraw, options: SignOptions): Promise<Hex> {
  return await options.account.signTypedData(typedData("Withdraw", withdraw, options.domain));
}

/**
 * Recovers the address that signed a withdraw message; refuses high-s signatures like the
 * contract. Compare the result with the expected signer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverWithdrawSigner, signWithdraw } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const withdraw = { channelId: `0x${"ab".repeat(32)}` as const, participant: peer.address, totalWithdraw: 5n, expiration: 1_900_000_000n };
 * const sig = await signWithdraw(withdraw, { account: peer, domain });
 * assert.equal(await recoverWithdrawSigner(withdraw, sig, domain), peer.address);
 * ```
 */
export async function recoverWithdrawSigner(
  withdraw: Withdraw,
  signature: Hex,
  domain: TokenNetworkDomain,
): Promise<`0x${string}`> {
  return await recoverChecked(signature, typedData("Withdraw", withdraw, domain));
}

/** The message each of {@linkcode TOKEN_NETWORK_TYPES}' primary types signs. */
interface TokenNetworkMessages {
  BalanceProof: ReturnType<typeof message>;
  CooperativeSettle: CooperativeSettle;
  Withdraw: Withdraw;
}

/** One TokenNetwork message as viem's typed data: the domain, the one types table, the message. */
function typedData<P extends keyof TokenNetworkMessages>(
  primaryType: P,
  message: TokenNetworkMessages[P],
  domain: TokenNetworkDomain,
): TypedDataDefinition<typeof TOKEN_NETWORK_TYPES, P> {
  return {
    domain: tokenNetworkDomain(domain),
    types: TOKEN_NETWORK_TYPES,
    primaryType,
    message,
  } as TypedDataDefinition<typeof TOKEN_NETWORK_TYPES, P>; // viem cannot narrow a generic P
}

/** The signature's shape is checked first; any failure to recover is a BalanceProofSignatureError. */
async function recoverChecked<P extends keyof TokenNetworkMessages>(
  signature: Hex,
  data: TypedDataDefinition<typeof TOKEN_NETWORK_TYPES, P>,
): Promise<`0x${string}`> {
  checkSignatureShape(signature);
  try {
    return await recoverTypedDataAddress({ ...data, signature });
  } catch (err) {
    throw new BalanceProofSignatureError(`cannot recover signer: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

// The contract refuses high-s (malleable) signatures; refuse them here too so a proof accepted
// off chain is never one the contract would reject.
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * Refuses, with {@linkcode BalanceProofSignatureError}, a signature that is not 65 bytes of hex,
 * has s in the high half (the contract refuses those) or a v other than 27, 28, 0 or 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSignatureShape } from "./balance_proof.ts";
 *
 * assert.throws(() => checkSignatureShape("0x1234"));
 * ```
 */
export function checkSignatureShape(signature: string): void {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new BalanceProofSignatureError("signature must be 65 bytes of hex (0x + 130 digits)");
  }
  const bytes = hexToBytes(signature as Hex);
  const s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  const v = bytes[64];
  if (s > HALF_ORDER) throw new BalanceProofSignatureError("signature s is in the high half");
  if (v !== 27 && v !== 28 && v !== 0 && v !== 1) {
    throw new BalanceProofSignatureError(`signature v must be 27 or 28, got ${v}`);
  }
}

/**
 * The EIP-712 digest of a balance proof (`keccak256(0x1901 | domainSeparator | structHash)`),
 * computed over the fixed layout with a cached domain separator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { balanceProofDigest } from "./balance_proof.ts";
 *
 * const verifyingContract: `0x${string}` = `0x${"cd".repeat(20)}`;
 * const proof = { channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n };
 * const digest = balanceProofDigest(proof, { chainId: 31337, verifyingContract });
 * assert.equal(digest.length, 32);
 * ```
 */
export function balanceProofDigest(proof: BalanceProof, domain: TokenNetworkDomain): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(proof.channelId)) {
    throw new BalanceProofSignatureError("channelId must be 32 bytes of hex");
  }
  if (proof.locksRoot !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(proof.locksRoot)) {
    throw new BalanceProofSignatureError("locksRoot must be 32 bytes of hex");
  }
  return checkedBalanceProofDigest(proof, domain);
}

/**
 * Same answer as {@linkcode recoverBalanceProofSigner} (lower-case address), without viem's
 * generic typed-data encoding: the receiving side runs it for every claim. Throws {@linkcode BalanceProofSignatureError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverBalanceProofSignerFast, signBalanceProof } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const proof = { channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n };
 * const sig = await signBalanceProof(proof, { account: peer, domain });
 * assert.equal(recoverBalanceProofSignerFast(proof, sig, domain), peer.address.toLowerCase());
 * ```
 */
export function recoverBalanceProofSignerFast(
  proof: BalanceProof,
  signature: Hex,
  domain: TokenNetworkDomain,
): `0x${string}` {
  checkSignatureShape(signature);
  return recoverPoint(proof, signature, domain);
}

function recoverPoint(
  proof: BalanceProof,
  signature: Hex,
  domain: TokenNetworkDomain,
): `0x${string}` {
  const sig = recoverableSignature(signature);
  try {
    const point = sig.recoverPublicKey(balanceProofDigest(proof, domain));
    return addressOf(point.toBytes(false));
  } catch (err) {
    throw new BalanceProofSignatureError(`cannot recover signer: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** A public key the signer was recovered as, kept to check that signer's later proofs. */
export interface RecoveredBalanceProofSigner {
  /** Lower-case address, as {@linkcode recoverBalanceProofSignerFast} returns it. */
  address: `0x${string}`;
  /** Uncompressed SEC1 public key (65 bytes). */
  publicKey: Uint8Array;
}

/**
 * {@linkcode recoverBalanceProofSignerFast}, also returning the recovered public key (to build a
 * chain/balance_proof_signer_key.ts `BalanceProofSignerKey` from once the address is the expected one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverBalanceProofSignerKey, signBalanceProof } from "./balance_proof.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const proof = { channelId: `0x${"ab".repeat(32)}` as const, nonce: 1n, transferredAmount: 10n };
 * const sig = await signBalanceProof(proof, { account: peer, domain });
 * const { address, publicKey } = recoverBalanceProofSignerKey(proof, sig, domain);
 * assert.deepEqual([address, publicKey.length], [peer.address.toLowerCase(), 65]);
 * ```
 */
export function recoverBalanceProofSignerKey(
  proof: BalanceProof,
  signature: Hex,
  domain: TokenNetworkDomain,
): RecoveredBalanceProofSigner {
  checkSignatureShape(signature);
  const sig = recoverableSignature(signature);
  try {
    const publicKey = sig.recoverPublicKey(balanceProofDigest(proof, domain)).toBytes(false);
    return { address: addressOf(publicKey), publicKey };
  } catch (err) {
    throw new BalanceProofSignatureError(`cannot recover signer: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * A 65-byte `r || s || v` signature as noble's recoverable signature (v as 27/28 or 0/1);
 * throws {@linkcode BalanceProofSignatureError} when r or s is 0 or past the order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverableSignature } from "./balance_proof.ts";
 *
 * const sig = recoverableSignature(`0x${"11".repeat(32)}${"22".repeat(32)}1c`);
 * assert.equal(sig.recovery, 1);
 * ```
 */
export function recoverableSignature(signature: Hex) {
  const bytes = hexToBytes(signature);
  const v = bytes[64];
  // noble's "recovered" layout puts the recovery bit first.
  const recovered = new Uint8Array(65);
  recovered[0] = v >= 27 ? v - 27 : v;
  recovered.set(bytes.subarray(0, 64), 1);
  try {
    return secp256k1.Signature.fromBytes(recovered, "recovered");
  } catch (err) {
    throw new BalanceProofSignatureError(`cannot recover signer: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The lower-case EVM address of an uncompressed SEC1 public key (65 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressOf } from "./balance_proof.ts";
 * import { secp256k1 } from "@noble/curves/secp256k1.js";
 *
 * const publicKey = secp256k1.getPublicKey(new Uint8Array(32).fill(1), false);
 * assert.equal(addressOf(publicKey), "0x1a642f0e3c3af545e7acbd38b07251b3990914f1");
 * ```
 */
export function addressOf(uncompressed: Uint8Array): `0x${string}` {
  return bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12));
}

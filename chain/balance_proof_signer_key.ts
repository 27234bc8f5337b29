/**
 * One signer's public key, prepared to check many of its balance proofs: the receiving side's
 * per-claim check (chain/claim_verifier.ts). By the system's libsecp256k1 through FFI where it
 * can be used (chain/native_ecdsa_recover.ts), otherwise @noble/curves with precomputed tables
 * built at the first check (bench/claim_verify_bench.ts compares them).
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { equalBytes } from "@noble/curves/utils.js";
import { bytesToHex, hexToBytes } from "viem";
import {
  addressOf,
  type BalanceProof,
  balanceProofDigest,
  checkSignatureShape,
  type Hex,
  recoverableSignature,
  type TokenNetworkDomain,
} from "./balance_proof.ts";
import { loadNativeEcdsaRecover } from "./native_ecdsa_recover.ts";

/** Options for {@linkcode BalanceProofSignerKey}. */
export interface BalanceProofSignerKeyOptions {
  /**
   * wNAF window of the key's (and the generator's) multiplication tables: larger is faster per
   * check and costs 2^(w-1) * (256/w + 1) points per table, built on the first check. Default 8
   * (bench/claim_verify_bench.ts).
   */
  windowSize?: number;
  /**
   * Check with the system's libsecp256k1 when it can be used here (default true); false: always
   * with @noble/curves' tables (the tests hold both to the same answers).
   */
  native?: boolean;
}

type Point = ReturnType<typeof secp256k1.Point.fromBytes>;
const N = secp256k1.Point.Fn.ORDER;
const DEFAULT_WINDOW = 8;
// The generator with its own (wider) tables: noble's shared BASE keeps its default window, so
// signing elsewhere in the process is unaffected.
const generators = new Map<number, Point>();

function generator(windowSize: number): Point {
  let g = generators.get(windowSize);
  if (!g) {
    g = secp256k1.Point.fromAffine(secp256k1.Point.BASE.toAffine()).precompute(windowSize);
    generators.set(windowSize, g);
  }
  return g;
}

/**
 * One signer's public key, prepared to check many balance proofs: ECDSA verification
 * `R = (e/s)G + (r/s)Q` with both multiplications from precomputed tables, instead of
 * recovering Q (a square root for R and a multiplication of an arbitrary point) for every proof.
 * {@linkcode BalanceProofSignerKey.verifies} accepts exactly the signatures for which
 * chain/balance_proof.ts `recoverBalanceProofSignerFast` returns this key's address: R must be the point the
 * recovery would rebuild (x equal to r, not just mod n, and y of v's parity); shape, high-s and
 * v are refused the same way, before any math (tests/unit/chain/balance_proof_signer_key_test.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverBalanceProofSignerKey, signBalanceProof } from "./balance_proof.ts";
 * import { BalanceProofSignerKey } from "./balance_proof_signer_key.ts";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 *
 * const peer = privateKeyToAccount(generatePrivateKey());
 * const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
 * const channelId = `0x${"ab".repeat(32)}` as const;
 * const proof = { channelId, nonce: 1n, transferredAmount: 10n };
 * const sig = await signBalanceProof(proof, { account: peer, domain });
 * const key = new BalanceProofSignerKey(recoverBalanceProofSignerKey(proof, sig, domain).publicKey);
 * const nextProof = { channelId, nonce: 2n, transferredAmount: 25n };
 * const nextSig = await signBalanceProof(nextProof, { account: peer, domain });
 * assert.ok(key.verifies(nextProof, nextSig, domain));
 * ```
 */
export class BalanceProofSignerKey {
  /** Lower-case address of the key. */
  readonly address: `0x${string}`;
  readonly #uncompressed: Uint8Array;
  readonly #windowSize: number;
  readonly #native: boolean;
  #tables: { q: Point; g: Point } | undefined;

  /** `publicKey`: SEC1 bytes (33 or 65); throws when it is not a valid point. */
  constructor(publicKey: Uint8Array, options: BalanceProofSignerKeyOptions = {}) {
    this.#windowSize = options.windowSize ?? DEFAULT_WINDOW;
    this.#native = options.native ?? true;
    this.#uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
    this.address = addressOf(this.#uncompressed);
  }

  /**
   * True when `signature` is this key's signature of `proof`; throws
   * `BalanceProofSignatureError` for a malformed or high-s signature or channel id.
   */
  verifies(proof: BalanceProof, signature: Hex, domain: TokenNetworkDomain): boolean {
    checkSignatureShape(signature);
    let sig: InstanceType<typeof secp256k1.Signature>;
    try {
      sig = recoverableSignature(signature);
    } catch {
      return false; // r or s is 0 or >= n: recovery fails too
    }
    const digest = balanceProofDigest(proof, domain);
    // The system's libsecp256k1 when it can be used here (chain/native_ecdsa_recover.ts).
    const native = this.#native ? loadNativeEcdsaRecover() : null;
    if (native !== null) {
      const key = native.recover(hexToBytes(signature).subarray(0, 64), sig.recovery ?? -1, digest);
      return key !== null && equalBytes(key, this.#uncompressed);
    }
    // A fresh point object: the tables are keyed by the object.
    this.#tables ??= {
      q: secp256k1.Point.fromBytes(this.#uncompressed).precompute(this.#windowSize),
      g: generator(this.#windowSize),
    };
    const e = BigInt(bytesToHex(digest)) % N;
    const { r, s } = sig;
    const w = secp256k1.Point.Fn.inv(s);
    const R = this.#tables.g.multiplyUnsafe(e * w % N).add(
      this.#tables.q.multiplyUnsafe(r * w % N),
    );
    if (R.is0()) return false;
    const { x, y } = R.toAffine();
    return x === r && Number(y & 1n) === sig.recovery;
  }
}

/**
 * BIP-340's test vector 1 (bip-0340/test-vectors.csv), the known answer the native and
 * WebAssembly libsecp256k1 bindings are checked against before they are trusted: the verifier
 * (protocol/native_schnorr.ts) and the event signers (identity/native_event_signer.ts,
 * identity/wasm_event_signer.ts; docs/ARCHITECTURE.md "Signatures").
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";

/** Every input of the vector and its expected output (lowercase hex). */
export const BIP340_VECTOR_1 = {
  secretKey: "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef",
  pubkey: "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659",
  aux: "0000000000000000000000000000000000000000000000000000000000000001",
  msg: "243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89",
  sig: "6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de3341" +
    "8906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a",
} as const;

/** A signer that derives a key pair once and signs a 32-byte hash with given randomness. */
export interface KeyPairSigner<P extends { pubkey: string }> {
  /** The key pair of `secretKey` (its x-only public key in hex among what it holds). */
  pairOf(secretKey: Uint8Array): P;
  /** BIP-340's signature of `hash` with `aux` as its auxiliary randomness, as hex. */
  signHash(hash: Uint8Array, pair: P, aux: Uint8Array): string;
}

/**
 * Whether `signer` gives the vector's public key and, with the vector's auxiliary randomness, its
 * signature byte for byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signsBip340Vector1 } from "./bip340_test_vector.ts";
 *
 * const wrong = { pairOf: () => ({ pubkey: "00" }), signHash: () => "00" };
 * assert.equal(signsBip340Vector1(wrong), false);
 * ```
 */
export function signsBip340Vector1<P extends { pubkey: string }>(
  signer: KeyPairSigner<P>,
): boolean {
  const v = BIP340_VECTOR_1;
  const pair = signer.pairOf(hexToBytes(v.secretKey));
  return pair.pubkey === v.pubkey &&
    signer.signHash(hexToBytes(v.msg), pair, hexToBytes(v.aux)) === v.sig;
}

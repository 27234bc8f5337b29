/**
 * The EVM address of a secp256k1 secret key (EIP-55 checksummed): keccak-256 of the
 * uncompressed public key, last 20 bytes. Computed with @noble (already loaded for Nostr keys)
 * so that the signing worker does not load viem just to name its address; viem is loaded only
 * when an EVM signature is asked for (identity/signer_request_answer.ts).
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/**
 * The checksummed address of `secretKey`.
 *
 * @example
 * ```ts
 * import { generateSecretKey } from "nostr-tools";
 *
 * const secretKey = generateSecretKey();
 * const address = evmAddressOf(secretKey); // "0xf39F...2266"
 * ```
 */
export function evmAddressOf(secretKey: Uint8Array): `0x${string}` {
  return evmAddressOfPublicKey(secp256k1.getPublicKey(secretKey, false));
}

/**
 * The checksummed address of an uncompressed public key (65 bytes, `04 || x || y`): for a caller
 * that has the key's point already (identity/node_signer_worker.ts names its key from one
 * multiplication).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secp256k1 } from "@noble/curves/secp256k1.js";
 * import { generateSecretKey } from "nostr-tools";
 *
 * const secretKey = generateSecretKey();
 * const publicKey = secp256k1.getPublicKey(secretKey, false);
 * assert.equal(evmAddressOfPublicKey(publicKey), evmAddressOf(secretKey));
 * ```
 * @throws {RangeError} when `publicKey` is not 65 bytes starting with 4.
 */
export function evmAddressOfPublicKey(publicKey: Uint8Array): `0x${string}` {
  if (publicKey.length !== 65 || publicKey[0] !== 4) {
    throw new RangeError("an uncompressed public key is 65 bytes starting with 04");
  }
  const hex = bytesToHex(keccak_256(publicKey.subarray(1)).subarray(-20));
  const hash = bytesToHex(keccak_256(new TextEncoder().encode(hex)));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    out += parseInt(hash[i], 16) >= 8 ? hex[i].toUpperCase() : hex[i];
  }
  return out as `0x${string}`;
}

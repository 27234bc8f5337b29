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
  const publicKey = secp256k1.getPublicKey(secretKey, false).subarray(1);
  const hex = bytesToHex(keccak_256(publicKey).subarray(-20));
  const hash = bytesToHex(keccak_256(new TextEncoder().encode(hex)));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    out += parseInt(hash[i], 16) >= 8 ? hex[i].toUpperCase() : hex[i];
  }
  return out as `0x${string}`;
}

/**
 * The proof a paying command hands the profile's node that its user knows the wallet's
 * passphrase (docs/AGENTS.md "The profile's node", docs/OPERATIONS.md "The requester's
 * passphrase"): HMAC-SHA256 of a fixed label under the vault's key, the key Argon2id derives
 * from the passphrase with the wallet's salt and parameters (`identity/key_vault.ts`).
 *
 * The node derives it once, when it unlocks the wallet, and keeps only the proof; each paying
 * request carries the command's, compared in constant time. The proof is in no file (the
 * wallet's key check is another label, truncated), so reading the state dir does not give it;
 * only the passphrase does, at the Argon2id cost. The vault (and its Argon2id) is loaded at the
 * first proof, not with this module: the node's socket imports it for {@linkcode proofMatches}
 * alone.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { SealedSecret } from "./key_vault.ts";

const PROOF_LABEL = new TextEncoder().encode("turnpike node request proof v1");

/**
 * The proof for a passphrase, 64 hex chars; throws `WrongPassphraseError` when the passphrase
 * does not open the vault (its key check differs).
 *
 * @example
 * ```ts
 * import { passphraseProof } from "./passphrase_proof.ts";
 * import { sealSecret } from "./key_vault.ts";
 *
 * const sealed = await sealSecret("leader monkey ...", "correct horse");
 * const proof = await passphraseProof(sealed, "correct horse");
 * ```
 */
export async function passphraseProof(sealed: SealedSecret, passphrase: string): Promise<string> {
  const { deriveVaultKey, labelMac } = await import("./key_vault.ts");
  const keyBytes = await deriveVaultKey(sealed, passphrase);
  try {
    return bytesToHex(await labelMac(keyBytes, PROOF_LABEL));
  } finally {
    keyBytes.fill(0);
  }
}

/**
 * Whether a request's proof equals the node's, in time that does not depend on where they
 * differ; anything but a string of the same length is false.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { proofMatches } from "./passphrase_proof.ts";
 *
 * assert(proofMatches("ab".repeat(32), "ab".repeat(32)));
 * assert(!proofMatches("ab".repeat(32), undefined));
 * ```
 */
export function proofMatches(expected: string, given: unknown): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}

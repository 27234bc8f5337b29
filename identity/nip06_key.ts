/**
 * One secp256k1 key per identity, derived by NIP-06 (`m/44'/1237'/<account>'/0/0`) from a BIP-39
 * mnemonic, serving both Nostr (x-only pubkey, npub/nsec) and EVM (EIP-55 address).
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import { mnemonicToSeedSync } from "@scure/bip39";
import { HDKey } from "@scure/bip32";
import { getPublicKey } from "nostr-tools/pure";
import * as nip19 from "nostr-tools/nip19";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { evmAddressOf } from "./evm_address.ts";
import { importMnemonic } from "./mnemonic.ts";

/** Options for {@linkcode deriveNip06SecretKey}. */
export interface Nip06Options {
  /** Account index (hardened); default 0. */
  account?: number;
  /** Optional BIP-39 passphrase ("25th word"); default none. */
  bip39Passphrase?: string;
}

/** The public faces of a key; safe to display and store unencrypted. */
export interface PublicIdentity {
  /** Nostr public key, x-only, 64 hex chars. */
  pubkey: string;
  /** The same as NIP-19 `npub1...`. */
  npub: string;
  /** EIP-55 checksummed EVM address of the same key. */
  evmAddress: `0x${string}`;
}

/** A secret key is not 32 bytes of valid secp256k1 scalar (hex or nsec). */
export class SecretKeyFormatError extends IdentityError {
  /** `"SecretKeyFormatError"`: explicit so it survives bundling. */
  override name = "SecretKeyFormatError";
}

/**
 * Derives the NIP-06 secret key of a mnemonic (validated first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 *
 * const sk = deriveNip06SecretKey(
 *   "leader monkey parrot ring guide accident before fence cannon height naive bean",
 * );
 * assert.equal(bytesToHex(sk), "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");
 * ```
 */
export function deriveNip06SecretKey(mnemonic: string, options: Nip06Options = {}): Uint8Array {
  const account = options.account ?? 0;
  if (!Number.isInteger(account) || account < 0 || account >= 2 ** 31) {
    throw new RangeError(`account must be an integer 0 to 2^31-1, got ${account}`);
  }
  const seed = mnemonicToSeedSync(importMnemonic(mnemonic), options.bip39Passphrase ?? "");
  const key = HDKey.fromMasterSeed(seed).derive(`m/44'/1237'/${account}'/0/0`);
  seed.fill(0);
  if (!key.privateKey) throw new SecretKeyFormatError("derivation produced no private key");
  return Uint8Array.from(key.privateKey);
}

/**
 * The Nostr and EVM public identity of a secret key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 *
 * const sk = generateSecretKey();
 * const id = publicIdentity(sk);
 * assert.ok(id.npub.startsWith("npub1") && /^0x[0-9a-fA-F]{40}$/.test(id.evmAddress));
 * ```
 */
export function publicIdentity(secretKey: Uint8Array): PublicIdentity {
  checkSecretKey(secretKey);
  const pubkey = getPublicKey(secretKey);
  return {
    pubkey,
    npub: nip19.npubEncode(pubkey),
    evmAddress: evmAddressOf(secretKey),
  };
}

/**
 * NIP-19 `nsec1...` of a secret key (for export to other Nostr clients; treat as secret).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 *
 * const sk = generateSecretKey();
 * assert.ok(encodeNsec(sk).startsWith("nsec1"));
 * ```
 */
export function encodeNsec(secretKey: Uint8Array): string {
  checkSecretKey(secretKey);
  return nip19.nsecEncode(secretKey);
}

/**
 * Parses a secret key given as 64 hex chars (optionally `0x`) or `nsec1...`; surrounding
 * whitespace is ignored. The message never contains the input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sk = parseSecretKey("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a\n");
 * assert.equal(sk.length, 32); // hex or nsec, trailing newline allowed
 * assert.throws(() => parseSecretKey("not a key"), SecretKeyFormatError);
 * ```
 */
export function parseSecretKey(text: string): Uint8Array {
  const t = text.trim();
  let key: Uint8Array;
  if (t.startsWith("nsec1")) {
    try {
      const decoded = nip19.decode(t);
      if (decoded.type !== "nsec") throw new Error("not an nsec");
      key = decoded.data;
    } catch {
      throw new SecretKeyFormatError("invalid nsec encoding");
    }
  } else {
    const hex = t.startsWith("0x") ? t.slice(2) : t;
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new SecretKeyFormatError("a secret key is 64 hex characters or an nsec1 string");
    }
    key = hexToBytes(hex.toLowerCase());
  }
  checkSecretKey(key);
  return key;
}

// The secp256k1 group order: a valid secret key is 1 <= k < N.
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function checkSecretKey(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new SecretKeyFormatError("a secret key is 32 bytes");
  }
  const k = BigInt(`0x${bytesToHex(secretKey)}`);
  if (k === 0n || k >= N) throw new SecretKeyFormatError("secret key is outside the curve order");
}

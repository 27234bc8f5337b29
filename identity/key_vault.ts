/**
 * Encryption of a secret (mnemonic or raw key) at rest: Argon2id derives a 32-byte key from the
 * passphrase (the system's libargon2 where FFI is allowed, identity/native_argon2.ts; hash-wasm,
 * loaded then, otherwise), AES-256-GCM (WebCrypto) seals the secret. The blob is
 * `base64(salt16 | nonce12 | ciphertext+tag16)`.
 *
 * A separate 16-byte key check (HMAC-SHA256 of a fixed label under the derived key) tells a wrong
 * passphrase (check differs) from a damaged blob (check matches, GCM tag fails). It reveals
 * nothing the GCM tag does not already let an attacker test, at the same Argon2id cost.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { CorruptVaultError, WrongPassphraseError } from "./vault_errors.ts";
import { loadNativeArgon2id } from "./native_argon2.ts";

export { CorruptVaultError, WrongPassphraseError } from "./vault_errors.ts";

/** Argon2id parameters, stored with the blob so they can be raised later. */
export interface VaultKdfParams {
  /** Only Argon2id is supported; anything else is a corrupt vault. */
  algorithm: "argon2id";
  /** Memory in KiB (65536 = 64 MiB). */
  memoryKiB: number;
  /** Argon2id time cost (passes over memory), 1-64. */
  iterations: number;
  /** Argon2id lanes (degree of parallelism), 1-64. */
  parallelism: number;
  /** Derived key length in bytes (32 for AES-256). */
  hashLength: number;
}

/** The parameters the design requires: m=64 MiB, t=1, p=4, 32-byte key. */
export const DEFAULT_KDF_PARAMS: Readonly<VaultKdfParams> = Object.freeze({
  algorithm: "argon2id",
  memoryKiB: 65536,
  iterations: 1,
  parallelism: 4,
  hashLength: 32,
});

/** A sealed secret. */
export interface SealedSecret {
  /** base64(salt16 | nonce12 | ciphertext+tag16). */
  blob: string;
  /** Key check, 32 hex chars; see the module doc. */
  check: string;
  /** Parameters the key was derived with; opening uses these, not the defaults. */
  kdf: VaultKdfParams;
}

/** Options for {@linkcode sealSecret} and {@linkcode openSecret}. */
export interface VaultOptions {
  /** KDF parameters; default {@linkcode DEFAULT_KDF_PARAMS}. Ignored by openSecret. */
  kdf?: VaultKdfParams;
}

const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Largest secret sealed (a mnemonic is < 300 bytes; keys are 32). */
export const MAX_SECRET_BYTES = 4096;
const MAX_BLOB_CHARS = Math.ceil((SALT_BYTES + NONCE_BYTES + MAX_SECRET_BYTES + TAG_BYTES) / 3) *
  4;
const CHECK_LABEL = new TextEncoder().encode("turnpike key vault check v1");

/**
 * Encrypts a secret under a passphrase.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sealed = await sealSecret("leader monkey ...", "correct horse"); // argon2id, then AES-GCM
 * const words = new TextDecoder().decode(await openSecret(sealed, "correct horse"));
 * assert.equal(words, "leader monkey ...");
 * ```
 */
export async function sealSecret(
  secret: string | Uint8Array,
  passphrase: string,
  options: VaultOptions = {},
): Promise<SealedSecret> {
  const kdf = checkKdf(options.kdf ?? DEFAULT_KDF_PARAMS);
  const plain = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  if (plain.length === 0 || plain.length > MAX_SECRET_BYTES) {
    throw new RangeError(`secret must be 1 to ${MAX_SECRET_BYTES} bytes`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const keyBytes = await deriveKey(passphrase, salt, kdf);
  try {
    const aes = await importAesKey(keyBytes);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, aes, plain as BufferSource),
    );
    const blob = new Uint8Array(SALT_BYTES + NONCE_BYTES + sealed.length);
    blob.set(salt, 0);
    blob.set(nonce, SALT_BYTES);
    blob.set(sealed, SALT_BYTES + NONCE_BYTES);
    return { blob: blob.toBase64(), check: await keyCheck(keyBytes), kdf: { ...kdf } };
  } finally {
    keyBytes.fill(0);
  }
}

/**
 * Decrypts a sealed secret. Throws {@linkcode WrongPassphraseError} or
 * {@linkcode CorruptVaultError}. The caller should zero the result when done.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sealed = await sealSecret(new Uint8Array(32).fill(7), "correct horse");
 * assert.deepEqual(await openSecret(sealed, "correct horse"), new Uint8Array(32).fill(7));
 * await assert.rejects(openSecret(sealed, "wrong horse"), WrongPassphraseError);
 * ```
 */
export async function openSecret(sealed: SealedSecret, passphrase: string): Promise<Uint8Array> {
  const kdf = checkKdf(sealed.kdf, CorruptVaultError);
  const blob = parseBlob(sealed.blob);
  if (sealed.check !== undefined && !/^[0-9a-f]{32}$/.test(sealed.check)) {
    throw new CorruptVaultError("key check is not 32 hex characters");
  }
  const salt = blob.subarray(0, SALT_BYTES);
  const nonce = blob.subarray(SALT_BYTES, SALT_BYTES + NONCE_BYTES);
  const body = blob.subarray(SALT_BYTES + NONCE_BYTES);
  const keyBytes = await deriveKey(passphrase, salt, kdf);
  try {
    const checkMatches = sealed.check === undefined || await keyCheck(keyBytes) === sealed.check;
    if (!checkMatches) throw new WrongPassphraseError();
    const aes = await importAesKey(keyBytes);
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce as BufferSource },
        aes,
        body as BufferSource,
      );
      return new Uint8Array(plain);
    } catch {
      if (sealed.check === undefined) {
        throw new WrongPassphraseError("wrong passphrase, or the vault is damaged");
      }
      throw new CorruptVaultError("authentication failed: the vault blob was altered");
    }
  } finally {
    keyBytes.fill(0);
  }
}

/**
 * The vault's key derived from a passphrase (its salt and KDF parameters), checked against the
 * vault's key check: the key the secret is sealed under, for values bound to the passphrase
 * without opening the secret (`identity/passphrase_proof.ts`). Throws
 * {@linkcode WrongPassphraseError} when the check differs. The caller zeroes the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sealed = await sealSecret("leader monkey ...", "correct horse");
 * const key = await deriveVaultKey(sealed, "correct horse"); // the AES key, for a worker to hold
 * assert.equal(key.length, 32);
 * key.fill(0);
 * ```
 */
export async function deriveVaultKey(
  sealed: SealedSecret,
  passphrase: string,
): Promise<Uint8Array> {
  const kdf = checkKdf(sealed.kdf, CorruptVaultError);
  const blob = parseBlob(sealed.blob);
  const keyBytes = await deriveKey(passphrase, blob.subarray(0, SALT_BYTES), kdf);
  if (sealed.check !== undefined && await keyCheck(keyBytes) !== sealed.check) {
    keyBytes.fill(0);
    throw new WrongPassphraseError();
  }
  return keyBytes;
}

function parseBlob(text: string): Uint8Array {
  if (typeof text !== "string" || text.length > MAX_BLOB_CHARS) {
    throw new CorruptVaultError(`blob is not a string of at most ${MAX_BLOB_CHARS} characters`);
  }
  let blob: Uint8Array;
  try {
    blob = Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    throw new CorruptVaultError("blob is not valid base64");
  }
  if (blob.length < SALT_BYTES + NONCE_BYTES + TAG_BYTES + 1) {
    throw new CorruptVaultError(`blob is too short (${blob.length} bytes)`);
  }
  return blob;
}

type ErrorClass = new (message: string) => Error;

// Bounds keep a tampered wallet file from making us allocate gigabytes or spin for minutes.
function checkKdf(kdf: VaultKdfParams, Err: ErrorClass = RangeError): VaultKdfParams {
  const ok = typeof kdf === "object" && kdf !== null && kdf.algorithm === "argon2id" &&
    isInt(kdf.memoryKiB, 8 * (kdf.parallelism ?? 1), 4 * 1024 * 1024) &&
    isInt(kdf.iterations, 1, 64) && isInt(kdf.parallelism, 1, 64) &&
    kdf.hashLength === 32;
  if (!ok) {
    throw new Err(
      "KDF parameters must be argon2id, memoryKiB >= 8*parallelism and <= 4 GiB, iterations 1-64, parallelism 1-64, hashLength 32",
    );
  }
  return kdf;
}

function isInt(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

async function deriveKey(passphrase: string, salt: Uint8Array, kdf: VaultKdfParams) {
  const native = await loadNativeArgon2id();
  if (native) {
    const password = new TextEncoder().encode(passphrase.normalize("NFC"));
    try {
      return await native({
        password,
        salt,
        iterations: kdf.iterations,
        parallelism: kdf.parallelism,
        memoryKiB: kdf.memoryKiB,
        hashLength: kdf.hashLength,
      });
    } finally {
      password.fill(0);
    }
  }
  const { argon2id } = await import("hash-wasm");
  return await argon2id({
    password: passphrase.normalize("NFC"),
    salt,
    iterations: kdf.iterations,
    parallelism: kdf.parallelism,
    memorySize: kdf.memoryKiB,
    hashLength: kdf.hashLength,
    outputType: "binary",
  });
}

async function importAesKey(keyBytes: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", keyBytes as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

async function keyCheck(keyBytes: Uint8Array): Promise<string> {
  return bytesToHex((await labelMac(keyBytes, CHECK_LABEL)).subarray(0, 16));
}

/**
 * HMAC-SHA256 of a fixed label under a key derived by {@linkcode deriveVaultKey}: the vault's
 * key check, and the node's passphrase proof (identity/passphrase_proof.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelMac } from "./key_vault.ts";
 *
 * const mac = await labelMac(new Uint8Array(32), new TextEncoder().encode("a label"));
 * assert(mac.length === 32);
 * ```
 */
export async function labelMac(keyBytes: Uint8Array, label: Uint8Array): Promise<Uint8Array> {
  const hmac = await crypto.subtle.importKey(
    "raw",
    keyBytes as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", hmac, label as BufferSource));
}

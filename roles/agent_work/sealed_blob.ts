/**
 * A sealed blob: bytes encrypted with a key of their own, so that the town's Blossom store holds
 * ciphertext only (docs/PROTOCOL.md "Agent work"). AES-256-GCM through WebCrypto (native, and
 * as fast as the machine's AES instructions), with a fresh random 32-byte key per blob, which is
 * what makes a random 12-byte nonce safe: a key encrypts one message only.
 *
 * The format, version 1 (all of it read before a byte is decrypted):
 *
 *     offset  size  what
 *     0       4     magic "TPSB" (0x54 0x50 0x53 0x42)
 *     4       1     version, 1
 *     5       12    the GCM nonce
 *     17      n+16  AES-256-GCM of the n plaintext bytes, then its 16-byte tag
 *
 * The 17 header bytes are the GCM additional data, so a changed version or nonce fails as a
 * changed ciphertext does. The key travels apart: a repository's in the job's encrypted params
 * (`repo-key`), a result's sealed with its delivery invoice's fulfillment (protocol/delivery_key.ts),
 * so that paying the delivery is what opens it (docs/PROTOCOL.md "Paid on delivery").
 *
 * @module
 */
import { SealedBlobFormatError, SealedBlobTamperedError } from "./agent_work_errors.ts";

/** The first bytes of a sealed blob: "TPSB". */
export const SEALED_BLOB_MAGIC: Uint8Array = new Uint8Array([0x54, 0x50, 0x53, 0x42]);
/** The version this code writes and reads. */
export const SEALED_BLOB_VERSION = 1;
/** Bytes of a blob key. */
export const BLOB_KEY_BYTES = 32;
/** Bytes a seal adds: the header (17) and the tag (16). */
export const SEALED_BLOB_OVERHEAD = 33;

/** Bytes of the header (magic, version, nonce): the GCM additional data. */
export const SEALED_BLOB_HEADER_BYTES = 17;
const NONCE_BYTES = 12;
const HEADER_BYTES = SEALED_BLOB_HEADER_BYTES;

/** A blob sealed, and the key that opens it. */
export interface SealedBlob {
  /** The sealed bytes (header, ciphertext, tag). */
  sealed: Uint8Array<ArrayBuffer>;
  /** Its key (32 bytes): keep it, wrap it to the reader, never store it beside the blob. */
  key: Uint8Array<ArrayBuffer>;
}

/**
 * Seals `plain` with a fresh random key, or with `key`: then only a key that seals nothing else
 * (one from {@linkcode derivedBlobKey}), so that each key still seals one message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlob, sealBlob } from "./sealed_blob.ts";
 *
 * const { sealed, key } = await sealBlob(new TextEncoder().encode("diff --git"));
 * assert.equal(new TextDecoder().decode(await openBlob(sealed, key)), "diff --git");
 * ```
 */
export async function sealBlob(
  plain: Uint8Array<ArrayBuffer>,
  key: Uint8Array<ArrayBuffer> = crypto.getRandomValues(new Uint8Array(BLOB_KEY_BYTES)),
): Promise<SealedBlob> {
  checkBlobKey(key);
  const header = newSealedBlobHeader();
  const cipher = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: header.subarray(5), additionalData: header },
      await importKey(key, "encrypt"),
      plain,
    ),
  );
  const sealed = new Uint8Array(HEADER_BYTES + cipher.length);
  sealed.set(header, 0);
  sealed.set(cipher, HEADER_BYTES);
  return { sealed, key };
}

/**
 * Opens a sealed blob; throws {@linkcode SealedBlobFormatError} for a header this code does not
 * read and {@linkcode SealedBlobTamperedError} when a byte changed or the key is another's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlob, sealBlob } from "./sealed_blob.ts";
 *
 * const { sealed, key } = await sealBlob(new Uint8Array([1, 2, 3]));
 * assert.equal((await openBlob(sealed, key)).length, 3);
 * ```
 */
export async function openBlob(
  sealed: Uint8Array<ArrayBuffer>,
  key: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  checkBlobKey(key);
  checkSealedBlobHeader(sealed, sealed.length);
  const header = sealed.subarray(0, HEADER_BYTES);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: sealed.subarray(5, HEADER_BYTES), additionalData: header },
        await importKey(key, "decrypt"),
        sealed.subarray(HEADER_BYTES),
      ),
    );
  } catch (err) {
    throw new SealedBlobTamperedError("the sealed blob does not open with this key", {
      cause: err,
    });
  }
}

/**
 * Throws {@linkcode SealedBlobFormatError} unless `key` is a blob key's length.
 *
 * @example
 * ```ts
 * import { checkBlobKey } from "./sealed_blob.ts";
 *
 * checkBlobKey(new Uint8Array(32));
 * ```
 */
export function checkBlobKey(key: Uint8Array): void {
  if (key.length !== BLOB_KEY_BYTES) {
    throw new SealedBlobFormatError(`a blob key is ${BLOB_KEY_BYTES} bytes, not ${key.length}`);
  }
}

/**
 * A new header: the magic, the version and a fresh random nonce (its last 12 bytes).
 *
 * @example
 * ```ts
 * import { checkSealedBlobHeader, newSealedBlobHeader } from "./sealed_blob.ts";
 *
 * checkSealedBlobHeader(newSealedBlobHeader(), 33);
 * ```
 */
export function newSealedBlobHeader(): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(HEADER_BYTES);
  header.set(SEALED_BLOB_MAGIC, 0);
  header[4] = SEALED_BLOB_VERSION;
  header.set(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), 5);
  return header;
}

/**
 * Throws {@linkcode SealedBlobFormatError} unless a sealed blob of `size` bytes, whose first bytes
 * are `header`, is one this code reads: long enough, the magic, the version.
 *
 * @example
 * ```ts
 * import { checkSealedBlobHeader } from "./sealed_blob.ts";
 *
 * let refused = false;
 * try {
 *   checkSealedBlobHeader(new Uint8Array(17), 33);
 * } catch {
 *   refused = true; // no magic
 * }
 * if (!refused) throw new Error("read a header without the magic");
 * ```
 */
export function checkSealedBlobHeader(header: Uint8Array, size: number): void {
  if (size < SEALED_BLOB_OVERHEAD) {
    throw new SealedBlobFormatError(`${size} bytes are too few for a sealed blob`);
  }
  if (!SEALED_BLOB_MAGIC.every((b, i) => header[i] === b)) {
    throw new SealedBlobFormatError("not a sealed blob (no TPSB magic)");
  }
  if (header[4] !== SEALED_BLOB_VERSION) {
    throw new SealedBlobFormatError(`sealed blob version ${header[4]} is not one this code reads`);
  }
}

/**
 * A key of its own for another blob of the same delivery, derived from `key` (HKDF-SHA-256,
 * `label` as its info): whoever holds `key` derives it, nobody else. An agent-task's transcript is
 * sealed with the one derived from its result bundle's key, so the one key that the delivery's
 * payment releases opens both (docs/PROTOCOL.md "agent-task (kind 5603)").
 *
 * @example
 * ```ts
 * import { derivedBlobKey, openBlob, sealBlob } from "./sealed_blob.ts";
 *
 * const { key } = await sealBlob(new Uint8Array([1]));
 * const sub = await derivedBlobKey(key, "transcript");
 * const { sealed } = await sealBlob(new TextEncoder().encode("log"), sub);
 * const again = await derivedBlobKey(key, "transcript");
 * if (new TextDecoder().decode(await openBlob(sealed, again)) !== "log") throw new Error();
 * if (sub.every((b, i) => b === key[i])) throw new Error("the same key");
 * ```
 */
export async function derivedBlobKey(
  key: Uint8Array<ArrayBuffer>,
  label: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const base = await crypto.subtle.importKey("raw", key, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(0),
      info: new TextEncoder().encode(`turnpike sealed blob: ${label}`),
    },
    base,
    BLOB_KEY_BYTES * 8,
  );
  return new Uint8Array(bits);
}

function importKey(key: Uint8Array<ArrayBuffer>, use: KeyUsage): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", key, "AES-GCM", false, [use]);
}

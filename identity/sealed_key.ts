/**
 * A secret key sealed to one recipient for the trip through a thread that must not read it: the
 * key's worker (identity/node_signer_worker.ts) makes an X25519 key pair whose private half never
 * leaves its isolate (a non-extractable `CryptoKey`) and hands out the public half; the process
 * that unlocked a wallet (identity/wallet_unlock_process.ts) seals the wallet's key to it; the
 * node's thread carries the sealed box from one to the other and cannot open it
 * (docs/ARCHITECTURE.md "The key's worker").
 *
 * The box: an ephemeral X25519 key pair per seal, HKDF-SHA-256 over the shared secret (salt: the
 * two public keys), AES-256-GCM with a random 96-bit nonce. Web Crypto only, which a worker with
 * no permissions and a process with none both have.
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";

/** A key sealed by {@linkcode sealKey}: every field base64. */
export interface SealedKey {
  /** The sender's ephemeral X25519 public key (32 bytes). */
  ephemeral: string;
  /** The AES-GCM nonce (12 bytes). */
  nonce: string;
  /** The key's bytes encrypted, with GCM's 16-byte tag. */
  box: string;
}

/** A sealed key that does not open with the recipient's key (tampered, or sealed to another). */
export class SealedKeyError extends IdentityError {
  /** `"SealedKeyError"`: explicit so it survives bundling and worker messages. */
  override name = "SealedKeyError";
}

/** The recipient's side: the private key stays in this object, the public one is given out. */
export interface KeyRecipient {
  /** The X25519 public key to seal to (32 bytes). */
  publicKey: Uint8Array;
  /** Opens a box sealed to {@linkcode KeyRecipient.publicKey}. */
  open(sealed: SealedKey): Promise<Uint8Array>;
}

const INFO = new TextEncoder().encode("turnpike sealed key v1");

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function boxKey(
  privateKey: CryptoKey,
  peer: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  usage: "encrypt" | "decrypt",
): Promise<CryptoKey> {
  const peerKey = await crypto.subtle.importKey("raw", peer, { name: "X25519" }, false, []);
  const shared = await crypto.subtle.deriveBits(
    { name: "X25519", public: peerKey },
    privateKey,
    256,
  );
  const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: INFO },
    hkdf,
    { name: "AES-GCM", length: 256 },
    false,
    [usage],
  );
}

function saltOf(ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array<ArrayBuffer> {
  const salt = new Uint8Array(64);
  salt.set(ephemeral, 0);
  salt.set(recipient, 32);
  return salt;
}

/**
 * A fresh recipient: an X25519 key pair whose private half cannot be exported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const recipient = await newKeyRecipient();
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await sealKey(key, recipient.publicKey);
 * assert.deepEqual(await recipient.open(sealed), key);
 * ```
 */
export async function newKeyRecipient(): Promise<KeyRecipient> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    publicKey,
    open: async (sealed) => {
      try {
        const ephemeral = fromBase64(sealed.ephemeral);
        const key = await boxKey(
          pair.privateKey,
          ephemeral,
          saltOf(ephemeral, publicKey),
          "decrypt",
        );
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: fromBase64(sealed.nonce) },
          key,
          fromBase64(sealed.box),
        );
        return new Uint8Array(plain);
      } catch (err) {
        throw new SealedKeyError("the sealed key does not open with this recipient's key", {
          cause: err,
        });
      }
    },
  };
}

/**
 * Seals `secretKey` to `recipient` (an X25519 public key from {@linkcode newKeyRecipient}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const recipient = await newKeyRecipient();
 * const sealed = await sealKey(new Uint8Array(32).fill(7), recipient.publicKey);
 * assert.equal(sealed.box.includes("BwcH"), false); // base64 of 7,7,7 is not in the box
 * ```
 */
export async function sealKey(secretKey: Uint8Array, recipient: Uint8Array): Promise<SealedKey> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const ephemeral = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const peer = Uint8Array.from(recipient);
  const key = await boxKey(pair.privateKey, peer, saltOf(ephemeral, peer), "encrypt");
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const box = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce },
    key,
    Uint8Array.from(secretKey),
  );
  return {
    ephemeral: toBase64(ephemeral),
    nonce: toBase64(nonce),
    box: toBase64(new Uint8Array(box)),
  };
}

/**
 * Incremental SHA-256 for blobs hashed while they stream (uploads, downloads, files).
 *
 * Deno's `node:crypto` hash runs natively (SHA-NI where the CPU has it): 920-940 MiB/s here,
 * against 91-97 MiB/s for hash-wasm and 67-82 MiB/s for @noble/hashes on the same data, in
 * 32 KiB or 1 MiB chunks (WebCrypto is as fast but only hashes a whole buffer at once).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A running SHA-256. */
export interface StreamingSha256 {
  update(bytes: Uint8Array): void;
  /** The digest as lowercase hex; the hash cannot be updated afterwards. */
  digestHex(): string;
}

/**
 * A new incremental SHA-256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createStreamingSha256 } from "./streaming_sha256.ts";
 *
 * const body = new Response("").body!;
 * const hash = createStreamingSha256();
 * for await (const chunk of body) hash.update(chunk);
 * assert.equal(hash.digestHex().slice(0, 8), "e3b0c442");
 * ```
 */
export function createStreamingSha256(): StreamingSha256 {
  const hash = createHash("sha256");
  return {
    update: (bytes) => void hash.update(bytes),
    digestHex: () => hash.digest("hex"),
  };
}

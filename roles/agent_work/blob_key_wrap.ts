/**
 * A sealed blob's key (roles/agent_work/sealed_blob.ts) wrapped to its one reader with NIP-44
 * v2, through the node's {@linkcode NodeSigner} (the key never leaves its worker: the signer
 * hands out the conversation key with that peer, as for gift wraps and NIP-90 encrypted
 * params). The wrapped form is NIP-44's base64 payload of the key's 64 hex digits
 * (docs/PROTOCOL.md "Agent work").
 *
 * @module
 */
import { nip44 } from "nostr-tools";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { BlobKeyError } from "./agent_work_errors.ts";
import { BLOB_KEY_BYTES } from "./sealed_blob.ts";

/** Options of {@linkcode wrapBlobKey}. */
export interface WrapBlobKeyOptions {
  /** The sender's signer. */
  signer: NodeSigner;
  /** The reader's Nostr public key (64 hex digits). */
  recipient: string;
  /** The blob key (32 bytes). */
  key: Uint8Array;
}

/** Options of {@linkcode unwrapBlobKey}. */
export interface UnwrapBlobKeyOptions {
  /** The reader's signer. */
  signer: NodeSigner;
  /** The sender's Nostr public key (64 hex digits). */
  sender: string;
  /** The NIP-44 payload {@linkcode wrapBlobKey} made. */
  wrapped: string;
}

/**
 * Wraps a blob key to `recipient`.
 *
 * @example
 * ```ts
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { unwrapBlobKey, wrapBlobKey } from "./blob_key_wrap.ts";
 *
 * const a = generateSecretKey();
 * const b = generateSecretKey();
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const wrapped = await wrapBlobKey({
 *   signer: localNodeSigner(a),
 *   recipient: getPublicKey(b),
 *   key,
 * });
 * await unwrapBlobKey({ signer: localNodeSigner(b), sender: getPublicKey(a), wrapped }); // key
 * ```
 */
export async function wrapBlobKey(options: WrapBlobKeyOptions): Promise<string> {
  if (options.key.length !== BLOB_KEY_BYTES) {
    throw new BlobKeyError(`a blob key is ${BLOB_KEY_BYTES} bytes, not ${options.key.length}`);
  }
  const conversation = await options.signer.conversationKey(options.recipient);
  return nip44.v2.encrypt(bytesToHex(options.key), conversation);
}

/**
 * Unwraps a blob key from `sender`; throws {@linkcode BlobKeyError} when NIP-44 refuses the
 * payload or it does not hold a 32-byte key. A `NodeSignerError` (the signer cannot answer) is
 * let through: it is no verdict on the payload.
 *
 * @example
 * ```ts
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { unwrapBlobKey } from "./blob_key_wrap.ts";
 *
 * const me = localNodeSigner(generateSecretKey());
 * await unwrapBlobKey({ signer: me, sender: getPublicKey(generateSecretKey()), wrapped: "A" })
 *   .catch((e) => e.code); // "blob-key"
 * ```
 */
export async function unwrapBlobKey(
  options: UnwrapBlobKeyOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const conversation = await options.signer.conversationKey(options.sender);
  let hex: string;
  try {
    hex = nip44.v2.decrypt(options.wrapped, conversation);
  } catch (err) {
    throw new BlobKeyError("the wrapped blob key does not decrypt", { cause: err });
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new BlobKeyError("the wrapped text is not a blob key");
  return new Uint8Array(hexToBytes(hex));
}

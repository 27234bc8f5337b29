/**
 * A delivery's commitment (docs/PROTOCOL.md "Paid on delivery"): what a result paid on delivery
 * promises its key opens, in the result event's public tags, so the provider's signature covers
 * it before anything is paid:
 *
 *     ["commit-key", "<sha256 of the result key>", "<sha256 of the sealed key's 40 bytes>"]
 *     ["commit-blob", "<name>", "<sha256 of the sealed blob>", "<sha256 of its plaintext>"]
 *
 * one `commit-key`, one `commit-blob` per sealed blob. The requester checks the sealed blobs it
 * downloads against it before paying; after paying, the key the fulfillment released against
 * it. A key or a blob that does not keep the promise is a proof against the provider
 * (roles/agent_work/delivery_proof.ts). The hashes reveal nothing: the key is random, the sealed
 * key is what only the fulfillment opens, and a plaintext's hash confirms only a guess of the
 * whole plaintext.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ProtocolError } from "./protocol_error.ts";

/** A commitment that is missing, repeated or malformed. */
export class DeliveryCommitmentError extends ProtocolError {
  override name = "DeliveryCommitmentError";
}

/** One sealed blob a delivery commits to. */
export interface CommittedBlob {
  /** Its name, as in the result's `blob` tag. */
  name: string;
  /** The sha256 of the sealed bytes (the Blossom hash). */
  sealed: string;
  /** The sha256 of what it opens to. */
  plain: string;
}

/** What a result paid on delivery commits to. */
export interface DeliveryCommitment {
  /** The sha256 of the result key (32 bytes) the delivery's fulfillment opens. */
  key: string;
  /** The sha256 of the sealed key (the content's `sealedKey`, its 40 bytes). */
  sealedKey: string;
  /** The sealed blobs. */
  blobs: CommittedBlob[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The sha256 of `bytes`, 64 hex (a hex string is hashed as the bytes it spells).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./delivery_commitment.ts";
 *
 * if (sha256Hex(new Uint8Array()) !== sha256Hex("")) throw new Error();
 * ```
 */
export function sha256Hex(bytes: Uint8Array | string): string {
  return bytesToHex(sha256(typeof bytes === "string" ? hexToBytes(bytes) : bytes));
}

/**
 * The tags of a commitment.
 *
 * @example
 * ```ts
 * import { commitmentTags, parseDeliveryCommitment } from "./delivery_commitment.ts";
 *
 * const c = { key: "aa".repeat(32), sealedKey: "bb".repeat(32), blobs: [] };
 * if (parseDeliveryCommitment(commitmentTags(c))?.key !== c.key) throw new Error();
 * ```
 */
export function commitmentTags(c: DeliveryCommitment): string[][] {
  return [
    ["commit-key", c.key, c.sealedKey],
    ...c.blobs.map((b) => ["commit-blob", b.name, b.sealed, b.plain]),
  ];
}

/**
 * The commitment of a result's tags; undefined when it carries none; throws
 * {@linkcode DeliveryCommitmentError} for a malformed or repeated one.
 *
 * @example
 * ```ts
 * import { parseDeliveryCommitment } from "./delivery_commitment.ts";
 *
 * if (parseDeliveryCommitment([["amount", "1"]]) !== undefined) throw new Error();
 * ```
 */
export function parseDeliveryCommitment(
  tags: readonly string[][],
): DeliveryCommitment | undefined {
  const keys = tags.filter((t) => t[0] === "commit-key");
  const blobTags = tags.filter((t) => t[0] === "commit-blob");
  if (keys.length === 0 && blobTags.length === 0) return undefined;
  if (keys.length !== 1) throw new DeliveryCommitmentError(`${keys.length} commit-key tags`);
  const [, key, sealedKey] = keys[0];
  if (!HEX64.test(key ?? "") || !HEX64.test(sealedKey ?? "")) {
    throw new DeliveryCommitmentError("a commit-key tag holds two sha256 (64 hex)");
  }
  const blobs: CommittedBlob[] = [];
  for (const [, name, sealed, plain] of blobTags) {
    if (!name || !HEX64.test(sealed ?? "") || !HEX64.test(plain ?? "")) {
      throw new DeliveryCommitmentError("a commit-blob tag holds a name and two sha256");
    }
    if (blobs.some((b) => b.name === name)) {
      throw new DeliveryCommitmentError(`two commit-blob tags for ${name}`);
    }
    blobs.push({ name, sealed, plain });
  }
  return { key, sealedKey, blobs };
}

/**
 * A result's content with its `commitment` member (the runner's: `key` and `blobs`, its sealed
 * key already in `sealedKey`) taken out, and the tags that carry it; any other content unchanged
 * and no tags.
 *
 * @example
 * ```ts
 * import { liftCommitment } from "./delivery_commitment.ts";
 *
 * const content = JSON.stringify({
 *   sealedKey: "cc".repeat(40),
 *   commitment: { key: "aa".repeat(32), blobs: [] },
 * });
 * const lifted = liftCommitment(content);
 * if (lifted.content.includes("commitment") || lifted.tags.length !== 1) throw new Error();
 * ```
 */
export function liftCommitment(content: string): { content: string; tags: string[][] } {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch {
    return { content, tags: [] };
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return { content, tags: [] };
  const { commitment, ...rest } = doc as Record<string, unknown>;
  const c = commitment as { key?: unknown; blobs?: unknown } | undefined;
  if (typeof rest.sealedKey !== "string" || typeof c?.key !== "string") {
    return { content, tags: [] };
  }
  const tags = commitmentTags({
    key: c.key,
    sealedKey: sha256Hex(rest.sealedKey),
    blobs: Array.isArray(c.blobs) ? c.blobs as CommittedBlob[] : [],
  });
  parseDeliveryCommitment(tags);
  return { content: JSON.stringify(rest), tags };
}

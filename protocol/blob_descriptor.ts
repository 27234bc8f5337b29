/**
 * The BUD-02 blob descriptor: what a Blossom server answers to an upload and lists.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** A blob as a Blossom server describes it. */
export interface BlobDescriptor {
  /** Where to GET it (`<server>/<sha256>`). */
  url: string;
  sha256: string;
  /** Bytes. */
  size: number;
  /** MIME type, when known. */
  type?: string;
  /** Unix seconds of the upload. */
  uploaded: number;
}

/** A descriptor that is not one. */
export class BlobDescriptorError extends ProtocolError {
  override name = "BlobDescriptorError";
}

/**
 * Reads a descriptor from parsed JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBlobDescriptor } from "./blob_descriptor.ts";
 *
 * const sha256 = "ab".repeat(32);
 * const response = Response.json({ url: `https://town.example/${sha256}`, sha256, size: 5, uploaded: 1 });
 * const d = parseBlobDescriptor(await response.json());
 * assert.equal(d.size, 5);
 * ```
 */
export function parseBlobDescriptor(value: unknown): BlobDescriptor {
  const v = value as Record<string, unknown> | null;
  if (
    typeof v !== "object" || v === null || typeof v.url !== "string" ||
    typeof v.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(v.sha256) ||
    !Number.isSafeInteger(v.size) || !Number.isSafeInteger(v.uploaded) ||
    (v.type !== undefined && typeof v.type !== "string")
  ) {
    throw new BlobDescriptorError("not a blob descriptor (url, sha256, size, uploaded)");
  }
  return {
    url: v.url,
    sha256: v.sha256,
    size: v.size as number,
    type: v.type as string | undefined,
    uploaded: v.uploaded as number,
  };
}

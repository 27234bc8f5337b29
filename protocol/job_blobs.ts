/**
 * How NIP-90 jobs carry blobs (docs/PROTOCOL.md "Blobs in jobs"):
 *
 * - A job input too large for an event is a Blossom blob: `["i", "<server>/<sha256>", "url"]`
 *   plus `["x", "<sha256>"]` (NIP-94 style). A `url` input is a blob input exactly when the last
 *   segment of its path (less a file extension) is a sha256 named by an `x` tag; the provider
 *   fetches and verifies it before the job runs.
 * - The same blob may be on every town the job is posted to (the request's `relays` tag): a
 *   provider that cannot get it from the `i` URL tries `<town's HTTP URL>/<sha256>` of each of
 *   those towns (Blossom BUD-01 style: the hash is the address, any server may hold it).
 * - A result's large outputs are blobs too, one tag each:
 *   `["blob", "<name>", "<url>", "<sha256>", "<size>"]`; the name `result` stands for the
 *   skill's output when it was too large for the event's content (which is then empty).
 *
 * @module
 */

/** A blob input of a job request. */
export interface JobBlobInput {
  url: string;
  sha256: string;
  /**
   * More URLs of the same blob (`<server>/<sha256>` on the other towns the job was posted to),
   * tried in order when `url` fails; the hash is checked whichever answers. Not a tag: a
   * provider derives them from the request's `relays` tag (docs/PROTOCOL.md "Blobs in jobs").
   */
  mirrors?: string[];
}

/** A blob output of a job result. */
export interface JobBlobOutput {
  /** File name (`result` for the skill's output). */
  name: string;
  url: string;
  sha256: string;
  size: number;
}

/** The blob name standing for the skill's whole output. */
export const RESULT_BLOB_NAME = "result";

const SHA256 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The blob inputs of a request's tags (after decryption, for an encrypted request).
 *
 * @example
 * ```ts
 * blobInputsOf([["i", "http://t/ab..ef", "url"], ["x", "ab..ef"]]); // [{ url, sha256 }]
 * ```
 */
export function blobInputsOf(tags: readonly string[][]): JobBlobInput[] {
  const hashes = new Set(
    tags.filter((t) => t[0] === "x" && SHA256.test(t[1] ?? "")).map((t) => t[1]),
  );
  const inputs: JobBlobInput[] = [];
  for (const t of tags) {
    if (t[0] !== "i" || t[2] !== "url") continue;
    const sha256 = blobHashOfUrl(t[1] ?? "");
    if (sha256 !== undefined && hashes.has(sha256)) inputs.push({ url: t[1], sha256 });
  }
  return inputs;
}

/**
 * The sha256 a Blossom URL names (`.../<sha256>[.ext]`), if any.
 *
 * @example
 * ```ts
 * blobHashOfUrl("http://127.0.0.1:7100/" + "ab".repeat(32) + ".tar.gz"); // "abab..."
 * ```
 */
export function blobHashOfUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const last = path.slice(path.lastIndexOf("/") + 1).replace(/\..*$/, "");
  return SHA256.test(last) ? last : undefined;
}

/**
 * The tags of a blob input.
 *
 * @example
 * ```ts
 * const url = "https://blobs.example/ab";
 * const sha256 = "ab".repeat(32);
 * blobInputTags({ url, sha256 }); // [["i", url, "url"], ["x", sha256]]
 * ```
 */
export function blobInputTags(input: JobBlobInput): string[][] {
  return [["i", input.url, "url"], ["x", input.sha256]];
}

/**
 * The tag of a result blob.
 *
 * @example
 * ```ts
 * const url = "https://blobs.example/ab";
 * const sha256 = "ab".repeat(32);
 * blobOutputTag({ name: "build.log", url, sha256, size: 1234 });
 * ```
 */
export function blobOutputTag(b: JobBlobOutput): string[] {
  if (!NAME.test(b.name)) throw new RangeError(`bad blob name ${JSON.stringify(b.name)}`);
  return ["blob", b.name, b.url, b.sha256, String(b.size)];
}

/**
 * The blobs a result carries (malformed tags are skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobOutputsOf, blobOutputTag } from "./job_blobs.ts";
 *
 * const sha256 = "ab".repeat(32);
 * const tags = [blobOutputTag({ name: "result", url: `https://town.example/${sha256}`, sha256, size: 5 })];
 * assert.deepEqual(blobOutputsOf(tags).map((b) => [b.name, b.size]), [["result", 5]]);
 * ```
 */
export function blobOutputsOf(tags: readonly string[][]): JobBlobOutput[] {
  const out: JobBlobOutput[] = [];
  for (const t of tags) {
    if (t[0] !== "blob" || !NAME.test(t[1] ?? "") || !SHA256.test(t[3] ?? "")) continue;
    const size = Number(t[4]);
    if (!Number.isSafeInteger(size) || size < 0) continue;
    out.push({ name: t[1], url: t[2], sha256: t[3], size });
  }
  return out;
}

/**
 * Whether a name is usable for a result blob (also a safe file name).
 *
 * @example
 * ```ts
 * isBlobName("build.log"); // true
 * ```
 */
export function isBlobName(name: string): boolean {
  return NAME.test(name);
}

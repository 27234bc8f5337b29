/**
 * A Blossom client for files of any size (BUD-01/02): HEAD, a streaming `PUT /upload` from a
 * file, and a streaming, verifying download to a file. Written here rather than taken from
 * `blossom-client-sdk` (which the interop tests use against the town): the SDK uploads a
 * `Blob`, and Deno has no file-backed Blob, so a 256 MiB build context would sit in memory
 * whole; it also neither caps nor verifies what it downloads.
 *
 * Progress goes to an optional callback (bytes done, total), at most every 100 ms.
 *
 * @module
 */
import { HttpStatusError } from "../protocol/http_status_error.ts";
import { TransportError } from "./transport_error.ts";
import { createStreamingSha256 } from "../protocol/streaming_sha256.ts";
import { authorizationHeader } from "../protocol/blob_authorization.ts";
import { type BlobDescriptor, parseBlobDescriptor } from "../protocol/blob_descriptor.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { trustedClient, untrustedCertificate } from "./tls_trust.ts";

/** Told how far a transfer got. */
export type TransferProgress = (done: number, total: number) => void;

/** A Blossom request that failed; `status` is the HTTP status (0: no answer). */
export class BlossomError extends HttpStatusError {
  override name = "BlossomError";
}

/**
 * A download's bytes could not be written here (the disk full, the folder gone): the fault of
 * the machine that downloads, not of the server or of whoever named the blob.
 */
export class BlobWriteError extends TransportError {
  override name = "BlobWriteError";
  constructor(path: string, cause: unknown) {
    super(`cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** What a `HEAD /<sha256>` found. */
export interface BlobHead {
  size: number;
  type?: string;
}

/**
 * `HEAD <server>/<sha256>`: the blob's size and type, or undefined when it is not stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headBlob } from "./blossom_client.ts";
 *
 * // A server that holds no blob.
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(null, { status: 404 }),
 * );
 * const head = await headBlob(`http://127.0.0.1:${server.addr.port}`, "ab".repeat(32));
 * assert.equal(head, undefined); // the server has no such blob
 * ```
 */
export function headBlob(server: string, sha256: string): Promise<BlobHead | undefined> {
  return headBlobUrl(`${trimSlash(server)}/${sha256}`);
}

/**
 * `HEAD <url>` of a blob URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headBlobUrl } from "./blossom_client.ts";
 *
 * // A server that holds every blob, 5 bytes of text.
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hello", { headers: { "content-type": "text/plain" } }),
 * );
 * const url = `http://127.0.0.1:${server.addr.port}/${"ab".repeat(32)}`;
 * const head = await headBlobUrl(url, { signal: AbortSignal.timeout(10_000) });
 * assert.equal(head?.size, 5);
 * ```
 */
export async function headBlobUrl(
  url: string,
  options: { signal?: AbortSignal } = {},
): Promise<BlobHead | undefined> {
  const response = await request(url, { method: "HEAD", signal: options.signal });
  if (response.status === 404) return undefined;
  if (!response.ok) throw await failure(response, `HEAD ${url}`);
  const size = Number(response.headers.get("content-length"));
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new BlossomError(response.status, `HEAD ${url}: no Content-Length`);
  }
  return { size, type: response.headers.get("content-type") ?? undefined };
}

/** Options for {@linkcode uploadRequirement}. */
export interface UploadRequirementOptions {
  server: string;
  sha256: string;
  size: number;
  /** The uploader's authorization: a payment it already made counts. */
  authorization?: NostrEvent;
}

/**
 * `HEAD <server>/upload` (BUD-06): `allowed` (stored already, or paid for by this uploader) or
 * `payment-required`; other refusals (too large...) throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uploadRequirement } from "./blossom_client.ts";
 *
 * // A server that wants payment for every blob it does not hold yet.
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(null, { status: 402 }),
 * );
 * const url = `http://127.0.0.1:${server.addr.port}`;
 * const asked = await uploadRequirement({ server: url, sha256: "ab".repeat(32), size: 5 });
 * assert.equal(asked, "payment-required"); // pay the town over ILP, then upload
 * ```
 */
export async function uploadRequirement(
  o: UploadRequirementOptions,
): Promise<"allowed" | "payment-required"> {
  const response = await request(`${trimSlash(o.server)}/upload`, {
    method: "HEAD",
    headers: {
      "x-sha-256": o.sha256,
      "x-content-length": String(o.size),
      ...(o.authorization ? { authorization: authorizationHeader(o.authorization) } : {}),
    },
  });
  if (response.ok) return "allowed";
  if (response.status === 402) return "payment-required";
  throw await failure(response, "HEAD /upload");
}

/** Options for {@linkcode uploadBlobFile}. */
export interface UploadBlobOptions {
  /** The Blossom server (the town's HTTP URL). */
  server: string;
  /** The file to upload. */
  path: string;
  sha256: string;
  size: number;
  /** A signed kind 24242 upload authorization for it. */
  authorization: NostrEvent;
  type?: string;
  onProgress?: TransferProgress;
}

/**
 * Streams a file to `PUT <server>/upload`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { hashFile, uploadBlobFile } from "./blossom_client.ts";
 * import { buildBlobAuthorization } from "../protocol/blob_authorization.ts";
 *
 * // A server that keeps what it is sent and answers with the blob's descriptor.
 * let stored = "";
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   stored = await req.text();
 *   const sha256 = req.headers.get("x-sha-256")!;
 *   return Response.json({ url: `${new URL(req.url).origin}/${sha256}`, sha256, size: 5, uploaded: 1 });
 * });
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "hello");
 *   const { sha256, size } = await hashFile(path);
 *   const template = buildBlobAuthorization({ verb: "upload", sha256: [sha256], size });
 *   const authorization = finalizeEvent(template, generateSecretKey());
 *   const url = `http://127.0.0.1:${server.addr.port}`;
 *   const descriptor = await uploadBlobFile({ server: url, path, sha256, size, authorization });
 *   assert.equal(descriptor.url, `${url}/${sha256}`);
 *   assert.equal(stored, "hello");
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function uploadBlobFile(o: UploadBlobOptions): Promise<BlobDescriptor> {
  const file = await Deno.open(o.path);
  const body = file.readable.pipeThrough(counting(o.size, o.onProgress));
  const response = await request(`${trimSlash(o.server)}/upload`, {
    method: "PUT",
    headers: {
      authorization: authorizationHeader(o.authorization),
      // fetch streams the body chunked and drops a Content-Length set by hand.
      "x-content-length": String(o.size),
      "content-type": o.type ?? "application/octet-stream",
      "x-sha-256": o.sha256,
    },
    body,
  });
  if (!response.ok) throw await failure(response, "upload");
  return parseBlobDescriptor(await response.json());
}

/** Options for {@linkcode downloadBlob}. */
export interface DownloadBlobOptions {
  url: string;
  sha256: string;
  /** Refuse (before or while reading) anything larger. */
  maxBytes: number;
  /** Where to write it (replaced only once verified). */
  to: string;
  onProgress?: TransferProgress;
  signal?: AbortSignal;
}

/**
 * Downloads a blob to a file, hashing on the way; the file appears only when the bytes match
 * `sha256` and stay within `maxBytes` (written to `<to>.<random>.part` first, then renamed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadBlob } from "./blossom_client.ts";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hello"),
 * );
 * // SHA-256 of "hello".
 * const sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
 * const url = `http://127.0.0.1:${server.addr.port}/${sha256}`;
 * const workDir = await Deno.makeTempDir();
 * try {
 *   const { size } = await downloadBlob({ url, sha256, maxBytes: 1024, to: `${workDir}/input` });
 *   assert.equal(size, 5);
 *   assert.equal(await Deno.readTextFile(`${workDir}/input`), "hello");
 * } finally {
 *   await Deno.remove(workDir, { recursive: true });
 * }
 * ```
 * @throws {BlossomError} 404 missing, 413 too large, 422 hash mismatch, others as answered.
 * @throws {BlobWriteError} when the bytes cannot be written to `to`.
 */
export async function downloadBlob(o: DownloadBlobOptions): Promise<{ size: number }> {
  const response = await request(o.url, { signal: o.signal });
  if (!response.ok || response.body === null) throw await failure(response, `GET ${o.url}`);
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > o.maxBytes) {
    await response.body.cancel();
    throw new BlossomError(413, `blob of ${declared} bytes is over the limit of ${o.maxBytes}`);
  }
  // A name of its own: two jobs fetching the same blob into one cache at once would otherwise
  // write one file and the second rename would find it gone (both renames give the same bytes).
  const part = `${o.to}.${crypto.randomUUID().slice(0, 8)}.part`;
  const hasher = createStreamingSha256();
  const file = await Deno.open(part, { write: true, create: true, truncate: true, mode: 0o600 })
    .catch((err) => {
      throw new BlobWriteError(part, err);
    });
  let size = 0;
  try {
    const total = Number.isFinite(declared) ? declared : 0;
    const report = throttled(o.onProgress);
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > o.maxBytes) {
        throw new BlossomError(413, `blob is over the limit of ${o.maxBytes} bytes`);
      }
      hasher.update(chunk);
      // writeSync: an async write op per body chunk is an order of magnitude slower here
      // (state/blobs/blob_store.ts has the figures).
      try {
        for (let at = 0; at < chunk.byteLength;) at += file.writeSync(chunk.subarray(at));
      } catch (err) {
        throw new BlobWriteError(part, err);
      }
      report(size, total);
    }
    o.onProgress?.(size, total);
    const digest = hasher.digestHex();
    if (digest !== o.sha256) {
      throw new BlossomError(
        422,
        `sha256 mismatch: expected ${o.sha256}, the bytes hash to ${digest}`,
      );
    }
    await file.sync().catch((err) => {
      throw new BlobWriteError(part, err);
    });
  } catch (err) {
    file.close();
    await Deno.remove(part).catch(() => {});
    if (err instanceof BlossomError || err instanceof BlobWriteError) throw err;
    throw new BlossomError(0, `GET ${o.url}: ${(err as Error).message}`, { cause: err });
  }
  file.close();
  await Deno.rename(part, o.to).catch(async (err) => {
    await Deno.remove(part).catch(() => {});
    throw new BlobWriteError(o.to, err);
  });
  return { size };
}

/**
 * SHA-256 (hex) and size of a file, read in a stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "./blossom_client.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "hello");
 *   const { sha256, size } = await hashFile(path);
 *   assert.equal(sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
 *   assert.equal(size, 5);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hasher = createStreamingSha256();
  let size = 0;
  // Read into one buffer again and again, not through `file.readable` (a new chunk each read):
  // fresh memory is a page fault a page, and on the machines measured a 5 MB file hashed in 9 ms
  // this way against 47 through the stream (docs/SCALE.md "A file hashed through one buffer").
  using file = await Deno.open(path);
  const buffer = new Uint8Array(HASH_BUFFER_BYTES);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hasher.update(buffer.subarray(0, n));
    size += n;
  }
  return { sha256: hasher.digestHex(), size };
}

/** The buffer {@linkcode hashFile} reads into. */
const HASH_BUFFER_BYTES = 256 * 1024;

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...trustedClient(), ...init });
  } catch (err) {
    const message = untrustedCertificate(err, url)?.message ?? (err as Error).message;
    throw new BlossomError(0, `${init.method ?? "GET"} ${url}: ${message}`, {
      cause: err,
    });
  }
}

async function failure(response: Response, what: string): Promise<BlossomError> {
  let message = response.headers.get("x-reason") ?? "";
  if (message === "" && response.body !== null) {
    const text = await response.text().catch(() => "");
    try {
      message = String(JSON.parse(text).message ?? text);
    } catch {
      message = text;
    }
  } else {
    await response.body?.cancel();
  }
  return new BlossomError(
    response.status,
    `${what}: HTTP ${response.status}${message ? `: ${message.slice(0, 500)}` : ""}`,
  );
}

function counting(
  total: number,
  onProgress?: TransferProgress,
): TransformStream<Uint8Array, Uint8Array> {
  let done = 0;
  const report = throttled(onProgress);
  return new TransformStream({
    transform(chunk, controller) {
      done += chunk.byteLength;
      report(done, total);
      controller.enqueue(chunk);
    },
    flush() {
      onProgress?.(done, total);
    },
  });
}

function throttled(onProgress?: TransferProgress): TransferProgress {
  let last = 0;
  return (done, total) => {
    if (onProgress === undefined) return;
    const now = performance.now();
    if (now - last < 100) return;
    last = now;
    onProgress(done, total);
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

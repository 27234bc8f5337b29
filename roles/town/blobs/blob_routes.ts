/**
 * The town's Blossom endpoints on its HTTP port (BUD-01, BUD-02, BUD-06; docs/PROTOCOL.md
 * "Blobs"):
 *
 * - `GET /<sha256>[.ext]`, `HEAD /<sha256>[.ext]`: free reads, single byte ranges (206/416);
 * - `PUT /upload`: the bytes of a blob paid for beforehand over ILP (blob_payment.ts), with a
 *   kind 24242 `upload` authorization; streamed to disk and hashed on the way (state/blobs/blob_store.ts);
 *   an already stored blob is accepted for free;
 * - `HEAD /upload`: whether an upload would be accepted (BUD-06), 402 with the price when it
 *   needs paying;
 * - `DELETE /<sha256>`: `delete` authorization, removes the uploader's ownership (the blob goes
 *   with its last owner);
 * - `GET /list/<pubkey>`: that pubkey's blob descriptors (`since`, `until`).
 *
 * Errors are JSON `{"message"}` with the message also in `X-Reason` (what Blossom clients read).
 * Uploads in progress are bounded in all and per uploader (503 when busy).
 *
 * @module
 */
import {
  BlobAuthorizationError,
  type BlobVerb,
  checkBlobAuthorization,
  parseAuthorizationHeader,
} from "../../../protocol/blob_authorization.ts";
import type { BlobDescriptor } from "../../../protocol/blob_descriptor.ts";
import { HttpStatusError } from "../../../protocol/http_status_error.ts";
import { priceBlob } from "../../../protocol/blob_pricing.ts";
import { verifyEvent } from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { type BlobRecord, BlobStoreError } from "../../../state/blobs/blob_store.ts";
import type { TownBlobStore } from "../../../state/blobs/town_blob_store.ts";

/** Options for {@linkcode createBlobRoutes}. */
export interface BlobRoutesOptions {
  blobs: TownBlobStore;
  /** Base units per MiB, quoted by `HEAD /upload`. */
  pricePerMiB: bigint;
  /** The town's ILP address, quoted by `HEAD /upload`. */
  ilpAddress: () => string;
  /** Base URL in descriptors; default the request's own origin. */
  publicUrl?: string;
  /** Uploads in progress at most, in all (default 16) and per uploader (default 4). */
  maxUploads?: number;
  maxUploadsPerPubkey?: number;
}

/** Counters for /metrics. */
export interface BlobRouteCounters {
  uploads: number;
  uploadBytes: number;
  refused: number;
  downloads: number;
  downloadBytes: number;
  uploadsInProgress: number;
}

/** The routes. */
export interface BlobRoutes {
  /** The response for a blob route, or undefined when the request is not one. */
  handle(request: Request): Promise<Response> | undefined;
  counters: BlobRouteCounters;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "Authorization, *",
  "access-control-allow-methods": "GET, HEAD, PUT, DELETE",
  "access-control-expose-headers": "*",
};
const BLOB_PATH = /^\/([0-9a-f]{64})(\.[A-Za-z0-9]{1,16})?$/;
const LIST_PATH = /^\/list\/([0-9a-f]{64})$/;

/** A refused request: HTTP status and a message for the client. */
class BlobRouteError extends HttpStatusError {
  override name = "BlobRouteError";
}

/**
 * Creates the Blossom routes.
 *
 * It serves a town's HTTP port: no example that runs here: tests/e2e/town_blob_test.ts.
 */
export function createBlobRoutes(options: BlobRoutesOptions): BlobRoutes {
  const counters: BlobRouteCounters = {
    uploads: 0,
    uploadBytes: 0,
    refused: 0,
    downloads: 0,
    downloadBytes: 0,
    uploadsInProgress: 0,
  };
  const perPubkey = new Map<string, number>();
  const maxUploads = options.maxUploads ?? 16;
  const maxPerPubkey = options.maxUploadsPerPubkey ?? 4;
  const base = (request: Request) => options.publicUrl ?? new URL(request.url).origin;
  const describe = (request: Request, r: BlobRecord): BlobDescriptor => ({
    url: `${base(request)}/${r.sha256}`,
    sha256: r.sha256,
    size: r.size,
    type: r.type,
    uploaded: r.uploaded,
  });

  const upload = async (request: Request): Promise<Response> => {
    const auth = authorize(request, "upload");
    const declared = request.headers.get("x-sha-256") ?? undefined;
    const sha256 = declared ?? (auth.sha256.length === 1 ? auth.sha256[0] : undefined);
    if (sha256 === undefined || !auth.sha256.includes(sha256)) {
      throw new BlobRouteError(
        400,
        "name the blob: X-SHA-256 matching an x tag of the authorization",
      );
    }
    // A streamed body has no Content-Length: the size then comes from X-Content-Length or the
    // authorization's size tag; the store refuses more or fewer bytes either way.
    const length = request.headers.get("content-length") ??
      request.headers.get("x-content-length") ??
      (auth.size === undefined ? null : String(auth.size));
    if (length === null || !/^\d{1,15}$/.test(length)) {
      throw new BlobRouteError(
        411,
        "the size is required: Content-Length, X-Content-Length or a size tag (uploads are paid by size)",
      );
    }
    const size = Number(length);
    if (size > options.blobs.maxBlobBytes) {
      throw new BlobRouteError(
        413,
        `blob of ${size} bytes is over the limit of ${options.blobs.maxBlobBytes}`,
      );
    }
    const mine = perPubkey.get(auth.pubkey) ?? 0;
    if (counters.uploadsInProgress >= maxUploads || mine >= maxPerPubkey) {
      throw new BlobRouteError(503, "too many uploads in progress; retry shortly");
    }
    counters.uploadsInProgress++;
    perPubkey.set(auth.pubkey, mine + 1);
    try {
      const record = await options.blobs.receive({
        sha256,
        size,
        type: contentType(request),
        pubkey: auth.pubkey,
        body: request.body ?? new Blob([]).stream(),
      });
      counters.uploads++;
      counters.uploadBytes += size;
      return json(describe(request, record));
    } finally {
      counters.uploadsInProgress--;
      const left = (perPubkey.get(auth.pubkey) ?? 1) - 1;
      if (left === 0) perPubkey.delete(auth.pubkey);
      else perPubkey.set(auth.pubkey, left);
    }
  };

  const uploadRequirements = async (request: Request): Promise<Response> => {
    const sha256 = (request.headers.get("x-sha-256") ??
      /^SHA-256=([0-9a-f]{64})$/i.exec(request.headers.get("digest") ?? "")?.[1] ?? "")
      .toLowerCase();
    const sizeText = request.headers.get("x-content-length") ??
      request.headers.get("blossom-content-length");
    if (!/^[0-9a-f]{64}$/.test(sha256) || sizeText === null || !/^\d{1,15}$/.test(sizeText)) {
      throw new BlobRouteError(400, "send X-SHA-256 and X-Content-Length");
    }
    const size = Number(sizeText);
    if (await options.blobs.get(sha256) !== undefined) {
      return new Response(null, { headers: CORS });
    }
    if (size > options.blobs.maxBlobBytes) {
      throw new BlobRouteError(
        413,
        `blob of ${size} bytes is over the limit of ${options.blobs.maxBlobBytes}`,
      );
    }
    const header = request.headers.get("authorization");
    if (header !== null) {
      const auth = authorize(request, "upload");
      if ((await options.blobs.allowance(sha256, auth.pubkey))?.size === size) {
        return new Response(null, { headers: CORS });
      }
    }
    const price = priceBlob(size, options.pricePerMiB);
    const message = `payment required: ${price} base units to ${options.ilpAddress()} ` +
      "(an ILP PREPARE carrying the signed upload authorization; see the town's docs)";
    return new Response(null, {
      status: 402,
      headers: {
        ...CORS,
        "x-reason": message,
        "blossom-upload-message": message,
        "www-authenticate": `Interledger address="${options.ilpAddress()}", amount="${price}"`,
      },
    });
  };

  const remove = async (request: Request, sha256: string): Promise<Response> => {
    const auth = authorize(request, "delete", sha256);
    if (!await options.blobs.delete(sha256, auth.pubkey)) {
      throw new BlobRouteError(404, `${sha256} is not stored for this pubkey`);
    }
    return json({ message: "deleted" });
  };

  const list = async (request: Request, pubkey: string): Promise<Response> => {
    const url = new URL(request.url);
    const num = (name: string) => {
      const v = url.searchParams.get(name);
      return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
    };
    const records = await options.blobs.list(pubkey, num("since"), num("until"));
    return json(records.map((r) => describe(request, r)));
  };

  const route = (request: Request): Promise<Response> | undefined => {
    const { pathname } = new URL(request.url);
    const blob = BLOB_PATH.exec(pathname);
    const method = request.method;
    if (blob !== null && (method === "GET" || method === "HEAD")) {
      return serve(request, blob[1]);
    }
    if (blob !== null && method === "DELETE") return remove(request, blob[1]);
    if (pathname === "/upload" && method === "PUT") return upload(request);
    if (pathname === "/upload" && method === "HEAD") {
      return uploadRequirements(request);
    }
    const listed = LIST_PATH.exec(pathname);
    if (listed !== null && method === "GET") return list(request, listed[1]);
    if (method === "OPTIONS" && (blob !== null || pathname === "/upload")) {
      return Promise.resolve(new Response(null, { status: 204, headers: CORS }));
    }
    return undefined;
  };

  const serve = async (request: Request, sha256: string): Promise<Response> => {
    const record = await options.blobs.get(sha256);
    if (record === undefined) throw new BlobRouteError(404, `${sha256} is not stored here`);
    const headers: Record<string, string> = {
      ...CORS,
      "content-type": record.type ?? "application/octet-stream",
      "accept-ranges": "bytes",
      "cache-control": "public, max-age=31536000, immutable",
    };
    const range = parseRange(request.headers.get("range"), record.size);
    if (range === "unsatisfiable") {
      return new Response(null, {
        status: 416,
        headers: { ...headers, "content-range": `bytes */${record.size}` },
      });
    }
    const [start, end] = range ?? [0, record.size - 1];
    const length = record.size === 0 ? 0 : end - start + 1;
    headers["content-length"] = String(length);
    if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${record.size}`;
    const status = range === undefined ? 200 : 206;
    if (request.method === "HEAD" || length === 0) return new Response(null, { status, headers });
    const file = await Deno.open(await options.blobs.localFile(record));
    counters.downloads++;
    counters.downloadBytes += length;
    return new Response(fileSlice(file, start, length), { status, headers });
  };

  return {
    counters,
    handle(request) {
      let answer: Promise<Response> | undefined;
      try {
        answer = route(request);
      } catch (err) {
        return Promise.resolve(errorResponse(err, counters));
      }
      return answer?.catch((err) => errorResponse(err, counters));
    },
  };
}

/** A verified authorization for `verb` (401 otherwise). */
function authorize(request: Request, verb: BlobVerb, sha256?: string) {
  let event: NostrEvent;
  try {
    event = parseAuthorizationHeader(request.headers.get("authorization"));
    verifyEvent(event);
  } catch (err) {
    throw new BlobRouteError(401, `authorization refused: ${(err as Error).message}`);
  }
  try {
    return checkBlobAuthorization(event, { verb, sha256 });
  } catch (err) {
    if (err instanceof BlobAuthorizationError) {
      throw new BlobRouteError(401, `authorization refused: ${err.message}`);
    }
    throw err;
  }
}

function contentType(request: Request): string | undefined {
  const type = request.headers.get("content-type");
  return type !== null && /^[\w.+-]+\/[\w.+-]+$/.test(type) && type.length <= 100
    ? type
    : undefined;
}

/** One `bytes=a-b` / `a-` / `-n` range (several ranges: the whole blob, as RFC 9110 allows). */
function parseRange(
  header: string | null,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  if (header === null) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return [start, end];
}

/** `length` bytes of `file` from `start`, closed at the end or when the client goes away. */
function fileSlice(file: Deno.FsFile, start: number, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let positioned = false;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      if (!positioned) {
        await file.seek(start, Deno.SeekMode.Start);
        positioned = true;
      }
      const buf = new Uint8Array(Math.min(256 * 1024, left));
      const n = await file.read(buf);
      if (n === null || n === 0) {
        file.close();
        controller.close();
        return;
      }
      left -= n;
      controller.enqueue(buf.subarray(0, n));
      if (left === 0) {
        file.close();
        controller.close();
      }
    },
    cancel() {
      file.close();
    },
  });
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS, "content-type": "application/json" },
  });
}

function errorResponse(err: unknown, counters: BlobRouteCounters): Response {
  const status = err instanceof BlobRouteError || err instanceof BlobStoreError ? err.status : 500;
  const message = status === 500
    ? `internal error: ${(err as Error).message}`
    : (err as Error).message;
  if (status !== 404) counters.refused++;
  return new Response(JSON.stringify({ message }), {
    status,
    headers: { ...CORS, "content-type": "application/json", "x-reason": message.slice(0, 500) },
  });
}

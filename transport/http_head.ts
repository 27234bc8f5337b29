/**
 * Reads one HTTP/1.1 request or response head from a raw connection, bounded in size: the
 * first step of a listener on `Deno.listen` (a WebSocket handshake, the town's HTTP front) and of
 * a client handshake. The bytes read past the head stay with it (`rest`), for whoever reads on.
 *
 * @module
 */
import { HttpStatusError } from "../protocol/http_status_error.ts";

/** Options for {@linkcode readHttpHead}. */
export interface ReadHttpHeadOptions {
  /** Largest head accepted (request line and headers). Default 16 KiB. */
  maxBytes?: number;
}

/** What the head is read from (a `Deno.Conn`). */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** A head as read. */
export interface HttpHead {
  /** The first line: `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`. */
  startLine: string;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Map<string, string>;
  /** The header lines as sent, in order, without the start line. */
  lines: string[];
  /** Bytes read after the blank line (a body's start, or the first WebSocket frames). */
  rest: Uint8Array;
}

/** The head was too large, malformed, or the connection ended before it did. */
export class HttpHeadError extends HttpStatusError {
  /** `"HttpHeadError"`: explicit so it survives bundling. */
  override name = "HttpHeadError";
  /** `status`: the HTTP status a server answers with (400 or 431). */
  constructor(message: string, status: number) {
    super(status, message);
  }
}

const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;
const READ_CHUNK = 4096;

/**
 * Reads up to the blank line ending the head.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readHttpHead } from "./http_head.ts";
 *
 * // A connection's bytes (a `Deno.Conn` in a server).
 * const bytes = new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: town.example\r\n\r\nbody");
 * let at = 0;
 * const conn = {
 *   read: (buf: Uint8Array) => {
 *     const n = Math.min(buf.length, bytes.length - at);
 *     buf.set(bytes.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n === 0 ? null : n);
 *   },
 * };
 * const head = await readHttpHead(conn);
 * assert.equal(head.startLine, "GET /x HTTP/1.1");
 * assert.equal(head.headers.get("host"), "town.example");
 * assert.equal(new TextDecoder().decode(head.rest), "body");
 * ```
 */
export async function readHttpHead(
  conn: ByteSource,
  options: ReadHttpHeadOptions = {},
): Promise<HttpHead> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HEAD_BYTES;
  let buf = new Uint8Array(READ_CHUNK);
  let length = 0;
  let scanned = 0;
  while (true) {
    const end = findHeadEnd(buf, scanned, length);
    if (end > maxBytes) throw new HttpHeadError(`HTTP head above ${maxBytes} bytes`, 431);
    if (end >= 0) {
      const text = new TextDecoder().decode(buf.subarray(0, end));
      const [startLine, ...lines] = text.split("\r\n");
      return {
        startLine,
        headers: parseHeaderLines(lines),
        lines,
        rest: buf.slice(end + 4, length),
      };
    }
    // The terminator may straddle two reads: rescan its first three bytes next time.
    scanned = Math.max(0, length - 3);
    if (length > maxBytes) throw new HttpHeadError(`HTTP head above ${maxBytes} bytes`, 431);
    if (length === buf.length) {
      const next = new Uint8Array(buf.length * 2);
      next.set(buf);
      buf = next;
    }
    const n = await conn.read(buf.subarray(length));
    if (n === null) throw new HttpHeadError("connection closed before the HTTP head ended", 400);
    length += n;
  }
}

function findHeadEnd(bytes: Uint8Array, from: number, length: number): number {
  for (let i = from; i + 3 < length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function parseHeaderLines(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return headers;
}

/**
 * The PROXY protocol header (HAProxy's `send-proxy` v1 text line and `send-proxy-v2` binary
 * header) a load balancer or TLS terminator puts before a connection's bytes to pass on the
 * client's address. Read only from the addresses configured as proxies (the town's
 * `trusted_proxies`, docs/OPERATIONS.md "A town on the internet"): a connection from one of them
 * must start with a header, whose source address then counts as the connection's for every
 * per-address limit; from anyone else a header is not looked for (and fails the HTTP head read).
 *
 * The header is read exactly, byte for byte as it is framed (v2: 16 bytes then its stated length;
 * v1: up to its CRLF, at most 107 bytes), so nothing after it is consumed: the request head that
 * follows is read by the caller from the same connection.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";

/** The connection did not start with a valid PROXY header. */
export class ProxyHeaderError extends TransportError {
  override name = "ProxyHeaderError";
}

const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const V1_MAX_BYTES = 107;
/** Largest v2 header body accepted (addresses plus TLVs; HAProxy sends far less). */
const V2_MAX_BODY = 1024;

/**
 * Reads a PROXY header from `conn`: the client's address, or undefined for a header that names
 * none (v2 `LOCAL`, v1 `UNKNOWN`: the proxy's own health check).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProxyHeader } from "./proxy_protocol.ts";
 *
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.7 10.0.0.1 51000 7100\r\nGET /");
 * let at = 0;
 * const conn = {
 *   read: (buf: Uint8Array) => {
 *     const n = Math.min(buf.length, bytes.length - at);
 *     buf.set(bytes.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n === 0 ? null : n);
 *   },
 * };
 * assert.equal(await readProxyHeader(conn), "192.0.2.7");
 * assert.equal(at, bytes.length - 5); // "GET /" is left for the caller
 * ```
 * @throws {ProxyHeaderError} when the bytes are no PROXY header (or the connection ends first).
 */
export async function readProxyHeader(
  conn: Pick<Deno.Conn, "read">,
): Promise<string | undefined> {
  const start = await readExact(conn, 12);
  if (V2_SIGNATURE.every((b, i) => start[i] === b)) return await readV2(conn);
  if (new TextDecoder().decode(start.subarray(0, 6)) === "PROXY ") return await readV1(conn, start);
  throw new ProxyHeaderError("a connection from a trusted proxy did not start with a PROXY header");
}

/**
 * {@linkcode readProxyHeader} within `timeoutMs` (the connection is closed after it): the client's
 * address, undefined when the header names none, or the error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProxyHeaderInTime } from "./proxy_protocol.ts";
 *
 * const silent = { read: () => new Promise<number | null>(() => {}), close: () => {} };
 * const got = await readProxyHeaderInTime(silent, 10);
 * assert(got instanceof Error);
 * ```
 */
export async function readProxyHeaderInTime(
  conn: Pick<Deno.Conn, "read" | "close">,
  timeoutMs: number,
): Promise<string | undefined | Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Error>((resolve) => {
    timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
      resolve(new ProxyHeaderError("no PROXY header in time"));
    }, timeoutMs);
  });
  try {
    return await Promise.race([readProxyHeader(conn).catch((err: Error) => err), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function readV2(conn: Pick<Deno.Conn, "read">): Promise<string | undefined> {
  const head = await readExact(conn, 4);
  const [verCmd, family] = head;
  const length = (head[2] << 8) | head[3];
  if (verCmd >> 4 !== 2 || length > V2_MAX_BODY) {
    throw new ProxyHeaderError("unsupported PROXY v2 header");
  }
  const body = await readExact(conn, length);
  if ((verCmd & 0x0f) === 0) return undefined; // LOCAL: the proxy speaking for itself
  if ((verCmd & 0x0f) !== 1) throw new ProxyHeaderError("unknown PROXY v2 command");
  if (family >> 4 === 1 && length >= 12) return [...body.subarray(0, 4)].join(".");
  if (family >> 4 === 2 && length >= 36) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(((body[i] << 8) | body[i + 1]).toString(16));
    return canonicalIpv6(words);
  }
  return undefined; // AF_UNSPEC or AF_UNIX: no address to count
}

async function readV1(
  conn: Pick<Deno.Conn, "read">,
  start: Uint8Array,
): Promise<string | undefined> {
  const bytes = [...start];
  while (!(bytes.at(-2) === 0x0d && bytes.at(-1) === 0x0a)) {
    if (bytes.length >= V1_MAX_BYTES) throw new ProxyHeaderError("PROXY v1 line too long");
    bytes.push((await readExact(conn, 1))[0]);
  }
  const [, protocol, source] = new TextDecoder().decode(new Uint8Array(bytes)).trim().split(" ");
  if (protocol === "UNKNOWN") return undefined;
  if ((protocol !== "TCP4" && protocol !== "TCP6") || source === undefined) {
    throw new ProxyHeaderError("malformed PROXY v1 line");
  }
  return source;
}

/** An IPv6 address as Deno reports remote addresses (lower case, the longest zero run as `::`). */
function canonicalIpv6(words: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLength).join(":")}`;
}

async function readExact(conn: Pick<Deno.Conn, "read">, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(buf.subarray(at));
    if (got === null) throw new ProxyHeaderError("the connection ended inside its PROXY header");
    at += got;
  }
  return buf;
}

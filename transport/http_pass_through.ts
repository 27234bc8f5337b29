/**
 * What transport/http_front.ts hands on after its caps: the internal `Deno.serve` on a Unix
 * socket in a private (0700) directory, the pass-through of one request's head and body to it
 * (hop-by-hop headers replaced, `Connection: close`), and the plain answers of refused or bad
 * requests. docs/OPERATIONS.md lists the limits.
 *
 * @module
 */
import type { HttpHead } from "./http_head.ts";
import type { IdleSweeper } from "./idle_sweeper.ts";
import { serveResilient } from "./resilient_http_server.ts";

/** How long a refused client may take to send its request before the answer (avoids an RST). */
export const REFUSAL_READ_MS = 1000;
const COPY_CHUNK = 64 * 1024;
/** Hop-by-hop headers replaced on a passed-through request. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "proxy-connection"]);
const UNIX_SCHEME = "http+unix:";
const encoder = new TextEncoder();

/**
 * The internal server: a Unix socket in a directory only this user can enter.
 *
 * @example
 * ```ts
 * import { startInnerServer } from "./http_pass_through.ts";
 *
 * const inner = startInnerServer(() => new Response("ok\n"), false);
 * await inner.server.shutdown();
 * await Deno.remove(inner.dir, { recursive: true });
 * ```
 */
export function startInnerServer(
  handler: (request: Request) => Response | Promise<Response>,
  secure: boolean,
  log?: (line: string) => void,
) {
  const dir = Deno.makeTempDirSync({ prefix: "turnpike-http-" });
  Deno.chmodSync(dir, 0o700);
  const path = `${dir}/http.sock`;
  // Requests on a Unix socket have `http+unix:` URLs; the handler sees the URL the client used
  // (`https:` behind TLS, so URLs built from it, a blob's say, name the scheme clients use).
  const scheme = secure ? "https:" : "http:";
  // The copy leaves out `signal`: reading it makes Deno warn about its legacy abort behaviour.
  const server = serveResilient({
    path,
    handler: (request) =>
      handler(
        request.url.startsWith(UNIX_SCHEME)
          ? new Request(`${scheme}${request.url.slice(UNIX_SCHEME.length)}`, {
            method: request.method,
            headers: request.headers,
            body: request.body,
          })
          : request,
      ),
    log,
  });
  return { dir, path, server };
}

/**
 * `host:port` of the listener, as a `Host` header says it (IPv6 in brackets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostHeaderValue } from "./http_pass_through.ts";
 *
 * assert.equal(hostHeaderValue({ transport: "tcp", hostname: "::1", port: 80 }), "[::1]:80");
 * ```
 */
export function hostHeaderValue(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `${host}:${addr.port}`;
}

/**
 * The header lines to pass on (hop-by-hop ones dropped), with a `Host` for a request without
 * one: HTTP/1.0 does not require it (a load balancer's default health check sends none), so it
 * gets the listener's own address; an HTTP/1.1 request must carry one (RFC 9112, section 3.2),
 * so it gets undefined (answered 400).
 */
function passedLines(head: HttpHead, ownHost: string): string[] | undefined {
  const lines = head.lines.filter((l) => !HOP_HEADERS.has(headerName(l)));
  if (head.headers.get("host")) return lines;
  if (!/ HTTP\/(0\.9|1\.0)$/.test(head.startLine)) return undefined;
  return [`Host: ${ownHost}`, ...lines.filter((l) => headerName(l) !== "host")];
}

/**
 * Sends the head (hop-by-hop headers replaced) and the body to the inner server, the answer back.
 * It needs the inner server on its Unix socket, so it has no example that runs here:
 * tests/unit/transport/http_front_test.ts
 */
export async function passThrough(
  client: Deno.Conn,
  head: HttpHead,
  path: string,
  idle: IdleSweeper,
  ownHost: string,
): Promise<void> {
  const lines = passedLines(head, ownHost);
  if (lines === undefined) {
    return await answerAndClose(client, 400, "an HTTP/1.1 request needs a Host header", false);
  }
  let inner: Deno.UnixConn;
  try {
    inner = await Deno.connect({ transport: "unix", path });
  } catch {
    return await answerAndClose(client, 503, "town busy: retry later", false);
  }
  const tracked = idle.track(() => {
    closeQuietly(client);
    closeQuietly(inner);
  });
  try {
    await writeAll(
      inner,
      encoder.encode([head.startLine, ...lines, "Connection: close", "", ""].join("\r\n")),
    );
    if (head.rest.length > 0) await writeAll(inner, head.rest);
    const upstream = copy(client, inner, tracked.touch).then(() => inner.closeWrite())
      .catch(() => {});
    await copy(inner, client, tracked.touch);
    void upstream;
  } catch {
    // Either side left: both are closed below.
  } finally {
    tracked.done();
    closeQuietly(inner);
    closeQuietly(client);
  }
}

function headerName(line: string): string {
  return line.slice(0, Math.max(0, line.indexOf(":"))).trim().toLowerCase();
}

async function copy(from: Deno.Conn, to: Deno.Conn, touch: () => void): Promise<void> {
  const buf = new Uint8Array(COPY_CHUNK);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) return;
    touch();
    await writeAll(to, buf.subarray(0, n));
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * Answers with a plain HTTP status and closes; `readFirst` lets the client send its request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answerAndClose } from "./http_pass_through.ts";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * await answerAndClose(await listener.accept(), 503, "busy: retry later", false);
 * const answer = new TextDecoder().decode(await new Response(client.readable).arrayBuffer());
 * assert(answer.startsWith("HTTP/1.1 503 "));
 * assert(answer.endsWith("busy: retry later\n"));
 * ```
 */
export async function answerAndClose(
  conn: Deno.Conn,
  status: number,
  text: string,
  readFirst = true,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), REFUSAL_READ_MS);
  try {
    if (readFirst) await conn.read(new Uint8Array(4096));
    const body = encoder.encode(text + "\n");
    const head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.byteLength}\r\n` +
      `${status === 429 || status === 503 ? "Retry-After: 5\r\n" : ""}Connection: close\r\n\r\n`;
    await writeAll(conn, new Uint8Array([...encoder.encode(head), ...body]));
  } catch {
    // The client left, or the read timed out: nothing to answer.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * Closes, ignoring a resource already closed.
 *
 * @example
 * ```ts
 * import { closeQuietly } from "./http_pass_through.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * closeQuietly(listener);
 * closeQuietly(listener); // no error
 * ```
 */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // already closed
  }
}

/**
 * Test helper: a WebSocket client over raw TCP that writes and never reads (an attacker whose
 * receive window fills, so every byte the server sends it stays with the server). The handshake
 * response is read once; after that nothing is read until {@linkcode NonReadingSocket.close}.
 *
 * @module
 */

/** Options for {@linkcode openNonReadingSocket}. */
export interface NonReadingSocketOptions {
  /** 127.0.0.1 by default. */
  hostname?: string;
  port: number;
}

/** A WebSocket client that writes frames and never reads what comes back. */
export interface NonReadingSocket {
  /**
   * Writes one masked binary (or, for a string, text) message; resolves once the kernel took it
   * (it stays pending while the server does not read), rejects when the connection is gone.
   */
  send(data: Uint8Array | string): Promise<void>;
  /** True once a write failed: the server dropped the connection. */
  readonly broken: boolean;
  /**
   * Reads what the server sent (until it closed, at most `maxBytes`) and resolves with the byte
   * count: whether the server gave up on it shows as a connection that ends.
   */
  drain(timeoutMs: number, maxBytes?: number): Promise<{ bytes: number; ended: boolean }>;
  close(): void;
}

const encoder = new TextEncoder();

/**
 * Connects, upgrades (path `/`), and returns the socket.
 *
 * @example
 * ```ts
 * const socket = await openNonReadingSocket({ port: 7100 });
 * await socket.send(JSON.stringify(["REQ", "s", {}]));
 * socket.close();
 * ```
 */
export async function openNonReadingSocket(
  options: NonReadingSocketOptions,
): Promise<NonReadingSocket> {
  const hostname = options.hostname ?? "127.0.0.1";
  const conn = await Deno.connect({ hostname, port: options.port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    encoder.encode(
      `GET / HTTP/1.1\r\nHost: ${hostname}:${options.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  // The 101 head: read up to its blank line, one byte at a time, so no frame is read with it.
  const head: number[] = [];
  const one = new Uint8Array(1);
  while (!(head.length >= 4 && head.slice(-4).join() === "13,10,13,10")) {
    if (await conn.read(one) === null) throw new Error("closed during the WebSocket handshake");
    head.push(one[0]);
    if (head.length > 4096) throw new Error("handshake answer too long");
  }
  const status = new TextDecoder().decode(new Uint8Array(head)).split("\r\n")[0];
  if (!status.includes(" 101 ")) throw new Error(`upgrade refused: ${status}`);
  let broken = false;
  let closed = false;
  return {
    get broken() {
      return broken;
    },
    async send(data) {
      const payload = typeof data === "string" ? encoder.encode(data) : data;
      try {
        await writeAll(conn, frame(typeof data === "string" ? 0x1 : 0x2, payload));
      } catch (err) {
        broken = true;
        throw err;
      }
    },
    async drain(timeoutMs, maxBytes = 1 << 30) {
      const chunk = new Uint8Array(64 * 1024);
      let bytes = 0;
      const timer = setTimeout(() => conn.close(), timeoutMs);
      try {
        for (let n; bytes < maxBytes && (n = await conn.read(chunk)) !== null;) bytes += n;
        return { bytes, ended: bytes < maxBytes };
      } catch {
        return { bytes, ended: false };
      } finally {
        clearTimeout(timer);
        closed = true;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

/**
 * A masked client frame (zero mask key: the payload goes as is).
 *
 * @example
 * ```ts
 * const text = frame(0x1, new TextEncoder().encode('["REQ","s",{}]'));
 * ```
 */
export function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const header = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(header + 4 + len);
  out[0] = 0x80 | opcode;
  const view = new DataView(out.buffer);
  if (len < 126) {
    out[1] = 0x80 | len;
  } else if (len < 65536) {
    out[1] = 0x80 | 126;
    view.setUint16(2, len);
  } else {
    out[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(len));
  }
  out.set(payload, header + 4);
  return out;
}

/**
 * Writes every byte (a TCP write may take part of them).
 *
 * @example
 * ```ts
 * declare const conn: Deno.Conn;
 * await writeAll(conn, new Uint8Array([0x88, 0x80, 0, 0, 0, 0]));
 * ```
 */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

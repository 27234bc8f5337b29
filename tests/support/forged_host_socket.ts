/**
 * Test helper: a NIP-01 client over raw TCP whose upgrade request carries the `Host` header the
 * test names (a browser's or Deno's WebSocket always sends the real one): the connection a relay
 * in the middle opens to a town while claiming to be itself. Text frames only; the town's
 * messages are read as JSON arrays.
 *
 * @module
 */
import { frame, writeAll } from "./non_reading_socket.ts";

/** Options for {@linkcode openForgedHostSocket}. */
export interface ForgedHostSocketOptions {
  /** The town's NIP-01 port on 127.0.0.1. */
  port: number;
  /** What the upgrade request says in `Host`. */
  host: string;
}

/** A raw NIP-01 connection. */
export interface ForgedHostSocket {
  /** Sends one message, JSON-encoded. */
  send(message: unknown): Promise<void>;
  /** The next message from the town, or undefined once the connection ended. */
  next(): Promise<unknown[] | undefined>;
  close(): void;
}

/**
 * Connects, upgrades with the forged `Host`, and returns the connection.
 *
 * @example
 * ```ts
 * const ws = await openForgedHostSocket({ port: 7100, host: "relay.example:7777" });
 * const [, challenge] = (await ws.next())!; // ["AUTH", challenge]
 * ws.close();
 * ```
 */
export async function openForgedHostSocket(
  options: ForgedHostSocketOptions,
): Promise<ForgedHostSocket> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  let buffered = new Uint8Array(0);
  const fill = async (bytes: number): Promise<boolean> => {
    const chunk = new Uint8Array(64 * 1024);
    while (buffered.length < bytes) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return false;
      const grown = new Uint8Array(buffered.length + n);
      grown.set(buffered);
      grown.set(chunk.subarray(0, n), buffered.length);
      buffered = grown;
    }
    return true;
  };
  const take = (bytes: number): Uint8Array => {
    const out = buffered.subarray(0, bytes);
    buffered = buffered.subarray(bytes);
    return out;
  };
  // The 101 head, up to its blank line.
  for (let end = -1; end < 0;) {
    if (!(await fill(buffered.length + 1))) throw new Error("closed during the handshake");
    end = new TextDecoder().decode(buffered).indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = new TextDecoder().decode(take(end + 4));
      if (!head.includes(" 101 ")) throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
    }
  }
  return {
    send: (message) =>
      writeAll(conn, frame(0x1, new TextEncoder().encode(JSON.stringify(message)))),
    async next() {
      for (;;) {
        if (!(await fill(2))) return undefined;
        const opcode = buffered[0] & 0x0f;
        let length = buffered[1] & 0x7f;
        let header = 2;
        if (length === 126) {
          if (!(await fill(4))) return undefined;
          length = new DataView(buffered.buffer, buffered.byteOffset).getUint16(2);
          header = 4;
        } else if (length === 127) {
          if (!(await fill(10))) return undefined;
          length = Number(new DataView(buffered.buffer, buffered.byteOffset).getBigUint64(2));
          header = 10;
        }
        if (!(await fill(header + length))) return undefined;
        const payload = take(header + length).subarray(header);
        if (opcode === 0x8) return undefined;
        if (opcode === 0x1) return JSON.parse(new TextDecoder().decode(payload));
      }
    },
    close() {
      try {
        conn.close();
      } catch {
        // closed already
      }
    },
  };
}

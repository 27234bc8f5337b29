/**
 * Test helper: a transform over the bytes a WebSocket client sends (the HTTP upgrade, then
 * frames, RFC 6455 section 5.2) that drops its data frames while `dropping()` says so and passes
 * everything else: the upgrade, pings, pongs and close frames (and a connection that is not a
 * WebSocket, whole), so the connection stays up (its
 * server's keepalive answered) while what the client sends never arrives. Whole frames only,
 * so the stream stays well formed. Used by tests/support/tcp_proxy.ts `stall`.
 *
 * @module
 */

/** Options for {@linkcode websocketDataGate}. */
export interface WebSocketDataGateOptions {
  /** Whether data frames are dropped now. */
  dropping: () => boolean;
  /** Told of each data frame dropped. */
  onDrop?: () => void;
}

/** Opcodes of data frames: continuation, text, binary. */
const DATA_OPCODES = new Set([0x0, 0x1, 0x2]);

/**
 * The gate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { websocketDataGate } from "./websocket_data_gate.ts";
 *
 * let drop = false;
 * const gate = websocketDataGate({ dropping: () => drop });
 * const writer = gate.writable.getWriter();
 * const reader = gate.readable.getReader();
 * const upgrade = "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
 * void writer.write(new TextEncoder().encode(upgrade));
 * assert.equal(new TextDecoder().decode((await reader.read()).value), upgrade);
 * drop = true;
 * const binary = new Uint8Array([0x82, 0x80, 0, 0, 0, 0]); // an empty masked binary frame
 * const ping = new Uint8Array([0x89, 0x80, 0, 0, 0, 0]);
 * void writer.write(binary);
 * void writer.write(ping);
 * assert.deepEqual((await reader.read()).value, ping); // the binary one was dropped
 * ```
 */
export function websocketDataGate(
  options: WebSocketDataGateOptions,
): TransformStream<Uint8Array, Uint8Array> {
  let upgraded = false;
  let raw = false;
  let pending = new Uint8Array(0);
  return new TransformStream({
    transform(chunk, out) {
      // Not a WebSocket (a plain HTTP request came first): passed as it is.
      if (raw) return out.enqueue(chunk);
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      let at = 0;
      if (!upgraded) {
        const head = new TextDecoder().decode(joined);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) {
          pending = joined;
          return;
        }
        if (!/^upgrade:\s*websocket/im.test(head.slice(0, end))) {
          raw = true;
          pending = new Uint8Array(0);
          return out.enqueue(joined);
        }
        at = end + 4;
        out.enqueue(joined.slice(0, at));
        upgraded = true;
      }
      for (;;) {
        const size = frameSize(joined, at);
        if (size === undefined || at + size > joined.length) break;
        const opcode = joined[at] & 0x0f;
        if (!(options.dropping() && DATA_OPCODES.has(opcode))) {
          out.enqueue(joined.slice(at, at + size));
        } else options.onDrop?.();
        at += size;
      }
      pending = joined.slice(at);
    },
  });
}

/** The whole size of the frame at `at` (header, mask, payload), or undefined if not all here. */
function frameSize(bytes: Uint8Array, at: number): number | undefined {
  if (bytes.length < at + 2) return undefined;
  const masked = (bytes[at + 1] & 0x80) !== 0;
  let length = bytes[at + 1] & 0x7f;
  let header = 2;
  if (length === 126) {
    if (bytes.length < at + 4) return undefined;
    length = (bytes[at + 2] << 8) | bytes[at + 3];
    header = 4;
  } else if (length === 127) {
    if (bytes.length < at + 10) return undefined;
    length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
    header = 10;
  }
  return header + (masked ? 4 : 0) + length;
}

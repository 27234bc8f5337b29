/**
 * The wire of a profile's node socket (docs/ARCHITECTURE.md "The profile's node"): one JSON
 * object per line (NDJSON) each way over a Unix socket in the state dir. A client sends one
 * request and reads reply lines until the last one (`done` or `error`). Amounts are bigints:
 * they cross as `{"$bigint": "123"}` so nothing is rounded.
 *
 * The socket is owner-only (0600 in a 0700 state dir), so the peer is the profile's own user;
 * lines are still capped ({@linkcode MAX_NODE_LINE_BYTES}) so a runaway client cannot make the
 * node buffer without bound.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** Largest line either side reads: a job spec with inline inputs fits (an event is < 32 KiB). */
export const MAX_NODE_LINE_BYTES = 1024 * 1024;

/** Time a client has to send its request line, on every node socket. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** A line longer than {@linkcode MAX_NODE_LINE_BYTES}, or one that is not a JSON object. */
export class NodeWireError extends RoleError {
  override name = "NodeWireError";
}

/**
 * JSON text of a value whose bigints become `{"$bigint": "<decimal>"}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeNodeLine({ bid: 5n }), '{"bid":{"$bigint":"5"}}\n');
 * ```
 */
export function encodeNodeLine(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => typeof v === "bigint" ? { $bigint: v.toString() } : v,
  ) + "\n";
}

/**
 * Parses one line written by {@linkcode encodeNodeLine} (bigints restored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeNodeLine('{"bid":{"$bigint":"5"}}'), { bid: 5n });
 * ```
 * @throws {NodeWireError} when the line is not a JSON object.
 */
export function decodeNodeLine(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line, (_k, v) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === "$bigint" && typeof v.$bigint === "string") {
          return BigInt(v.$bigint);
        }
      }
      return v;
    });
  } catch (err) {
    throw new NodeWireError(`not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new NodeWireError("not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * The lines of a byte stream (the socket's readable side), each decoded; a line over
 * {@linkcode MAX_NODE_LINE_BYTES} ends the stream with a {@linkcode NodeWireError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNodeLines } from "./node_wire.ts";
 *
 * const readable = new Response('{"type":"hello"}\n{"type":"bye"}\n').body!;
 * const messages = await Array.fromAsync(readNodeLines(readable));
 * assert.deepEqual(messages, [{ type: "hello" }, { type: "bye" }]);
 * ```
 */
export async function* readNodeLines(
  readable: ReadableStream<Uint8Array>,
): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of readable) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== "") yield decodeNodeLine(line);
    }
    if (pending.length > MAX_NODE_LINE_BYTES) {
      throw new NodeWireError(`a line is longer than ${MAX_NODE_LINE_BYTES} bytes`);
    }
  }
  if (pending.trim() !== "") yield decodeNodeLine(pending);
}

/**
 * The socket's path in a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(nodeSocketPath("/home/me/.turnpike/alice"), "/home/me/.turnpike/alice/node.sock");
 * ```
 */
export function nodeSocketPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/node.sock`;
}

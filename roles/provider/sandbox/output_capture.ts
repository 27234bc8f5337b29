/**
 * Reading a sandboxed job's output pipes (roles/provider/sandbox/skill_sandbox.ts): stdout kept up to a
 * cap (past it the job is killed: its result is too large), stderr's tail kept (the logs' end is
 * what says why a job failed; also a host agent's interleaved output,
 * roles/agent_work/provider/host_agent.ts). Both streams are read to their end either way, so the
 * job never blocks on a full pipe.
 *
 * @module
 */

/** What was kept of one stream. */
export interface Captured {
  bytes: Uint8Array;
  /** Whether some of it was not kept. */
  truncated: boolean;
}

/**
 * The first `max` bytes of `stream`; `onOverflow` is called once when it goes past them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCapped } from "./output_capture.ts";
 *
 * const { bytes, truncated } = await readCapped(ReadableStream.from([new Uint8Array(5)]), 3, () => {});
 * assert.deepEqual([bytes.length, truncated], [3, true]);
 * ```
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  max: number,
  onOverflow: () => void,
): Promise<Captured> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (truncated) continue; // keep draining so the pipe closes
    if (size + chunk.length > max) {
      parts.push(chunk.subarray(0, max - size));
      size = max;
      truncated = true;
      onOverflow();
      continue;
    }
    parts.push(chunk);
    size += chunk.length;
  }
  return { bytes: concat(parts, size), truncated };
}

/**
 * The last `max` bytes of what is pushed into it, from one stream or several interleaved as
 * their chunks arrive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TailKeeper } from "./output_capture.ts";
 *
 * const tail = new TailKeeper(3);
 * tail.push(new TextEncoder().encode("abcd"));
 * tail.push(new TextEncoder().encode("ef"));
 * assert.equal(new TextDecoder().decode(tail.captured().bytes), "def");
 * ```
 */
export class TailKeeper {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #size = 0;
  #truncated = false;

  /** Keeps at most `max` bytes. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Adds a chunk; whole chunks no longer needed for the last `max` bytes are dropped. */
  push(chunk: Uint8Array): void {
    this.#parts.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#parts[0].length >= this.#max) {
      this.#size -= this.#parts.shift()!.length;
      this.#truncated = true;
    }
  }

  /** The last `max` bytes pushed so far, and whether anything before them was dropped. */
  captured(): Captured {
    const all = concat(this.#parts, this.#size);
    if (all.length <= this.#max) return { bytes: all, truncated: this.#truncated };
    return { bytes: all.subarray(all.length - this.#max), truncated: true };
  }
}

/**
 * The last `max` bytes of `stream`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTail } from "./output_capture.ts";
 *
 * const tail = await readTail(ReadableStream.from([new TextEncoder().encode("abcdef")]), 2);
 * assert.equal(new TextDecoder().decode(tail.bytes), "ef");
 * ```
 */
export async function readTail(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<Captured> {
  const tail = new TailKeeper(max);
  for await (const chunk of stream) tail.push(chunk);
  return tail.captured();
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, size - at), at);
    at += Math.min(p.length, size - at);
  }
  return out;
}

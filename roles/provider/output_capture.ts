/**
 * Reading a sandboxed job's output pipes (roles/provider/skill_sandbox.ts): stdout kept up to a
 * cap (past it the job is killed: its result is too large), stderr's tail kept (the logs' end is
 * what says why a job failed). Both streams are read to their end either way, so the job never
 * blocks on a full pipe.
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
 * import { readCapped } from "./output_capture.ts";
 *
 * const { bytes, truncated } = await readCapped(ReadableStream.from([new Uint8Array(5)]), 3, () => {});
 * [bytes.length, truncated]; // [3, true]
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
 * The last `max` bytes of `stream`.
 *
 * @example
 * ```ts
 * import { readTail } from "./output_capture.ts";
 *
 * const tail = await readTail(ReadableStream.from([new TextEncoder().encode("abcdef")]), 2);
 * new TextDecoder().decode(tail.bytes); // "ef"
 * ```
 */
export async function readTail(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<Captured> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    parts.push(chunk);
    size += chunk.length;
    while (size - parts[0].length >= max) {
      size -= parts.shift()!.length;
      truncated = true;
    }
  }
  const all = concat(parts, size);
  if (all.length <= max) return { bytes: all, truncated };
  return { bytes: all.subarray(all.length - max), truncated: true };
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

/**
 * Groups chunks into arrays bounded in size and in time, for crossing Worker boundaries.
 *
 * @module
 */
import { afterDelay, type FlushTimer } from "./flush_timer.ts";
import type { Chunk } from "../stages/chunks.ts";

/** Options for {@linkcode ChunkBatchStream}. */
export interface ChunkBatchStreamOptions {
  /** Largest batch. Default 256. */
  maxChunks?: number;
  /** Longest a partial batch waits for more chunks, in ms. Default 1. */
  maxDelayMs?: number;
}

/**
 * A TransformStream from chunks to batches: a batch goes out when it is full or when its first
 * chunk has waited `maxDelayMs`.
 *
 * @example
 * ```ts
 * const batches = ReadableStream.from([{ type: "toon", toon: "kind: 1" } as const])
 *   .pipeThrough(new ChunkBatchStream({ maxChunks: 16 }));
 * ```
 */
export class ChunkBatchStream extends TransformStream<Chunk, Chunk[]> {
  constructor(options: ChunkBatchStreamOptions = {}) {
    const maxChunks = options.maxChunks ?? 256;
    const maxDelayMs = options.maxDelayMs ?? 1;
    let pending: Chunk[] = [];
    let timer: FlushTimer | undefined;
    let controllerRef: TransformStreamDefaultController<Chunk[]> | undefined;
    const flush = () => {
      timer?.cancel();
      timer = undefined;
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      try {
        controllerRef?.enqueue(batch);
      } catch {
        // The stream was cancelled downstream while the timer was pending: nothing to do.
      }
    };
    super({
      start(controller) {
        controllerRef = controller;
      },
      transform(chunk) {
        pending.push(chunk);
        if (pending.length >= maxChunks) flush();
        else if (timer === undefined) timer = afterDelay(flush, maxDelayMs);
      },
      flush,
      cancel() {
        timer?.cancel();
      },
    });
  }
}

/**
 * Flattens batches back into single chunks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChunkUnbatchStream } from "./chunk_batch_stream.ts";
 * import type { Chunk } from "../stages/chunks.ts";
 *
 * const batches = ReadableStream.from<Chunk[]>([[{ type: "toon", toon: "a" }, { type: "toon", toon: "b" }]]);
 * const chunks = await Array.fromAsync(batches.pipeThrough(new ChunkUnbatchStream()));
 * assert.equal(chunks.length, 2);
 * ```
 */
export class ChunkUnbatchStream extends TransformStream<Chunk[], Chunk> {
  constructor() {
    super({
      transform(batch, controller) {
        for (const chunk of batch) controller.enqueue(chunk);
      },
    });
  }
}

/**
 * Test-only transform: appends "!" to each TOON chunk; a chunk whose text is `fail` becomes a
 * FailedChunk (as a real stage reports bad input).
 *
 * @module
 */
import type { Chunk } from "../stages/chunks.ts";
import { NO_PERMISSIONS, type TransformStage } from "../stages/stage.ts";
import { stageMain } from "../stages/stage_runner.ts";

/** Options for {@linkcode createBangTransform} (none). */
export type BangTransformOptions = Record<string, never>;

/**
 * The bang transform.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBangTransform } from "./bang_transform.ts";
 *
 * const out = ReadableStream.from([{ type: "toon" as const, toon: "n: 1" }])
 *   .pipeThrough(createBangTransform({}));
 * assert.deepEqual(await Array.fromAsync(out), [{ type: "toon", toon: "n: 1!" }]);
 * ```
 */
export function createBangTransform(_options: BangTransformOptions): TransformStream<Chunk, Chunk> {
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.type !== "toon" || chunk.toon === "fail") {
        controller.enqueue({
          type: "failed",
          stage: "bang",
          error: "BangInputError",
          message: "not a bangable chunk",
          input: chunk,
        });
        return;
      }
      controller.enqueue({ ...chunk, toon: chunk.toon + "!" });
    },
  });
}

/** The bang transform as a stage. */
export const bangStage: TransformStage<Chunk, Chunk, BangTransformOptions> = {
  name: "bang",
  role: "transform",
  description: "test only: appends ! to TOON chunks",
  parseOptions: () => ({}),
  permissions: () => NO_PERMISSIONS,
  create: createBangTransform,
};

if (import.meta.main) await stageMain(bangStage);

/**
 * Test-only source: emits `count` TOON chunks `n: 0`, `n: 1`, ... and ends.
 *
 * @module
 */
import type { ToonChunk } from "../../stages/chunks.ts";
import { NO_PERMISSIONS, type SourceStage } from "../../stages/stage.ts";
import { stageMain } from "../../stages/stage_runner.ts";

/** Options for {@linkcode createNumberedSource}. */
export interface NumberedSourceOptions {
  count: number;
}

/**
 * A source of `count` numbered chunks, produced on demand (it honours backpressure).
 *
 * @example
 * ```ts
 * for await (const c of createNumberedSource({ count: 2 })) console.log(c.toon);
 * ```
 */
export function createNumberedSource(options: NumberedSourceOptions): ReadableStream<ToonChunk> {
  let n = 0;
  return new ReadableStream<ToonChunk>({
    pull(controller) {
      if (n >= options.count) return controller.close();
      controller.enqueue({ type: "toon", toon: `n: ${n++}` });
    },
  }, { highWaterMark: 0 });
}

/** The numbered source as a stage. */
export const numberedSourceStage: SourceStage<ToonChunk, NumberedSourceOptions> = {
  name: "numbered-source",
  role: "source",
  description: "test only: emits count numbered TOON chunks",
  parseOptions: (flags) => ({ count: Number(flags.count ?? "10") }),
  permissions: () => NO_PERMISSIONS,
  create: createNumberedSource,
};

if (import.meta.main) await stageMain(numberedSourceStage);

/**
 * Test-only transform that passes chunks through and kills its worker on the `n`th chunk this
 * instance sees: with an uncaught error thrown from a timer (`how: "uncaught"`, the worker's
 * `error` event) or by erroring its stream (`how: "stream"`). A restarted instance counts from
 * zero again, so a stream of many chunks makes progress between crashes.
 *
 * @module
 */
import type { Chunk } from "../../stages/chunks.ts";
import { NO_PERMISSIONS, type TransformStage } from "../../stages/stage.ts";
import { stageMain } from "../../stages/stage_runner.ts";

/** Options for {@linkcode createCrashOnNth}. */
export interface CrashOnNthOptions {
  n: number;
  how: "uncaught" | "stream";
}

/**
 * The crashing transform.
 *
 * @example
 * ```ts
 * const t = createCrashOnNth({ n: 50, how: "uncaught" });
 * ```
 */
export function createCrashOnNth(options: CrashOnNthOptions): TransformStream<Chunk, Chunk> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      if (++seen === options.n) {
        if (options.how === "stream") throw new Error(`crash at chunk ${seen}`);
        return new Promise<void>(() => {
          setTimeout(() => {
            throw new Error(`uncaught crash at chunk ${seen}`);
          }, 0);
        });
      }
      controller.enqueue(chunk);
    },
  });
}

/** The crashing transform as a stage. */
export const crashOnNthStage: TransformStage<Chunk, Chunk, CrashOnNthOptions> = {
  name: "crash-on-nth",
  role: "transform",
  description: "test only: crashes its worker on the nth chunk",
  parseOptions: (flags) => ({
    n: Number(flags.n ?? "10"),
    how: flags.how === "stream" ? "stream" : "uncaught",
  }),
  permissions: () => NO_PERMISSIONS,
  create: createCrashOnNth,
};

if (import.meta.main) await stageMain(crashOnNthStage);

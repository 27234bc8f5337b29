/**
 * Test-only transform whose module takes a while to evaluate (top-level await), as a stage does
 * whose graph loads WebAssembly: messages posted to its worker before the graph is evaluated
 * must not be lost. Passes chunks through unchanged.
 *
 * @module
 */
import type { Chunk } from "../../stages/chunks.ts";
import { NO_PERMISSIONS, type TransformStage } from "../../stages/stage.ts";

await new Promise((resolve) => setTimeout(resolve, 300));

/** The slow-loading pass-through as a stage. */
export const slowLoadingStage: TransformStage<Chunk, Chunk, Record<string, never>> = {
  name: "slow-loading",
  role: "transform",
  description: "test only: passes chunks through; its module evaluates slowly",
  parseOptions: () => ({}),
  permissions: () => NO_PERMISSIONS,
  create: () => new TransformStream<Chunk, Chunk>(),
};

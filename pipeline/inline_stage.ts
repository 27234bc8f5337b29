/**
 * A stage run in the pipeline's own thread (mode "inline"): its TransformStream wrapped so that
 * FailedChunks from upstream bypass it (a stage only ever sees the chunk types it works on) and
 * its metrics are counted the same way as in a worker.
 *
 * @module
 */
import { type Chunk, isReportChunk } from "../stages/chunks.ts";
import type { StageMetrics } from "./stage_metrics.ts";
import { StageCrashedError } from "./stage_errors.ts";

/** Options for {@linkcode wrapInlineTransform}. */
export interface InlineStageOptions {
  name: string;
  metrics: StageMetrics;
  /** Called when the stage's stream errors (in inline mode nothing restarts it). */
  onError(error: StageCrashedError): void;
}

/**
 * Wraps a stage's transform for inline use.
 *
 * @example
 * ```ts
 * import { wrapInlineTransform } from "./inline_stage.ts";
 * import { StageMetrics } from "./stage_metrics.ts";
 * import { signerStage } from "../stages/signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 *
 * const metrics = new StageMetrics(signerStage.name, "inline", "chunk");
 * const stage = signerStage.create({ secretKey: bytesToHex(generateSecretKey()) });
 * const t = wrapInlineTransform(stage, {
 *   name: signerStage.name,
 *   metrics,
 *   onError: (error) => console.error(error.message),
 * });
 * ```
 */
export function wrapInlineTransform(
  inner: TransformStream<Chunk, Chunk>,
  options: InlineStageOptions,
): TransformStream<Chunk, Chunk> {
  const { metrics, name } = options;
  const writer = inner.writable.getWriter();
  let pump: Promise<void> = Promise.resolve();
  const fail = (err: unknown): never => {
    const e = err instanceof Error ? err : new Error(String(err));
    const crashed = new StageCrashedError(name, e.name, e.message);
    options.onError(crashed);
    throw crashed;
  };
  return new TransformStream<Chunk, Chunk>({
    start(controller) {
      pump = inner.readable.pipeTo(
        new WritableStream({
          write(chunk) {
            metrics.chunksOut++;
            if (chunk.type === "failed") metrics.chunksFailed++; // the stage's own: bypass is below
            controller.enqueue(chunk);
          },
        }),
      );
      pump.catch(() => {}); // surfaces through the writer
    },
    async transform(chunk, controller) {
      metrics.chunksIn++;
      if (isReportChunk(chunk)) {
        metrics.chunksOut++;
        controller.enqueue(chunk);
        return;
      }
      const started = performance.now();
      try {
        await writer.write(chunk);
      } catch (err) {
        fail(err);
      }
      metrics.recordLatency(performance.now() - started);
    },
    async flush() {
      try {
        await writer.close();
        await pump;
      } catch (err) {
        fail(err);
      }
    },
  });
}

/**
 * Counts a source's chunks into its metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countInlineSource } from "./inline_stage.ts";
 * import { StageMetrics } from "./stage_metrics.ts";
 * import type { Chunk } from "../stages/chunks.ts";
 *
 * const metrics = new StageMetrics("template-source", "inline", "chunk");
 * const chunks: Chunk[] = [
 *   { type: "template", template: { kind: 1, created_at: 1, tags: [], content: "hi" } },
 * ];
 * const counted = ReadableStream.from(chunks).pipeThrough(countInlineSource(metrics));
 * for await (const _ of counted);
 * assert(metrics.chunksOut === 1);
 * ```
 */
export function countInlineSource(metrics: StageMetrics): TransformStream<Chunk, Chunk> {
  return new TransformStream({
    transform(chunk, controller) {
      metrics.chunksOut++;
      controller.enqueue(chunk);
    },
  });
}

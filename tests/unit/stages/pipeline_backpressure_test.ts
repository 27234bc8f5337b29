import { assert, assertEquals } from "../../../harness/assert.ts";
import { createPipeline } from "../../../pipeline/pipeline.ts";
import type { Chunk } from "../../../stages/chunks.ts";
import type { StageModuleRef } from "../../../stages/stage_registry.ts";

const BANG: StageModuleRef = {
  url: new URL("../../../harness/bang_transform.ts", import.meta.url).href,
  exportName: "bangStage",
};

Deno.test("with a slow consumer, chunks held in the pipeline stay bounded end to end", async () => {
  const total = 20_000;
  const batch = 32;
  const inFlight = 2;
  const outBatches = 2;
  let produced = 0;
  // A lazy input: it only makes a chunk when the pipeline pulls one, so produced - consumed is
  // exactly what the pipeline holds.
  const input = new ReadableStream<Chunk>({
    pull(controller) {
      if (produced === total) return controller.close();
      controller.enqueue({ type: "toon", toon: `n: ${produced++}` });
    },
  }, { highWaterMark: 0 });
  await using pipeline = await createPipeline({
    input,
    stages: [
      { name: "bang", module: BANG, options: {} },
      { name: "bang", module: BANG, options: {} },
    ],
    maxBatchChunks: batch,
    maxInFlightBatches: inFlight,
    maxOutBatches: outBatches,
  });
  // Per stage: in flight + out queue/credits + pending (< 1 batch) + the batch being written;
  // plus the input batcher's batch and the stream queues between stages (one batch each).
  const perStage = (inFlight + outBatches + 2) * batch;
  const bound = 2 * perStage + 4 * batch;
  let consumed = 0;
  let maxHeld = 0;
  const memory: number[] = [];
  for await (const b of pipeline.output) {
    consumed += b.length;
    maxHeld = Math.max(maxHeld, produced - consumed);
    if (consumed % 2048 < batch) memory.push(Deno.memoryUsage().rss);
    // The slow sink: a pause every batch lets a fast producer run ahead if anything is unbounded.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assertEquals(consumed, total);
  assert(maxHeld <= bound, `held ${maxHeld} chunks, bound ${bound}`);
  const depths = pipeline.metrics().stages.map((s) => s.maxQueueDepth);
  for (const d of depths) assert(d <= perStage, `queue depth ${d} over ${perStage}`);
  assert(produced - consumed === 0);
});

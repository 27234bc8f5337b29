import { assert, assertEquals } from "../../../harness/assert.ts";
import { createPipeline, PipelineSpecError } from "../../../pipeline/pipeline.ts";
import { RecordDecoderStream } from "../../../stages/record_framing.ts";
import type { Chunk } from "../../../stages/chunks.ts";
import { assertRejects } from "../../../harness/assert.ts";
import { extractSummary } from "../../../protocol/kind_extractor.ts";
import { loadStage, stageNames, UnknownStageError } from "../../../stages/stage_registry.ts";

const CORPUS = new URL("../../../fixtures/corpus.toon", import.meta.url);

async function corpus(): Promise<Chunk[]> {
  const text = await Deno.readTextFile(CORPUS);
  return await Array.fromAsync(
    ReadableStream.from([text]).pipeThrough(new RecordDecoderStream({ source: "corpus" })),
  );
}

/**
 * Pretend this node posted the jobs that every other result/feedback in the corpus answers, so
 * some events correlate and some do not.
 */
function jobsOf(chunks: Chunk[]): { jobId: string; skill: string }[] {
  const jobs = new Map<string, string>();
  let n = 0;
  for (const c of chunks) {
    if (c.type !== "toon") continue;
    let summary;
    try {
      summary = extractSummary(c.toon);
    } catch {
      continue;
    }
    const related = (summary.kind >= 6000 && summary.kind <= 6999) || summary.kind === 7000;
    const e = summary.e[0];
    if (related && e !== undefined && /^[0-9a-f]{64}$/.test(e) && n++ % 2 === 0) {
      jobs.set(e, `skill-${summary.kind}`);
    }
  }
  return [...jobs].map(([jobId, skill]) => ({ jobId, skill }));
}

async function runMode(mode: "inline" | "workers", input: Chunk[], passUnmatched: boolean) {
  await using pipeline = await createPipeline({
    mode,
    input,
    stages: [
      { name: "kind-extractor" },
      { name: "correlator", options: { jobs: jobsOf(input), passUnmatched } },
    ],
    maxBatchChunks: 16,
  });
  const out: Chunk[] = [];
  const outcome = await pipeline.run({ onBatch: (b) => void out.push(...b) });
  return { out, outcome };
}

Deno.test("inline and workers give the same output on the fixture corpus", async () => {
  const input = await corpus();
  assert(input.length > 100, `corpus has ${input.length} records`);
  for (const passUnmatched of [false, true]) {
    const inline = await runMode("inline", input, passUnmatched);
    const workers = await runMode("workers", input, passUnmatched);
    assertEquals(workers.out, inline.out);
    assertEquals(workers.outcome.errors, []);
    const correlated = workers.out.filter((c) => c.type === "correlated").length;
    assert(correlated > 10, `correlated: ${correlated}`);
    const [extractor, correlator] = workers.outcome.metrics.stages;
    assertEquals(extractor.chunksIn, input.length);
    // Nothing vanishes unaccounted: every input is out, failed, or (correlator) dropped as unmatched.
    assertEquals(extractor.chunksOut, input.length);
    if (passUnmatched) assertEquals(correlator.chunksOut, input.length);
    assertEquals(
      workers.outcome.metrics.stages.map((s) => [s.chunksIn, s.chunksOut, s.chunksFailed]),
      inline.outcome.metrics.stages.map((s) => [s.chunksIn, s.chunksOut, s.chunksFailed]),
    );
  }
});

Deno.test("a pipeline checks the order of roles and that worker options can be cloned", async () => {
  await assertRejects(
    () => createPipeline({ stages: [{ name: "kind-extractor" }] }),
    PipelineSpecError,
  );
  await assertRejects(
    () =>
      createPipeline({
        input: [],
        stages: [{ name: "correlator", options: { store: { lookup: () => undefined } } }],
      }),
    PipelineSpecError,
  );
});

Deno.test("the registry loads every stage it names and rejects unknown names", async () => {
  for (const name of stageNames()) {
    const stage = await loadStage(name);
    assertEquals(stage.name, name);
  }
  const err = await assertRejects(() => loadStage("nope"), UnknownStageError);
  assert(err.message.includes("kind-extractor, relay-source"), err.message);
});

Deno.test("log chunks pass every later stage untouched, in both modes", async () => {
  const all = await corpus();
  const input: Chunk[] = [
    all[0],
    { type: "log", stage: "relay-source", entry: { type: "disconnected", code: 1006, reason: "" } },
    all[1],
  ];
  for (const mode of ["inline", "workers"] as const) {
    await using pipeline = await createPipeline({
      mode,
      input,
      stages: [{ name: "kind-extractor" }, { name: "correlator", options: { jobs: [] } }],
    });
    const out: Chunk[] = [];
    const outcome = await pipeline.run({ onBatch: (b) => void out.push(...b) });
    assertEquals(out.filter((c) => c.type === "log"), [input[1]], mode);
    assertEquals(outcome.errors, [], mode);
  }
});

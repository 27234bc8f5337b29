/**
 * The fixture-pipeline demo (`turnpike demo --pipeline`): the receiving pipeline over the shipped
 * fixtures, each stage in its own permission-restricted Worker:
 *
 *     fixtures (TOON) -> kind-extractor -> correlator -> (counted here)
 *
 * The correlator knows the job requests of the corpus (as a requester would after posting them),
 * so results and feedback that refer to them are routed to the `echo` callback skill. Malformed
 * fixtures are fed too, to show that bad input comes out as reported failures, never dropped.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { createPipeline, type PipelineOutcome } from "../../pipeline/pipeline.ts";
import type { StageMetricsSnapshot } from "../../pipeline/stage_metrics.ts";
import { extractSummary } from "../../protocol/kind_extractor.ts";
import type { Chunk, ToonChunk } from "../../stages/chunks.ts";
import { RecordDecoderStream } from "../../stages/record_framing.ts";
import { isJobRequestKind } from "../../protocol/nip90_job.ts";

/** A stage of the demo pipeline failed. */
export class FixtureDemoStageError extends RoleError {
  override name = "FixtureDemoStageError";
}

const FIXTURES = new URL("../../fixtures/", import.meta.url);

/** Options of the fixture-pipeline demo. */
export interface FixtureDemoOptions {
  /** "workers" (default) or "inline". */
  mode: "workers" | "inline";
  /** Times the corpus is replayed (for a throughput figure). */
  repeat: number;
  /** Include the malformed fixtures. */
  malformed: boolean;
}

/** What the demo did. */
export interface FixtureDemoReport {
  mode: "workers" | "inline";
  eventsIn: number;
  jobsKnown: number;
  correlated: { result: number; feedback: number; other: number };
  failed: number;
  failureClasses: Record<string, number>;
  seconds: number;
  eventsPerSecond: number;
  stages: StageMetricsSnapshot[];
}

async function loadFixtureChunks(options: FixtureDemoOptions): Promise<ToonChunk[]> {
  // The corpus is read with the stages' own record framing, as `turnpike stage` would read it.
  const chunks: ToonChunk[] = [];
  const records = ReadableStream.from([await Deno.readTextFile(new URL("corpus.toon", FIXTURES))])
    .pipeThrough(new RecordDecoderStream({ source: "corpus" }));
  for await (const record of records) {
    if (record.type !== "toon") throw new Error(`corpus.toon holds a ${record.type} record`);
    chunks.push(record);
  }
  if (options.malformed) {
    const dir = new URL("events/malformed/", FIXTURES);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".toon")) continue;
      const toon = (await Deno.readTextFile(new URL(entry.name, dir))).trimEnd();
      chunks.push({ type: "toon", toon, source: `malformed/${entry.name}` });
    }
  }
  return chunks;
}

/** The job requests (kinds 5000-5999) of the corpus: the jobs "we" posted. */
function knownJobs(chunks: ToonChunk[]): { jobId: string; skill: string }[] {
  const jobs = [];
  for (const chunk of chunks) {
    try {
      const s = extractSummary(chunk.toon);
      if (isJobRequestKind(s.kind)) jobs.push({ jobId: s.id, skill: "echo" });
    } catch {
      // malformed fixtures are not jobs; the pipeline reports them
    }
  }
  return jobs;
}

function* replay(chunks: ToonChunk[], times: number): Iterable<Chunk> {
  for (let i = 0; i < times; i++) yield* chunks;
}

/**
 * Runs the fixture pipeline and reports what every stage did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFixtureDemo } from "./fixture_pipeline_demo.ts";
 *
 * const report = await runFixtureDemo({ mode: "workers", repeat: 1, malformed: true });
 * assert.equal(report.eventsIn, 162);
 * assert.deepEqual(report.correlated, { result: 29, feedback: 18, other: 3 });
 * assert.equal(report.failed, 23); // the malformed fixtures
 * ```
 */
export async function runFixtureDemo(options: FixtureDemoOptions): Promise<FixtureDemoReport> {
  const chunks = await loadFixtureChunks(options);
  const jobs = knownJobs(chunks);
  const correlated = { result: 0, feedback: 0, other: 0 };
  const failureClasses: Record<string, number> = {};
  const started = performance.now();
  const pipeline = await createPipeline({
    mode: options.mode,
    input: replay(chunks, options.repeat),
    stages: [{ name: "kind-extractor" }, { name: "correlator", options: { jobs } }],
  });
  const outcome: PipelineOutcome = await pipeline.run({
    onBatch(batch) {
      for (const c of batch) {
        if (c.type === "correlated") correlated[c.role]++;
        else if (c.type === "failed") failureClasses[c.error] = (failureClasses[c.error] ?? 0) + 1;
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (outcome.errors.length > 0) {
    const e = outcome.errors[0];
    throw new FixtureDemoStageError(`stage ${e.stage} failed: ${e.message} (${e.error})`);
  }
  const eventsIn = chunks.length * options.repeat;
  return {
    mode: options.mode,
    eventsIn,
    jobsKnown: jobs.length,
    correlated,
    failed: outcome.failures.length,
    failureClasses,
    seconds,
    eventsPerSecond: Math.round(eventsIn / seconds),
    stages: outcome.metrics.stages,
  };
}

/**
 * The demo's report as text lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFixtureDemoReport, runFixtureDemo } from "./fixture_pipeline_demo.ts";
 *
 * const report = await runFixtureDemo({ mode: "inline", repeat: 1, malformed: true });
 * const text = formatFixtureDemoReport(report);
 * assert.match(text, /^turnpike demo: receiving pipeline over the fixtures \(inline\)/);
 * assert.match(text, /events in +162/);
 * ```
 */
export function formatFixtureDemoReport(r: FixtureDemoReport): string {
  const lines = [
    `turnpike demo: receiving pipeline over the fixtures (${r.mode})`,
    `  fixtures -> kind-extractor -> correlator`,
    "",
    `  events in          ${r.eventsIn}`,
    `  jobs we "posted"   ${r.jobsKnown} (kind 5000-5999 requests of the corpus, callback skill echo)`,
    `  routed to skills   ${r.correlated.result} results, ${r.correlated.feedback} feedback, ` +
    `${r.correlated.other} other (cancellations...)`,
    `  refused as bad     ${r.failed} ${
      Object.entries(r.failureClasses).map(([k, v]) => `${k}: ${v}`).join(", ")
    }`,
    `  time               ${r.seconds.toFixed(3)} s (${r.eventsPerSecond} events/s incl. start-up)`,
    "",
    "  stage            in       out      failed  restarts",
    ...r.stages.map((s) =>
      `  ${s.stage.padEnd(16)} ${String(s.chunksIn).padEnd(8)} ${String(s.chunksOut).padEnd(8)} ` +
      `${String(s.chunksFailed).padEnd(7)} ${s.restarts}`
    ),
    "",
    "The paid requester/provider demo over a local town: `turnpike demo`.",
  ];
  return lines.join("\n");
}

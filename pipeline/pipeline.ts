/**
 * Composes stages (`source -> transform* -> sink`) and runs them, each in its own Deno Worker
 * with the permission profile its `permissions(options)` returns (mode "workers", the default),
 * or all in the calling thread (mode "inline", for comparison and for options that cannot be
 * cloned into a worker).
 *
 * Permission profiles: a stage's worker gets exactly `stage.permissions(options)`, narrowed from
 * the parent's (Deno can only narrow). Loading code needs nothing: the worker's entry module
 * imports the stage statically (see `worker_entry.ts`), and static imports of local files and
 * of npm packages in node_modules are not permission-checked; only the stage's own I/O is.
 *
 * Chunks cross every boundary in batches, worker to worker (see `worker_chain.ts` for the
 * wiring and `supervised_worker_stage.ts` for the bounds, flow control and supervision). FailedChunks bypass later stages and reach the output, so the
 * outcome of a run lists every failure; a chunk is never silently dropped by the runtime.
 *
 * @module
 */
import { PipelineError } from "./pipeline_error.ts";
import type { Chunk, FailedChunk } from "../stages/chunks.ts";
import type { Stage, StageContext, StageFlags } from "../stages/stage.ts";
import { importStage, resolveStageModule, type StageModuleRef } from "../stages/stage_registry.ts";
import { ChunkBatchStream } from "./chunk_batch_stream.ts";
import { countInlineSource, wrapInlineTransform } from "./inline_stage.ts";
import type {
  StageCrashedError,
  StagePermissionError,
  StageRestartLimitError,
} from "./stage_errors.ts";
import { StageMetrics, type StageMetricsSnapshot } from "./stage_metrics.ts";
import { createWorkerEntryUrl } from "./worker_entry.ts";
import { WorkerChain } from "./worker_chain.ts";

/** One stage of a pipeline. */
export interface PipelineStageSpec {
  /** Registered stage name (see `stages/stage_registry.ts`). */
  name: string;
  /** Options for `create`; in mode "workers" they must be structured-cloneable. */
  options?: unknown;
  /** Command-line style flags, parsed with the stage's `parseOptions` when `options` is absent. */
  flags?: StageFlags;
  /** Load the stage from here instead of the registry (tests, plugins). */
  module?: StageModuleRef;
  /**
   * A source's NIP-42 answers, signed in this thread (the node's key): a source in a worker asks
   * for them by message and never holds the key (`worker_authenticator.ts`).
   */
  authenticate?: StageContext["authenticate"];
}

/** Options for {@linkcode createPipeline}. */
export interface PipelineOptions {
  /** Stages in order. The first is a source unless `input` is given. */
  stages: PipelineStageSpec[];
  /** Chunks fed to the first stage (then every stage must be a transform or sink). */
  input?: ReadableStream<Chunk> | AsyncIterable<Chunk> | Iterable<Chunk>;
  /** "workers" (default): one Worker per stage; "inline": all in this thread. */
  mode?: "inline" | "workers";
  /** Largest batch crossing a boundary. Default 256. */
  maxBatchChunks?: number;
  /** Longest a partial batch waits at a source or at `input`, in ms. Default 1. */
  maxBatchDelayMs?: number;
  /**
   * Batches in flight to a stage. Default 4. A link holds each batch until it has left the
   * pipeline, so its window is `maxInFlightBatches + maxOutBatches`.
   */
  maxInFlightBatches?: number;
  /** Batches waiting after a stage for the consumer. Default 4. See `maxInFlightBatches`. */
  maxOutBatches?: number;
  /** Restarts per stage before its chunks are reported failed. Default 3. */
  maxRestarts?: number;
  /** First restart delay, doubled each time. Default 10 ms. */
  restartBackoffMs?: number;
  /** Cap of the restart delay. Default 1000 ms. */
  maxRestartBackoffMs?: number;
}

/** A stage error as plain data. */
export interface StageErrorRecord {
  /** The stage name (kebab-case). */
  stage: string;
  /** StageCrashedError, StagePermissionError or StageRestartLimitError. */
  error: string;
  /** The error's message, e.g. `stage relay-source crashed: TypeError: ...`. */
  message: string;
  /** For StagePermissionError: the permission and its target. */
  permission?: string;
  /** For StagePermissionError: what was asked for; empty when Deno did not say. */
  target?: string;
}

/** All metrics of a pipeline, plain data for `JSON.stringify`. */
export interface PipelineMetricsSnapshot {
  /** How the pipeline ran: one Worker per stage, or all in the calling thread. */
  mode: "inline" | "workers";
  /** One snapshot per stage, in pipeline order. */
  stages: StageMetricsSnapshot[];
}

/** What a finished run did. */
export interface PipelineOutcome {
  /** No stage error and no failed chunk. */
  ok: boolean;
  /** Chunks that reached the end of the pipeline, failures excluded. */
  chunksOut: number;
  /** Every FailedChunk that reached the end, in arrival order. */
  failures: FailedChunk[];
  /** Every crash, permission denial and restart-limit error, in order. */
  errors: StageErrorRecord[];
  /** Metrics at the end of the run. */
  metrics: PipelineMetricsSnapshot;
}

/** Options for {@linkcode Pipeline.run}. */
export interface PipelineRunOptions {
  /** Called with each output batch (failures included) before it is counted. */
  onBatch?(batch: Chunk[]): void | Promise<void>;
}

/** The pipeline's specification is wrong (order of roles, non-cloneable options...). */
export class PipelineSpecError extends PipelineError {
  /** `"PipelineSpecError"`: explicit so it survives bundling. */
  override name = "PipelineSpecError";
}

/**
 * A running pipeline. Read `output` yourself, or call `run()` to drain it; either way call
 * `close()` (or `await using`) when done so every worker is terminated.
 */
export interface Pipeline extends AsyncDisposable {
  /** The mode the pipeline was created with. */
  readonly mode: "inline" | "workers";
  /** Output batches of the last stage, FailedChunks from any stage included. */
  readonly output: ReadableStream<Chunk[]>;
  /** Current per-stage metrics. */
  metrics(): PipelineMetricsSnapshot;
  /** Stage errors so far. */
  errors(): StageErrorRecord[];
  /** Drains `output` and reports the outcome; closes the pipeline at the end. */
  run(options?: PipelineRunOptions): Promise<PipelineOutcome>;
  /** Terminates every worker. */
  close(): Promise<void>;
}

interface ResolvedStage {
  spec: PipelineStageSpec;
  ref: StageModuleRef;
  stage: Stage;
  options: unknown;
}

/**
 * Builds and starts a pipeline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon, localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { createPipeline } from "./pipeline.ts";
 *
 * const event = await localNodeSigner(generateSecretKey())
 *   .signEvent({ kind: 7000, created_at: 1, tags: [], content: "" });
 * // A relay-source stage first reads a relay instead of `input` (tests/unit/stages/).
 * await using pipeline = await createPipeline({
 *   input: [{ type: "toon", toon: encodeEventToon(event) }],
 *   stages: [{ name: "kind-extractor" }],
 * });
 * const outcome = await pipeline.run();
 * assert.deepEqual([outcome.ok, outcome.chunksOut], [true, 1]);
 * ```
 */
export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const mode = options.mode ?? "workers";
  const resolved = await resolveStages(options);
  checkRoles(resolved, options.input !== undefined);
  if (mode === "workers") checkCloneable(resolved);
  const errors: StageErrorRecord[] = [];
  const onError = (e: StageCrashedError | StagePermissionError | StageRestartLimitError) => {
    const record: StageErrorRecord = { stage: e.stage, error: e.name, message: e.message };
    if (e.name === "StagePermissionError") {
      record.permission = (e as StagePermissionError).permission;
      record.target = (e as StagePermissionError).target;
    }
    errors.push(record);
  };
  const metrics = resolved.map((r) =>
    new StageMetrics(r.stage.name, mode, mode === "workers" ? "batch" : "chunk")
  );
  const built = mode === "workers"
    ? buildWorkers(resolved, metrics, options, onError)
    : buildInline(resolved, metrics, options, onError);
  return new RunningPipeline(mode, built.output, metrics, errors, built.close);
}

async function resolveStages(options: PipelineOptions): Promise<ResolvedStage[]> {
  if (options.stages.length === 0) throw new PipelineSpecError("a pipeline needs stages");
  return await Promise.all(options.stages.map(async (spec) => {
    const ref = spec.module ?? resolveStageModule(spec.name);
    const stage = await importStage(ref);
    const stageOptions = spec.options !== undefined
      ? spec.options
      : stage.parseOptions(spec.flags ?? {});
    return { spec, ref, stage, options: stageOptions };
  }));
}

function checkRoles(stages: ResolvedStage[], hasInput: boolean): void {
  stages.forEach((r, i) => {
    const wantSource = i === 0 && !hasInput;
    if (wantSource && r.stage.role !== "source") {
      throw new PipelineSpecError(`the first stage must be a source, ${r.stage.name} is not`);
    }
    if (!wantSource && r.stage.role === "source") {
      throw new PipelineSpecError(`source ${r.stage.name} can only be the first stage`);
    }
  });
}

function checkCloneable(stages: ResolvedStage[]): void {
  for (const r of stages) {
    try {
      structuredClone(r.options);
    } catch (err) {
      throw new PipelineSpecError(
        `options of ${r.stage.name} cannot be sent to a worker (${(err as Error).message}); ` +
          `use plain data or mode "inline"`,
      );
    }
  }
}

interface Built {
  output: ReadableStream<Chunk[]>;
  close(): void;
}

function inputStream(options: PipelineOptions): ReadableStream<Chunk> | undefined {
  const input = options.input;
  if (input === undefined || input instanceof ReadableStream) return input;
  return ReadableStream.from(input);
}

function buildWorkers(
  stages: ResolvedStage[],
  metrics: StageMetrics[],
  options: PipelineOptions,
  onError: SupervisedWorkerStageOnError,
): Built {
  const maxBatchChunks = options.maxBatchChunks ?? 256;
  const maxBatchDelayMs = options.maxBatchDelayMs ?? 1;
  // A link holds a batch until it is out of the whole pipeline, so its window covers both what
  // the old per-stage bounds covered: batches in flight to a stage and batches waiting after it.
  const window = (options.maxInFlightBatches ?? 4) + (options.maxOutBatches ?? 4);
  const entryUrls = stages.map((r) => createWorkerEntryUrl(r.ref));
  const chain = new WorkerChain({
    window,
    input: inputStream(options)?.pipeThrough(
      new ChunkBatchStream({ maxChunks: maxBatchChunks, maxDelayMs: maxBatchDelayMs }),
    ),
    stages: stages.map((r, i) => ({
      stage: r.stage,
      entryUrl: entryUrls[i],
      options: r.options,
      permissions: r.stage.permissions(r.options),
      metrics: metrics[i],
      maxBatchChunks,
      maxBatchDelayMs,
      window,
      maxRestarts: options.maxRestarts ?? 3,
      restartBackoffMs: options.restartBackoffMs ?? 10,
      maxRestartBackoffMs: options.maxRestartBackoffMs ?? 1000,
      authenticate: r.spec.authenticate,
      onError,
    })),
  });
  return {
    output: chain.readable,
    close() {
      chain.terminate();
      for (const url of entryUrls) URL.revokeObjectURL(url);
    },
  };
}

type SupervisedWorkerStageOnError = (
  e: StageCrashedError | StagePermissionError | StageRestartLimitError,
) => void;

function buildInline(
  stages: ResolvedStage[],
  metrics: StageMetrics[],
  options: PipelineOptions,
  onError: SupervisedWorkerStageOnError,
): Built {
  let head: ReadableStream<Chunk> | undefined = inputStream(options);
  stages.forEach((r, i) => {
    if (r.stage.role === "source") {
      const context: StageContext = { authenticate: r.spec.authenticate };
      head = r.stage.create(r.options, context).pipeThrough(countInlineSource(metrics[i]));
    } else {
      const t = wrapInlineTransform(r.stage.create(r.options), {
        name: r.stage.name,
        metrics: metrics[i],
        onError,
      });
      head = head!.pipeThrough(t);
    }
  });
  const output = head!.pipeThrough(
    new ChunkBatchStream({
      maxChunks: options.maxBatchChunks ?? 256,
      maxDelayMs: options.maxBatchDelayMs ?? 1,
    }),
  );
  return { output, close() {} };
}

class RunningPipeline implements Pipeline {
  #metrics: StageMetrics[];
  #errors: StageErrorRecord[];
  #close: () => void;
  #closed = false;

  constructor(
    readonly mode: "inline" | "workers",
    readonly output: ReadableStream<Chunk[]>,
    metrics: StageMetrics[],
    errors: StageErrorRecord[],
    close: () => void,
  ) {
    this.#metrics = metrics;
    this.#errors = errors;
    this.#close = close;
  }

  metrics(): PipelineMetricsSnapshot {
    return { mode: this.mode, stages: this.#metrics.map((m) => m.snapshot()) };
  }

  errors(): StageErrorRecord[] {
    return [...this.#errors];
  }

  async run(options: PipelineRunOptions = {}): Promise<PipelineOutcome> {
    let chunksOut = 0;
    const failures: FailedChunk[] = [];
    try {
      for await (const batch of this.output) {
        if (options.onBatch) await options.onBatch(batch);
        for (const chunk of batch) {
          if (chunk.type === "failed") failures.push(chunk);
          else chunksOut++;
        }
      }
    } catch (err) {
      // Inline stage errors are already recorded by their wrapper; record anything else.
      const e = err instanceof Error ? err : new Error(String(err));
      if (!this.#errors.some((r) => r.message === e.message)) {
        this.#errors.push({ stage: "pipeline", error: e.name, message: e.message });
      }
    } finally {
      await this.close();
    }
    return {
      ok: failures.length === 0 && this.#errors.length === 0,
      chunksOut,
      failures,
      errors: this.errors(),
      metrics: this.metrics(),
    };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#close();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

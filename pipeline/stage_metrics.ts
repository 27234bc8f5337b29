/**
 * Per-stage counters of a running pipeline, readable at any time and serializable to JSON.
 *
 * @module
 */

/** A snapshot of one stage's metrics (plain data: `JSON.stringify` it as is). */
export interface StageMetricsSnapshot {
  /** The stage name (kebab-case). */
  stage: string;
  /** How the pipeline runs: one Worker per stage, or all in the calling thread. */
  mode: "inline" | "workers";
  /** Chunks handed to this stage so far (a source counts none). */
  chunksIn: number;
  /** Chunks this stage emitted so far, FailedChunks included. */
  chunksOut: number;
  /** FailedChunks this stage produced (its own, or for chunks lost to crashes). */
  chunksFailed: number;
  /** Batches posted to the stage's worker; stays 0 in mode "inline". */
  batchesIn: number;
  /** Batches the stage's worker posted back; stays 0 in mode "inline". */
  batchesOut: number;
  /** Chunks currently held for this stage: sent and unacknowledged, waiting, or buffered out. */
  queueDepth: number;
  /** Highest queueDepth seen. */
  maxQueueDepth: number;
  /** Times the stage's worker was restarted after a crash (0 in mode "inline"). */
  restarts: number;
  /** What latency samples measure: a whole batch (workers) or one chunk (inline). */
  latencyUnit: "batch" | "chunk";
  /** Milliseconds, over the most recent samples (up to 4096); null before the first sample. */
  latencyP50Ms: number | null;
  /** Milliseconds, 99th percentile over the same samples; null before the first sample. */
  latencyP99Ms: number | null;
}

const RESERVOIR = 4096;

/**
 * Mutable metrics of one stage; the runtime updates it, `snapshot()` reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const m = new StageMetrics("kind-extractor", "workers", "batch");
 * m.chunksIn += 256;
 * m.recordLatency(0.8);
 * assert.equal(m.snapshot().latencyP50Ms, 0.8);
 * ```
 */
export class StageMetrics {
  /** Chunks handed to this stage so far. */
  chunksIn = 0;
  /** Chunks this stage emitted so far, FailedChunks included. */
  chunksOut = 0;
  /** FailedChunks this stage produced (its own, or for chunks lost to crashes). */
  chunksFailed = 0;
  /** Batches posted to the stage's worker (mode "workers" only). */
  batchesIn = 0;
  /** Batches the stage's worker posted back (mode "workers" only). */
  batchesOut = 0;
  /** Times the stage's worker was restarted after a crash. */
  restarts = 0;
  /** Highest `queueDepth` seen; updated by the `queueDepth` setter. */
  maxQueueDepth = 0;
  #queueDepth = 0;
  // A ring of recent samples: bounded memory however long the pipeline runs.
  #samples = new Float64Array(RESERVOIR);
  #sampleCount = 0;

  /** `latencyUnit` says what `recordLatency` samples measure: a batch or one chunk. */
  constructor(
    readonly stage: string,
    readonly mode: "inline" | "workers",
    readonly latencyUnit: "batch" | "chunk",
  ) {}

  /** Chunks currently held for this stage; setting it also raises `maxQueueDepth`. */
  get queueDepth(): number {
    return this.#queueDepth;
  }

  set queueDepth(depth: number) {
    this.#queueDepth = depth;
    if (depth > this.maxQueueDepth) this.maxQueueDepth = depth;
  }

  /** Adds one latency sample in milliseconds. */
  recordLatency(ms: number): void {
    this.#samples[this.#sampleCount % RESERVOIR] = ms;
    this.#sampleCount++;
  }

  /** A plain-data copy of the current values. */
  snapshot(): StageMetricsSnapshot {
    const n = Math.min(this.#sampleCount, RESERVOIR);
    const sorted = this.#samples.slice(0, n).sort();
    const pick = (q: number) => n === 0 ? null : sorted[Math.min(n - 1, Math.floor(q * n))];
    return {
      stage: this.stage,
      mode: this.mode,
      chunksIn: this.chunksIn,
      chunksOut: this.chunksOut,
      chunksFailed: this.chunksFailed,
      batchesIn: this.batchesIn,
      batchesOut: this.batchesOut,
      queueDepth: this.#queueDepth,
      maxQueueDepth: this.maxQueueDepth,
      restarts: this.restarts,
      latencyUnit: this.latencyUnit,
      latencyP50Ms: pick(0.5),
      latencyP99Ms: pick(0.99),
    };
  }
}

/**
 * Per-stage counters of a running pipeline, readable at any time and serializable to JSON.
 *
 * @module
 */

/** A snapshot of one stage's metrics (plain data: `JSON.stringify` it as is). */
export interface StageMetricsSnapshot {
  stage: string;
  mode: "inline" | "workers";
  chunksIn: number;
  chunksOut: number;
  /** FailedChunks this stage produced (its own, or for chunks lost to crashes). */
  chunksFailed: number;
  batchesIn: number;
  batchesOut: number;
  /** Chunks currently held for this stage: sent and unacknowledged, waiting, or buffered out. */
  queueDepth: number;
  /** Highest queueDepth seen. */
  maxQueueDepth: number;
  restarts: number;
  /** What latency samples measure: a whole batch (workers) or one chunk (inline). */
  latencyUnit: "batch" | "chunk";
  /** Milliseconds, over the most recent samples (up to 4096); null before the first sample. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
}

const RESERVOIR = 4096;

/**
 * Mutable metrics of one stage; the runtime updates it, `snapshot()` reads it.
 *
 * @example
 * ```ts
 * const m = new StageMetrics("kind-extractor", "workers", "batch");
 * m.chunksIn += 256;
 * m.recordLatency(0.8);
 * m.snapshot().latencyP50Ms; // 0.8
 * ```
 */
export class StageMetrics {
  chunksIn = 0;
  chunksOut = 0;
  chunksFailed = 0;
  batchesIn = 0;
  batchesOut = 0;
  restarts = 0;
  maxQueueDepth = 0;
  #queueDepth = 0;
  // A ring of recent samples: bounded memory however long the pipeline runs.
  #samples = new Float64Array(RESERVOIR);
  #sampleCount = 0;

  constructor(
    readonly stage: string,
    readonly mode: "inline" | "workers",
    readonly latencyUnit: "batch" | "chunk",
  ) {}

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

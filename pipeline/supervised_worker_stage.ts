/**
 * One stage running in its own Worker, seen from the pipeline: a writable of input batches and
 * a readable of output batches, with credit-based flow control and supervision.
 *
 * Bounds (in batches of at most `maxBatchChunks` chunks each):
 * - sent to the worker and not yet acknowledged: `maxInFlightBatches`;
 * - accepted from upstream but not yet sent: less than one batch plus the batch being written;
 * - output received from the worker and not yet taken downstream, plus the credits the worker
 *   holds: `maxOutBatches`.
 * So a stage never holds more than about `(maxInFlightBatches + maxOutBatches + 2) *
 * maxBatchChunks` chunks (times the stage's fan-out), whatever the speeds around it.
 *
 * Supervision: when the worker crashes (an `error` event, an uncaught error, a `NotCapable`, or
 * its stream erroring) it is terminated and, up to `maxRestarts` times, restarted after an
 * exponential backoff; every input batch it had not acknowledged is sent again, in order. A
 * worker acknowledges a batch in the same message that carries all of that batch's outputs, so
 * re-delivery neither loses nor duplicates outputs of transforms that emit while transforming.
 * Past `maxRestarts`, every chunk not yet processed, and every chunk written afterwards, becomes
 * a FailedChunk in the output. A restarted source starts over from its options.
 *
 * @module
 */
import type { Chunk, FailedChunk } from "../stages/chunks.ts";
import type { Stage, StagePermissions } from "../stages/stage.ts";
import {
  classifyStageError,
  type StageCrashedError,
  type StagePermissionError,
  StageRestartLimitError,
} from "./stage_errors.ts";
import type { StageMetrics } from "./stage_metrics.ts";
import type { FromWorkerMessage, ToWorkerMessage } from "./worker_messages.ts";

/** Options for {@linkcode SupervisedWorkerStage}. */
export interface SupervisedWorkerStageOptions {
  stage: Stage;
  /** The worker entry module (see `worker_entry.ts`). */
  entryUrl: string;
  /** Options for `stage.create`, structured-cloneable. */
  options: unknown;
  permissions: StagePermissions;
  metrics: StageMetrics;
  maxBatchChunks: number;
  maxBatchDelayMs: number;
  maxInFlightBatches: number;
  maxOutBatches: number;
  maxRestarts: number;
  restartBackoffMs: number;
  maxRestartBackoffMs: number;
  /** Called with every crash, permission denial and restart-limit error. */
  onError(error: StageCrashedError | StagePermissionError | StageRestartLimitError): void;
}

interface OutEntry {
  chunks: Chunk[];
  /** Came from the worker (and so was paid for with an output credit). */
  fromWorker: boolean;
}

/** Largest chunk (as JSON) carried whole in a FailedChunk's `input`. */
const MAX_FAILED_INPUT_CHARS = 64 * 1024;

/**
 * A supervised stage worker.
 *
 * @example
 * ```ts
 * const stage = new SupervisedWorkerStage({ ...options });
 * await source.pipeThrough(stage).pipeTo(sink);
 * ```
 */
export class SupervisedWorkerStage {
  readonly readable: ReadableStream<Chunk[]>;
  readonly writable: WritableStream<Chunk[]>;
  #o: SupervisedWorkerStageOptions;
  #worker: Worker | undefined;
  #generation = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = new Map<number, { chunks: Chunk[]; sentAt: number }>();
  #inFlightChunks = 0;
  #nextSeq = 0;
  #pending: Chunk[] = [];
  #out: OutEntry[] = [];
  #outChunks = 0;
  #workerCredits = 0;
  #endSent = false;
  #inputEnded = false;
  #done = false;
  #dead = false;
  #closed = false;
  #lastError = "";
  #lastErrorName = "StageCrashedError";
  #waiters: (() => void)[] = [];

  constructor(options: SupervisedWorkerStageOptions) {
    this.#o = options;
    this.readable = new ReadableStream<Chunk[]>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.terminate(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Chunk[]>({
      write: (batch) => this.#write(batch),
      close: () => this.#closeInput(),
      abort: () => this.terminate(),
    });
    this.#spawn();
  }

  /** Stops the worker for good (pipeline shutdown). */
  terminate(): void {
    this.#closed = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#generation++;
    this.#wake();
  }

  // ---- plumbing -------------------------------------------------------------------------

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #post(message: ToWorkerMessage): void {
    this.#worker?.postMessage(message);
  }

  #updateDepth(): void {
    this.#o.metrics.queueDepth = this.#inFlightChunks + this.#pending.length + this.#outChunks;
  }

  // ---- worker lifecycle -----------------------------------------------------------------

  #spawn(): void {
    this.#restartTimer = undefined;
    if (this.#closed) return;
    const generation = ++this.#generation;
    const worker = new Worker(this.#o.entryUrl, {
      type: "module",
      name: this.#o.stage.name,
      deno: { permissions: this.#o.permissions },
    });
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<FromWorkerMessage>) => {
      if (generation === this.#generation) this.#onMessage(event.data);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // keep the pipeline's thread alive: we supervise instead
      if (generation === this.#generation) {
        this.#crash({ name: errorName(event), message: event.message });
      }
    };
    worker.onmessageerror = () => {
      if (generation === this.#generation) {
        this.#crash({ name: "DataCloneError", message: "a message could not be deserialized" });
      }
    };
    let fromWorker = 0;
    for (const entry of this.#out) if (entry.fromWorker) fromWorker++;
    this.#workerCredits = Math.max(0, this.#o.maxOutBatches - fromWorker);
    this.#post({
      t: "init",
      options: this.#o.options,
      outCredits: this.#workerCredits,
      maxBatchChunks: this.#o.maxBatchChunks,
      maxBatchDelayMs: this.#o.maxBatchDelayMs,
    });
    const now = performance.now();
    for (const [seq, entry] of this.#inFlight) {
      entry.sentAt = now;
      this.#post({ t: "batch", seq, chunks: entry.chunks });
    }
    if (this.#endSent) this.#post({ t: "end" });
    this.#trySend();
  }

  #crash(error: { name: string; message: string }): void {
    const classified = classifyStageError(this.#o.stage.name, error);
    this.#lastError = classified.message;
    this.#lastErrorName = classified.name;
    this.#o.onError(classified);
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#generation++;
    if (this.#closed) return;
    const restarts = this.#o.metrics.restarts;
    if (restarts >= this.#o.maxRestarts) return this.#giveUp();
    this.#o.metrics.restarts++;
    const delay = Math.min(this.#o.maxRestartBackoffMs, this.#o.restartBackoffMs * 2 ** restarts);
    this.#restartTimer = setTimeout(() => this.#spawn(), delay);
  }

  #giveUp(): void {
    this.#dead = true;
    const limit = new StageRestartLimitError(
      this.#o.stage.name,
      this.#o.metrics.restarts,
      this.#lastError,
    );
    this.#o.onError(limit);
    const lost: Chunk[] = [];
    for (const entry of this.#inFlight.values()) lost.push(...entry.chunks);
    lost.push(...this.#pending);
    this.#inFlight.clear();
    this.#inFlightChunks = 0;
    this.#pending = [];
    this.#failAll(lost, limit.message);
    this.#wake();
  }

  #failAll(chunks: Chunk[], message: string): void {
    if (chunks.length === 0) return;
    const failed = chunks.map((chunk) => this.#failed(chunk, this.#lastErrorName, message));
    this.#out.push({ chunks: failed, fromWorker: false });
    this.#outChunks += failed.length;
    for (const chunk of chunks) if (chunk.type !== "failed") this.#o.metrics.chunksFailed++;
    this.#updateDepth();
  }

  #failed(chunk: Chunk, errorName: string, message: string): Chunk {
    if (chunk.type === "failed") return chunk; // already someone else's failure: pass it on
    const json = JSON.stringify(chunk);
    const failed: FailedChunk = {
      type: "failed",
      stage: this.#o.stage.name,
      error: errorName,
      message,
      input: json.length <= MAX_FAILED_INPUT_CHARS ? chunk : json.slice(0, MAX_FAILED_INPUT_CHARS),
    };
    return failed;
  }

  #onMessage(message: FromWorkerMessage): void {
    switch (message.t) {
      case "ready":
        return;
      case "out":
        return this.#onOut(message.chunks, message.ack, message.failed ?? 0);
      case "done":
        this.#done = true;
        this.#worker?.terminate();
        this.#worker = undefined;
        this.#generation++;
        this.#wake();
        return;
      case "fatal":
        return this.#crash(message.error);
    }
  }

  #onOut(chunks: Chunk[], ack: number | undefined, failed: number): void {
    const m = this.#o.metrics;
    m.chunksFailed += failed;
    if (chunks.length > 0) {
      this.#workerCredits--;
      this.#out.push({ chunks, fromWorker: true });
      this.#outChunks += chunks.length;
    }
    if (ack !== undefined) {
      const now = performance.now();
      for (const [seq, entry] of this.#inFlight) {
        if (seq > ack) break;
        m.recordLatency(now - entry.sentAt);
        this.#inFlightChunks -= entry.chunks.length;
        this.#inFlight.delete(seq);
      }
      this.#trySend();
    }
    this.#updateDepth();
    this.#wake();
  }

  // ---- input side -----------------------------------------------------------------------

  /** Sends the pending chunks as one batch if a credit is free (adaptive batching). */
  #trySend(): void {
    while (
      this.#worker !== undefined && this.#pending.length > 0 &&
      this.#inFlight.size < this.#o.maxInFlightBatches
    ) {
      const chunks = this.#pending.length <= this.#o.maxBatchChunks
        ? this.#pending
        : this.#pending.slice(0, this.#o.maxBatchChunks);
      this.#pending = chunks === this.#pending ? [] : this.#pending.slice(chunks.length);
      const seq = this.#nextSeq++;
      this.#inFlight.set(seq, { chunks, sentAt: performance.now() });
      this.#inFlightChunks += chunks.length;
      this.#o.metrics.batchesIn++;
      this.#post({ t: "batch", seq, chunks });
    }
    this.#updateDepth();
  }

  async #write(batch: Chunk[]): Promise<void> {
    this.#o.metrics.chunksIn += batch.length;
    if (this.#dead || this.#closed) {
      this.#failAll(batch, `stage ${this.#o.stage.name} is down (${this.#lastError})`);
      this.#wake();
      while (this.#outChunks > this.#o.maxOutBatches * this.#o.maxBatchChunks && !this.#closed) {
        await this.#changed();
      }
      return;
    }
    for (const chunk of batch) this.#pending.push(chunk);
    this.#trySend();
    // Accept at most one batch's worth beyond what credits allow: that is the bound upstream.
    while (this.#pending.length >= this.#o.maxBatchChunks && !this.#dead && !this.#closed) {
      await this.#changed();
    }
  }

  async #closeInput(): Promise<void> {
    while (this.#pending.length > 0 && !this.#dead && !this.#closed) await this.#changed();
    this.#inputEnded = true;
    if (!this.#dead && !this.#closed) {
      this.#endSent = true;
      this.#post({ t: "end" });
    }
    this.#wake();
  }

  // ---- output side ----------------------------------------------------------------------

  async #pull(controller: ReadableStreamDefaultController<Chunk[]>): Promise<void> {
    while (true) {
      const entry = this.#out.shift();
      if (entry !== undefined) {
        this.#outChunks -= entry.chunks.length;
        this.#o.metrics.chunksOut += entry.chunks.length;
        this.#o.metrics.batchesOut++;
        controller.enqueue(entry.chunks);
        if (entry.fromWorker && this.#worker !== undefined) {
          this.#workerCredits++;
          this.#post({ t: "credit", n: 1 });
        }
        this.#updateDepth();
        this.#wake();
        return;
      }
      const sourceOver = this.#o.stage.role === "source" && this.#dead;
      const inputOver = this.#inputEnded && this.#dead;
      if (this.#done || sourceOver || inputOver || this.#closed) {
        controller.close();
        return;
      }
      await this.#changed();
    }
  }
}

function errorName(event: ErrorEvent): string {
  const error: unknown = event.error;
  if (error instanceof Error) return error.name;
  // Deno reports an uncaught error as "Uncaught (in promise) NotCapable: ..." in the message.
  const m = /^Uncaught (?:\(in promise\) )?(\w+)/.exec(event.message);
  return m ? m[1] : "Error";
}

/**
 * The code that runs inside a stage's Worker: creates the stage, feeds it input batches,
 * posts output batches under credit-based flow control, and reports stage-level faults.
 * The pipeline builds each worker's entry module so that it statically imports this file and
 * the stage module (see `worker_entry.ts`); static imports need no permission, which is what
 * lets pure stages run with none at all.
 *
 * @module
 */
import type { Chunk } from "../stages/chunks.ts";
import type { Stage } from "../stages/stage.ts";
import { BatchTransformDriver } from "./batch_transform_driver.ts";
import type {
  BatchMessage,
  FromWorkerMessage,
  InitMessage,
  OutMessage,
  ToWorkerMessage,
} from "./worker_messages.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorkerMessage>) => void) | null;
  postMessage(message: FromWorkerMessage): void;
}

/**
 * Serves one stage over the worker's message port. Call it once, from a worker's entry module.
 *
 * @example
 * ```ts
 * import { kindExtractorStage } from "../stages/kind_extractor.ts";
 * serveStageInWorker(kindExtractorStage);
 * ```
 */
export function serveStageInWorker(stage: Stage): void {
  const scope = globalThis as unknown as WorkerScope;
  const credits = new OutputCredits();
  const post = (message: FromWorkerMessage) => scope.postMessage(message);
  const sendOut = async (chunks: Chunk[], ack?: number, failed = 0) => {
    if (chunks.length > 0) await credits.take();
    const message: OutMessage = { t: "out", chunks };
    if (ack !== undefined) message.ack = ack;
    if (failed > 0) message.failed = failed;
    post(message);
  };
  const fatal = (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ t: "fatal", error: { name: e.name, message: e.message } });
  };
  let transform: TransformRunner | undefined;
  scope.onmessage = (event) => {
    const message = event.data;
    switch (message.t) {
      case "init":
        credits.add(message.outCredits);
        try {
          if (stage.role === "source") {
            runSource(stage.create(message.options), message, sendOut).then(
              () => post({ t: "done" }),
              fatal,
            );
          } else {
            transform = new TransformRunner(stage.create(message.options), message, sendOut);
            transform.onDone = () => post({ t: "done" });
            transform.onFatal = fatal;
          }
          post({ t: "ready" });
        } catch (err) {
          fatal(err);
        }
        break;
      case "credit":
        credits.add(message.n);
        break;
      case "batch":
        transform?.push(message);
        break;
      case "end":
        transform?.end();
        break;
    }
  };
}

class OutputCredits {
  #credits = 0;
  #waiting: (() => void)[] = [];
  add(n: number): void {
    this.#credits += n;
    while (this.#credits > 0 && this.#waiting.length > 0) {
      this.#credits--;
      this.#waiting.shift()!();
    }
  }
  take(): Promise<void> {
    if (this.#credits > 0 && this.#waiting.length === 0) {
      this.#credits--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

type SendOut = (chunks: Chunk[], ack?: number, failed?: number) => Promise<void>;

/** Processes input batches strictly in order, one at a time. */
class TransformRunner {
  #driver: BatchTransformDriver;
  #queue: BatchMessage[] = [];
  #ended = false;
  #running = false;
  #maxChunks: number;
  onDone = () => {};
  onFatal: (err: unknown) => void = () => {};

  #send: SendOut;

  constructor(stream: TransformStream<Chunk, Chunk>, init: InitMessage, send: SendOut) {
    this.#send = send;
    this.#driver = new BatchTransformDriver(stream);
    this.#maxChunks = init.maxBatchChunks;
  }

  push(batch: BatchMessage): void {
    this.#queue.push(batch);
    this.#run();
  }

  end(): void {
    this.#ended = true;
    this.#run();
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.shift()!;
        await this.#sendSplit(await this.#driver.process(batch.chunks), batch.seq);
      }
      if (this.#ended) {
        await this.#sendSplit(await this.#driver.finish(), undefined);
        this.onDone();
        return; // stay "running": nothing may follow the end
      }
      this.#running = false;
    } catch (err) {
      this.onFatal(err);
    }
  }

  /** Posts outputs in batches of at most maxChunks; the ack rides on the last one. */
  async #sendSplit(out: Chunk[], ack: number | undefined): Promise<void> {
    let start = 0;
    while (out.length - start > this.#maxChunks) {
      await this.#send(out.slice(start, start + this.#maxChunks));
      start += this.#maxChunks;
    }
    // The failure count rides with the ack: both describe the whole batch.
    const failed = this.#driver.takeFailedCount();
    await this.#send(start === 0 ? out : out.slice(start), ack, failed);
  }
}

/** Reads a source, posting size- and time-bounded batches. */
async function runSource(
  readable: ReadableStream<Chunk>,
  init: InitMessage,
  send: SendOut,
): Promise<void> {
  let pending: Chunk[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return flushing;
    const batch = pending;
    pending = [];
    flushing = flushing.then(() => send(batch));
    return flushing;
  };
  const reader = readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending.push(value);
      if (pending.length >= init.maxBatchChunks) {
        await flush(); // waits for a credit: backpressure reaches the source here
      } else if (pending.length === 1) {
        timer = setTimeout(flush, init.maxBatchDelayMs);
      }
    }
    await flush();
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

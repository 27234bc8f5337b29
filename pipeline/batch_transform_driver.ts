/**
 * Drives a stage's TransformStream one batch at a time and tells exactly which outputs belong
 * to the batch, so a worker can acknowledge a batch together with all of its outputs.
 *
 * @module
 */
import { type Chunk, isReportChunk } from "../stages/chunks.ts";

/**
 * Resolves after a macrotask. Outputs a transform enqueues travel to our collector through
 * `pipeTo`, which runs on microtasks only; one macrotask later they have all arrived. A
 * MessageChannel is used rather than `setTimeout(0)`, which browsers and Deno clamp to 4 ms
 * when timers nest.
 */
class MacrotaskYield {
  #channel = new MessageChannel();
  #waiting: (() => void)[] = [];
  constructor() {
    this.#channel.port1.onmessage = () => this.#waiting.shift()?.();
  }
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#channel.port2.postMessage(0);
    });
  }
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}

/**
 * Feeds batches into a TransformStream and collects the outputs each batch produced.
 * FailedChunks from upstream are not given to the stage: they pass straight through, in order.
 *
 * @example
 * ```ts
 * import type { Chunk } from "../stages/chunks.ts";
 *
 * const driver = new BatchTransformDriver(new TransformStream<Chunk, Chunk>());
 * const out = await driver.process([{ type: "toon", toon: "kind: 1" }]);
 * const rest = await driver.finish();
 * ```
 */
export class BatchTransformDriver {
  #writer: WritableStreamDefaultWriter<Chunk>;
  #out: Chunk[] = [];
  #failed = 0;
  #pump: Promise<void>;
  #yield = new MacrotaskYield();

  constructor(stream: TransformStream<Chunk, Chunk>) {
    this.#writer = stream.writable.getWriter();
    const collector = new WritableStream<Chunk>(
      {
        write: (chunk) => {
          if (chunk.type === "failed") this.#failed++;
          this.#out.push(chunk);
        },
      },
      new CountQueuingStrategy({ highWaterMark: 1024 }),
    );
    this.#pump = stream.readable.pipeTo(collector);
    // A pump failure also errors the writer, where process()/finish() report it.
    this.#pump.catch(() => {});
  }

  /** Writes every chunk of the batch and returns all outputs produced for it. */
  async process(chunks: readonly Chunk[]): Promise<Chunk[]> {
    // Writes are queued without awaiting each one: awaiting every write costs a full stream
    // round trip per chunk, which dominated the runtime. The writable keeps them in order, and
    // the batch is already bounded, so queueing it whole buffers nothing unbounded.
    let last: Promise<void> = Promise.resolve();
    for (const chunk of chunks) {
      if (isReportChunk(chunk)) {
        await last;
        await this.#yield.next(); // earlier outputs first, so order is kept
        this.#out.push(chunk);
      } else {
        last = this.#writer.write(chunk);
        last.catch(() => {}); // reported by the await below (or the next write)
      }
    }
    await last;
    await this.#yield.next();
    return this.#take();
  }

  /** Closes the stage's input and returns what its flush produced. */
  async finish(): Promise<Chunk[]> {
    await this.#writer.close();
    await this.#pump;
    this.#yield.close();
    return this.#take();
  }

  /** FailedChunks the stage itself produced since the last call. */
  takeFailedCount(): number {
    const n = this.#failed;
    this.#failed = 0;
    return n;
  }

  #take(): Chunk[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

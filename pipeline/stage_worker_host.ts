/**
 * The code that runs inside a stage's Worker: creates the stage, takes input batches from its
 * upstream link, sends output batches on its downstream link (worker to worker, see
 * `batch_link.ts`), reports per-batch stats and stage-level faults to the main thread.
 * The pipeline builds each worker's entry module so that it statically imports this file and
 * the stage module (see `worker_entry.ts`); static imports need no permission, which is what
 * lets pure stages run with none at all.
 *
 * The control messages ride on `transport/worker_service.ts`: the worker says "ready" once its
 * module graph is evaluated, and the main thread sends nothing before: a message posted to a
 * worker whose graph is still evaluating (top-level await, e.g. a WebAssembly module loading) is
 * dropped by Deno 2.9.6, which left `init` unheard about half the time for the relay source.
 *
 * @module
 */
import { afterDelay, type FlushTimer } from "./flush_timer.ts";
import type { Chunk } from "../stages/chunks.ts";
import type { Stage } from "../stages/stage.ts";
import { BatchTransformDriver } from "./batch_transform_driver.ts";
import { LinkReceiver, LinkSender } from "./batch_link.ts";
import type { InitMessage, LinkMessage, StageWork, ToWorkerMessage } from "./worker_messages.ts";
import { serveWorker } from "../transport/worker_service.ts";
import { WorkerAuthenticator } from "./worker_authenticator.ts";

/**
 * Serves one stage in this worker. Call it once, from a worker's entry module: it has no example
 * that runs outside a worker; `createWorkerEntryUrl` (worker_entry.ts) writes the entry that
 * calls it, and `createPipeline`'s example (pipeline.ts) runs one.
 */
export function serveStageInWorker(stage: Stage): void {
  let sender: LinkSender | undefined;
  let receiver: LinkReceiver | undefined;
  // NIP-42 answers are signed in the main thread: this worker holds no key.
  const auth = new WorkerAuthenticator({ send: (request) => handle.send(request) });
  const onEvent = (body: unknown) => {
    const message = body as ToWorkerMessage;
    switch (message.t) {
      case "init":
        sender = new LinkSender(message.downstream, { window: message.window });
        try {
          if (stage.role === "source") {
            const context = message.authenticates ? { authenticate: auth.authenticate } : {};
            runSource(stage.create(message.options, context), message, sender).catch(fatal);
          } else {
            const runner = new TransformRunner(
              stage.create(message.options),
              sender,
              message.index,
            );
            runner.onFatal = fatal;
            receiver = new LinkReceiver(message.upstream, (m) => runner.push(m));
          }
        } catch (err) {
          fatal(err);
        }
        break;
      case "ports":
        if (message.upstream) receiver?.replacePort(message.upstream);
        if (message.downstream) sender?.replacePort(message.downstream);
        break;
      case "through":
        sender?.release(message.seq);
        break;
      case "auth-signed":
        auth.onSigned(message);
        break;
    }
  };
  const handle = serveWorker({ onEvent });
  const fatal = handle.fatal;
}

/** Processes input messages strictly in order, one at a time: one output message per input. */
class TransformRunner {
  #driver: BatchTransformDriver;
  #queue: LinkMessage[] = [];
  #queuedChunks = 0;
  #running = false;
  #sender: LinkSender;
  #index: number;
  onFatal: (err: unknown) => void = () => {};

  constructor(stream: TransformStream<Chunk, Chunk>, sender: LinkSender, index: number) {
    this.#driver = new BatchTransformDriver(stream);
    this.#sender = sender;
    this.#index = index;
  }

  push(message: LinkMessage): void {
    this.#queue.push(message);
    if (message.t === "batch") this.#queuedChunks += message.chunks.length;
    this.#run();
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const message = this.#queue.shift()!;
        if (message.t === "batch") {
          this.#queuedChunks -= message.chunks.length;
          const started = performance.now();
          const out = await this.#driver.process(message.chunks);
          const ms = performance.now() - started;
          await this.#emit(message, out, ms);
        } else {
          const out = await this.#driver.finish();
          await this.#emit(message, out, undefined);
          await this.#sender.send({ t: "end", seq: message.seq + 1 });
          return; // stay "running": nothing may follow the end
        }
      }
      this.#running = false;
    } catch (err) {
      this.onFatal(err);
    }
  }

  /** Sends the outputs of one input message, with what every stage so far did for it. */
  async #emit(input: LinkMessage, out: Chunk[], ms: number | undefined): Promise<void> {
    const chunksIn = input.t === "batch" ? input.chunks.length : 0;
    const own: StageWork = {
      stage: this.#index,
      chunksIn,
      chunksOut: out.length,
      failed: this.#driver.takeFailedCount(),
      held: this.#sender.heldChunks + this.#queuedChunks + chunksIn,
    };
    if (ms !== undefined) own.ms = ms;
    if (input.t === "end") own.ended = true;
    const work = input.t === "batch" ? [...input.work, own] : [own];
    await this.#sender.send({ t: "batch", seq: input.seq, chunks: out, work });
  }
}

/** Reads a source, sending size- and time-bounded batches numbered from `seqBase`. */
async function runSource(
  readable: ReadableStream<Chunk>,
  init: InitMessage,
  sender: LinkSender,
): Promise<void> {
  let seq = init.seqBase;
  let pending: Chunk[] = [];
  let timer: FlushTimer | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const sendBatch = async (chunks: Chunk[]) => {
    const s = seq++;
    const work: StageWork = {
      stage: init.index,
      chunksIn: 0,
      chunksOut: chunks.length,
      failed: 0,
      held: sender.heldChunks + chunks.length,
    };
    await sender.send({ t: "batch", seq: s, chunks, work: [work] });
  };
  const flush = () => {
    timer?.cancel();
    timer = undefined;
    if (pending.length === 0) return flushing;
    const batch = pending;
    pending = [];
    flushing = flushing.then(() => sendBatch(batch));
    return flushing;
  };
  const reader = readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending.push(value);
      if (pending.length >= init.maxBatchChunks) {
        await flush(); // waits for the window: backpressure reaches the source here
      } else if (pending.length === 1) {
        timer = afterDelay(flush, init.maxBatchDelayMs);
      }
    }
    await flush();
    const ended: StageWork = { stage: init.index, chunksIn: 0, chunksOut: 0, failed: 0, held: 0 };
    ended.ended = true;
    const last = seq++;
    await sender.send({ t: "batch", seq: last, chunks: [], work: [ended] });
    await sender.send({ t: "end", seq: seq++ });
  } finally {
    timer?.cancel();
  }
}

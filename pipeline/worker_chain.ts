/**
 * The stages of a pipeline in workers, wired worker to worker: consecutive stages share a data
 * link (a MessageChannel whose ends were transferred to them), so a batch crosses one boundary
 * per stage instead of two, and the main thread touches data only where it feeds `input` to the
 * first stage and reads the last stage's output. It keeps the "through" watermark (the highest
 * `seq` handed to the consumer), broadcasts it so senders stop holding what is out, and rewires
 * the links around a restarted stage. The re-delivery rule is in `supervised_worker_stage.ts`.
 *
 * @module
 */
import type { Chunk } from "../stages/chunks.ts";
import { LinkReceiver, LinkSender } from "./batch_link.ts";
import {
  type StageLinkEnds,
  SupervisedWorkerStage,
  type SupervisedWorkerStageOptions,
} from "./supervised_worker_stage.ts";
import type { LinkMessage } from "./worker_messages.ts";

/** Options for {@linkcode WorkerChain}. */
export interface WorkerChainOptions {
  /** Per stage, in order: everything but the chain hooks. */
  stages: Omit<SupervisedWorkerStageOptions, "chain" | "index">[];
  /** Batches for the first stage (absent when it is a source). */
  input?: ReadableStream<Chunk[]>;
  /** Messages each link holds at most. */
  window: number;
}

interface OutEntry {
  seq: number;
  chunks: Chunk[];
}

/**
 * Runs stages in workers linked directly to each other. `createPipeline` (pipeline.ts) builds it
 * from stage names, with the example to copy; tests/unit/stages/pipeline_supervision_test.ts
 * drives its restarts.
 */
export class WorkerChain {
  /** Output batches of the last stage, FailedChunks included. */
  readonly readable: ReadableStream<Chunk[]>;
  #stages: SupervisedWorkerStage[];
  #input: LinkSender | undefined;
  #output: LinkReceiver;
  #out: OutEntry[] = [];
  #through = -1;
  #sinceBroadcast = 0;
  #broadcastEvery: number;
  #finalEnd = false;
  #closed = false;
  #waiters: (() => void)[] = [];

  constructor(options: WorkerChainOptions) {
    const n = options.stages.length;
    this.#broadcastEvery = Math.max(1, Math.floor(options.window / 2));
    this.#stages = options.stages.map((o, i) =>
      new SupervisedWorkerStage({
        ...o,
        index: i,
        chain: { connect: () => this.#connect(i), through: () => this.#through },
      })
    );
    // links[i] feeds stage i; links[n] is the output.
    const links = Array.from({ length: n + 1 }, () => new MessageChannel());
    this.#output = new LinkReceiver(links[n].port2, (m) => this.#onOutput(m));
    if (options.input !== undefined) {
      this.#input = new LinkSender(links[0].port1, { window: options.window });
      this.#feed(options.input);
    } else {
      links[0].port1.close();
      links[0].port2.close();
    }
    this.#stages.forEach((s, i) => {
      const ends: StageLinkEnds = { downstream: links[i + 1].port1 };
      if (options.input !== undefined || i > 0) ends.upstream = links[i].port2;
      s.start(ends);
    });
    this.readable = new ReadableStream<Chunk[]>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.terminate(),
    }, { highWaterMark: 0 });
  }

  /** Stops every worker and link. */
  terminate(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#stages) s.terminate();
    this.#input?.close();
    this.#output.close();
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** New links on both sides of stage `i`; the neighbours get the far ends. */
  #connect(i: number): StageLinkEnds {
    const down = new MessageChannel();
    if (i === this.#stages.length - 1) this.#output.replacePort(down.port2);
    else this.#stages[i + 1].givePorts({ upstream: down.port2 });
    const ends: StageLinkEnds = { downstream: down.port1 };
    if (i > 0 || this.#input !== undefined) {
      const up = new MessageChannel();
      if (i === 0) this.#input!.replacePort(up.port1);
      else this.#stages[i - 1].givePorts({ downstream: up.port1 });
      ends.upstream = up.port2;
    }
    return ends;
  }

  async #feed(input: ReadableStream<Chunk[]>): Promise<void> {
    let seq = 0;
    try {
      for await (const chunks of input) {
        if (this.#closed) return;
        await this.#input!.send({ t: "batch", seq: seq++, chunks, work: [] });
      }
      await this.#input!.send({ t: "end", seq });
    } catch {
      this.terminate(); // the input stream failed: nothing more can be delivered
    }
  }

  #onOutput(message: LinkMessage): void {
    if (message.t === "end") {
      this.#finalEnd = true;
      for (const s of this.#stages) s.drained();
    } else {
      for (const work of message.work) this.#stages[work.stage].record(work);
      this.#out.push({ seq: message.seq, chunks: message.chunks });
    }
    this.#wake();
  }

  /**
   * Moves the watermark. Workers hear of it every half window, or at once when the consumer has
   * taken everything there is (senders may then be waiting on it): a message per batch per
   * worker cost the main thread more than any other control traffic.
   */
  #advance(seq: number): void {
    this.#through = seq;
    this.#input?.release(seq);
    this.#sinceBroadcast++;
    if (this.#sinceBroadcast < this.#broadcastEvery && this.#out.length > 0) return;
    this.#sinceBroadcast = 0;
    for (const s of this.#stages) s.through(seq);
  }

  async #pull(controller: ReadableStreamDefaultController<Chunk[]>): Promise<void> {
    while (true) {
      const entry = this.#out.shift();
      if (entry !== undefined) {
        this.#advance(entry.seq);
        if (entry.chunks.length === 0) continue; // a filtered batch: nothing to hand on
        controller.enqueue(entry.chunks);
        return;
      }
      // Every stage's work for every `seq` rode in before the end: the metrics are complete.
      if (this.#closed || this.#finalEnd) {
        controller.close();
        this.terminate();
        return;
      }
      await this.#changed();
    }
  }
}

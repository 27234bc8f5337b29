/**
 * One stage running in its own Worker, seen from the main thread: spawning, the control port,
 * supervision, and metrics. Data does not pass through here: batches go worker to worker on
 * the links `worker_chain.ts` sets up; this side only sends `init`, link ends, and the
 * "through" watermark, and hears stats and faults.
 *
 * Re-delivery rule (why a crash neither loses nor duplicates):
 * 1. Every link message has a sequence number; a transform turns input `seq` into exactly one
 *    output message with the same `seq` (empty when it drops everything), so one number names
 *    the same work at every stage. Only a source (or the pipeline's input) makes new numbers.
 * 2. The sender of a link holds each message until the main thread has handed that `seq` to the
 *    pipeline's consumer (the "through" watermark, broadcast to every worker); not when the next
 *    stage took it. So whatever worker dies, every `seq` not yet out is still held by the
 *    nearest live upstream sender (the main thread for `input`), even if several stages die.
 * 3. When a worker dies it is restarted with fresh links on both sides: its upstream sends
 *    every held message again on the new port, in order; its downstream neighbour keeps its own
 *    state and drops every `seq` it has already taken, so re-done work is never passed on twice.
 *    The main thread, the last receiver, never restarts, so nothing reaches the output twice.
 * 4. Past `maxRestarts` the stage's worker is replaced by a relay in the main thread that turns
 *    every chunk it is sent (held ones included) into a FailedChunk and passes it on.
 * A restarted source starts over from its options, numbering above every earlier run.
 *
 * Metrics ride with the data (`StageWork` in each batch) and are counted when the batch reaches
 * the main thread, once per `seq`: exact across restarts, a pipeline's latency behind the
 * stage itself.
 *
 * Bounds: a sender holds at most `window` messages (of at most `maxBatchChunks` chunks times the
 * stage's fan-out) and a worker's queued input is part of what its upstream holds, so a stage
 * holds at most `window` batches whatever the speeds around it.
 *
 * @module
 */
import { backoffDelay } from "../protocol/backoff.ts";
import { type Chunk, type FailedChunk, isReportChunk } from "../stages/chunks.ts";
import type { Stage, StagePermissions } from "../stages/stage.ts";
import { LinkReceiver, LinkSender } from "./batch_link.ts";
import {
  classifyStageError,
  type StageCrashedError,
  type StagePermissionError,
  StageRestartLimitError,
} from "./stage_errors.ts";
import type { StageMetrics } from "./stage_metrics.ts";
import type {
  AuthSignRequest,
  LinkMessage,
  StageWork,
  ToWorkerMessage,
} from "./worker_messages.ts";
import { WorkerHost } from "../transport/worker_host.ts";
import { MainThreadSigner } from "./worker_authenticator.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

/** Fresh link ends for a stage being (re)started; the neighbours already have the far ends. */
export interface StageLinkEnds {
  upstream?: MessagePort;
  downstream: MessagePort;
}

/** What a stage needs from the chain it is part of. */
export interface StageChainHooks {
  /** Makes new links on both sides of the stage and hands the far ends to its neighbours. */
  connect(): StageLinkEnds;
  /** The current "through" watermark. */
  through(): number;
}

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
  /** Messages a link holds at most (see the module doc). */
  window: number;
  maxRestarts: number;
  restartBackoffMs: number;
  maxRestartBackoffMs: number;
  /** The stage's index in the pipeline. */
  index: number;
  chain: StageChainHooks;
  /**
   * NIP-42 answers a source may ask for (`pipeline/worker_authenticator.ts`): signed here, in
   * the main thread. Absent: the source does not answer challenges.
   */
  authenticate?: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  /** Called with every crash, permission denial and restart-limit error. */
  onError(error: StageCrashedError | StagePermissionError | StageRestartLimitError): void;
}

/** Largest chunk (as JSON) carried whole in a FailedChunk's `input`. */
const MAX_FAILED_INPUT_CHARS = 64 * 1024;

/** Sequence numbers of a restarted source start here times its run. */
const SOURCE_SEQ_STRIDE = 2 ** 32;

/**
 * A supervised stage worker: one per stage of a `WorkerChain`, which wires its links
 * (worker_chain.ts); `createPipeline` (pipeline.ts) is the way in, with the example to copy.
 */
export class SupervisedWorkerStage {
  #o: SupervisedWorkerStageOptions;
  #worker: WorkerHost | undefined;
  #generation = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastError = "";
  #lastErrorName = "StageCrashedError";
  #relay: { receiver?: LinkReceiver; sender: LinkSender } | undefined;
  #signer: MainThreadSigner | undefined;

  constructor(options: SupervisedWorkerStageOptions) {
    this.#o = options;
    const authenticate = options.authenticate;
    if (authenticate !== undefined) this.#signer = new MainThreadSigner({ authenticate });
  }

  /** Spawns the worker on the given links (the chain's first wiring). */
  start(ends: StageLinkEnds): void {
    this.#spawn(ends);
  }

  /** A neighbour was restarted: new link ends. Dropped while this stage is itself restarting. */
  givePorts(ends: { upstream?: MessagePort; downstream?: MessagePort }): void {
    if (this.#relay !== undefined) {
      if (ends.upstream) this.#relay.receiver?.replacePort(ends.upstream);
      if (ends.downstream) this.#relay.sender.replacePort(ends.downstream);
      return;
    }
    if (this.#worker === undefined) {
      // Down: its restart makes new links on both sides, superseding these.
      ends.upstream?.close();
      ends.downstream?.close();
      return;
    }
    const transfer = [ends.upstream, ends.downstream].filter((p) => p !== undefined);
    this.#post({ t: "ports", ...ends }, transfer);
  }

  /** Every `seq` up to `seq` has left the pipeline. */
  through(seq: number): void {
    if (this.#relay !== undefined) this.#relay.sender.release(seq);
    else this.#post({ t: "through", seq });
  }

  /** Stops the worker (or relay) for good (pipeline shutdown). */
  terminate(): void {
    this.#closed = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#stopWorker();
    this.#relay?.receiver?.close();
    this.#relay?.sender.close();
  }

  #stopWorker(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#generation++;
  }

  /** Sent once the worker is ready (the host queues until then). */
  #post(message: ToWorkerMessage, transfer: Transferable[] = []): void {
    this.#worker?.post(message, transfer);
  }

  // ---- worker lifecycle -----------------------------------------------------------------

  #spawn(ends: StageLinkEnds): void {
    this.#restartTimer = undefined;
    if (this.#closed) return;
    const generation = ++this.#generation;
    // A crash (an uncaught error, a message that cannot be read, or the stage's own `fatal`)
    // of this run only: a late one from a replaced worker is ignored.
    this.#worker = new WorkerHost({
      url: this.#o.entryUrl,
      name: this.#o.stage.name,
      permissions: this.#o.permissions,
      onCrash: (crash) => {
        if (generation === this.#generation) {
          this.#crash({ name: crash.errorName, message: crash.message });
        }
      },
      onEvent: (body) => this.#onWorkerEvent(body, generation),
    });
    const transfer = [ends.upstream, ends.downstream].filter((p) => p !== undefined);
    this.#post({
      t: "init",
      options: this.#o.options,
      upstream: ends.upstream,
      downstream: ends.downstream,
      window: this.#o.window,
      through: this.#o.chain.through(),
      index: this.#o.index,
      seqBase: this.#o.metrics.restarts * SOURCE_SEQ_STRIDE,
      maxBatchChunks: this.#o.maxBatchChunks,
      maxBatchDelayMs: this.#o.maxBatchDelayMs,
      authenticates: this.#signer !== undefined && this.#o.stage.role === "source",
    }, transfer);
  }

  /** A message of the worker's own: a source's NIP-42 answer to sign (the rest is ignored). */
  #onWorkerEvent(body: unknown, generation: number): void {
    const request = body as Partial<AuthSignRequest> | null;
    if (request?.t !== "auth-sign" || typeof request.id !== "number") return;
    const signer = this.#signer;
    if (signer === undefined) {
      return this.#post({ t: "auth-signed", id: request.id, error: "no NIP-42 answers here" });
    }
    void signer.sign(request as AuthSignRequest).then((reply) => {
      // A reply for a worker since replaced would reach nobody who asked.
      if (generation === this.#generation) this.#post(reply);
    });
  }

  #crash(error: { name: string; message: string }): void {
    const classified = classifyStageError(this.#o.stage.name, error);
    this.#lastError = classified.message;
    this.#lastErrorName = classified.name;
    this.#o.onError(classified);
    this.#stopWorker();
    if (this.#closed) return;
    const restarts = this.#o.metrics.restarts;
    if (restarts >= this.#o.maxRestarts) return this.#giveUp();
    this.#o.metrics.restarts++;
    const delay = backoffDelay(restarts, {
      initialMs: this.#o.restartBackoffMs,
      maxMs: this.#o.maxRestartBackoffMs,
    });
    this.#restartTimer = setTimeout(() => this.#spawn(this.#o.chain.connect()), delay);
  }

  /** Replaces the worker by a relay that fails every chunk it is sent and passes it on. */
  #giveUp(): void {
    const limit = new StageRestartLimitError(
      this.#o.stage.name,
      this.#o.metrics.restarts,
      this.#lastError,
    );
    this.#o.onError(limit);
    const ends = this.#o.chain.connect();
    const sender = new LinkSender(ends.downstream, { window: this.#o.window });
    this.#relay = { sender };
    if (this.#o.stage.role === "source") {
      // A source with nothing upstream: it just ends, numbering above every earlier run.
      const seq = (this.#o.metrics.restarts + 1) * SOURCE_SEQ_STRIDE;
      const work: StageWork = { ...this.#noWork(0), ended: true };
      sender.send({ t: "batch", seq, chunks: [], work: [work] })
        .then(() => sender.send({ t: "end", seq: seq + 1 }));
      return;
    }
    let chain: Promise<void> = Promise.resolve();
    const receiver = new LinkReceiver(ends.upstream, (m) => {
      chain = chain.then(() => this.#relayMessage(m, sender, limit.message));
    });
    this.#relay.receiver = receiver;
  }

  #noWork(held: number): StageWork {
    return { stage: this.#o.index, chunksIn: 0, chunksOut: 0, failed: 0, held };
  }

  async #relayMessage(m: LinkMessage, sender: LinkSender, message: string): Promise<void> {
    if (m.t === "end") {
      const work: StageWork = { ...this.#noWork(0), ended: true };
      await sender.send({ t: "batch", seq: m.seq, chunks: [], work: [work] });
      await sender.send({ t: "end", seq: m.seq + 1 });
      return;
    }
    const chunks = m.chunks.map((c) => this.#failed(c, message));
    const own: StageWork = {
      stage: this.#o.index,
      chunksIn: m.chunks.length,
      chunksOut: chunks.length,
      failed: m.chunks.filter((c) => c.type !== "failed").length,
      held: sender.heldChunks + chunks.length,
    };
    await sender.send({ t: "batch", seq: m.seq, chunks, work: [...m.work, own] });
  }

  #failed(chunk: Chunk, message: string): Chunk {
    if (isReportChunk(chunk)) return chunk; // someone else's failure, or a log entry: pass it on
    const json = JSON.stringify(chunk);
    const failed: FailedChunk = {
      type: "failed",
      stage: this.#o.stage.name,
      error: this.#lastErrorName,
      message,
      input: json.length <= MAX_FAILED_INPUT_CHARS ? chunk : json.slice(0, MAX_FAILED_INPUT_CHARS),
    };
    return failed;
  }

  /** The pipeline has finished: the stage holds nothing any more. */
  drained(): void {
    this.#o.metrics.queueDepth = 0;
  }

  /** Adds what the stage did for one `seq` (taken once by the main thread) to its metrics. */
  record(work: StageWork): void {
    const m = this.#o.metrics;
    m.queueDepth = work.held;
    m.chunksIn += work.chunksIn;
    m.chunksOut += work.chunksOut;
    m.chunksFailed += work.failed;
    if (work.chunksIn > 0) m.batchesIn++;
    if (work.chunksOut > 0) m.batchesOut++;
    if (work.ms !== undefined) m.recordLatency(work.ms);
  }
}

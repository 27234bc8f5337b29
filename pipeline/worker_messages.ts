/**
 * The messages a pipeline and its stage workers exchange. Chunks always travel in arrays
 * (batches): one message per batch keeps the per-message cost of a Worker boundary (~50 us) off
 * the per-chunk path.
 *
 * Flow control is credit based in both directions:
 * - input: the pipeline has at most `maxInFlightBatches` batches sent and not yet acknowledged;
 * - output: the worker posts a non-empty output batch only while it holds an output credit; the
 *   pipeline hands a credit back each time downstream takes a batch.
 *
 * @module
 */
import type { Chunk } from "../stages/chunks.ts";

/** Pipeline -> worker: create the stage. */
export interface InitMessage {
  t: "init";
  /** Options for `stage.create` (structured-cloneable). */
  options: unknown;
  /** Output batches the worker may post before it must wait for a credit. */
  outCredits: number;
  /** Largest output batch a source posts. */
  maxBatchChunks: number;
  /** Longest a source holds a partial output batch, in ms. */
  maxBatchDelayMs: number;
}

/** Pipeline -> worker: one input batch (transforms and sinks only). */
export interface BatchMessage {
  t: "batch";
  seq: number;
  chunks: Chunk[];
}

/** Pipeline -> worker: more output credits. */
export interface CreditMessage {
  t: "credit";
  n: number;
}

/** Pipeline -> worker: no more input; flush and finish. */
export interface EndMessage {
  t: "end";
}

/** Any message to a worker. */
export type ToWorkerMessage = InitMessage | BatchMessage | CreditMessage | EndMessage;

/** Worker -> pipeline: the stage is created. */
export interface ReadyMessage {
  t: "ready";
}

/**
 * Worker -> pipeline: output chunks, and (transforms) the sequence number of the last input
 * batch whose outputs are all in this or an earlier message. The ack and the outputs travel
 * together so a crash can never lose the outputs of an acknowledged batch.
 */
export interface OutMessage {
  t: "out";
  chunks: Chunk[];
  ack?: number;
  /** How many of `chunks` are FailedChunks the stage itself produced (not passed through). */
  failed?: number;
}

/** Worker -> pipeline: the stage finished (source exhausted, or input ended and flushed). */
export interface DoneMessage {
  t: "done";
}

/** Worker -> pipeline: a stage-level fault (the stage's stream errored or `create` threw). */
export interface FatalMessage {
  t: "fatal";
  error: { name: string; message: string };
}

/** Any message from a worker. */
export type FromWorkerMessage = ReadyMessage | OutMessage | DoneMessage | FatalMessage;

/**
 * The messages a pipeline and its stage workers exchange. There are two kinds of channel:
 *
 * - data links (`MessagePort`s, one per pair of consecutive stages, the main thread at the ends
 *   when it feeds `input` or reads the output): {@linkcode LinkMessage}s, always downstream.
 *   Chunks travel in arrays (batches): one message per batch keeps the per-message cost of a
 *   boundary (~50 us) off the per-chunk path, and batches go worker -> worker without passing
 *   through the main thread;
 * - each worker's own port to the main thread: control only (init, port replacement, the
 *   "through" watermark, faults, a source's NIP-42 answers signed for it), all small. Metrics
 *   ride with the data (`StageWork`).
 *
 * Every link message carries a sequence number. A transform turns input `seq` into exactly one
 * output message with the same `seq` (empty when it filtered everything), so a number names the
 * same work at every stage, and a receiver drops any `seq` it has already taken (re-delivery
 * after a crash). The rules that make this exactly-once are in `supervised_worker_stage.ts`.
 *
 * @module
 */
import type { Chunk } from "../stages/chunks.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

/** What one stage did for one `seq`; rides with the data so it is counted exactly once. */
export interface StageWork {
  /** The stage's index in the pipeline. */
  stage: number;
  chunksIn: number;
  chunksOut: number;
  /** FailedChunks the stage itself produced (not passed through). */
  failed: number;
  /** Milliseconds the stage spent on it (transforms). */
  ms?: number;
  /** Chunks the stage's worker held then: queued input plus outputs not yet through. */
  held: number;
  /** The stage finished with this `seq` (its flush). */
  ended?: boolean;
}

/**
 * On a link: one batch, and the work it stands for. `work` lists what every stage so far did
 * for this `seq`; the main thread, which takes each `seq` once, adds it to the metrics, so work
 * re-done after a restart is never counted twice and never lost from the counts.
 */
export interface LinkBatchMessage {
  t: "batch";
  seq: number;
  chunks: Chunk[];
  work: StageWork[];
}

/** On a link: no more batches; `seq` follows the last batch's. */
export interface LinkEndMessage {
  t: "end";
  seq: number;
}

/** Anything on a data link. */
export type LinkMessage = LinkBatchMessage | LinkEndMessage;

/** Main -> worker: create the stage and connect its links. */
export interface InitMessage {
  t: "init";
  /** Options for `stage.create` (structured-cloneable). */
  options: unknown;
  /** Where input batches arrive (absent for a source). */
  upstream?: MessagePort;
  /** Where output batches go. */
  downstream: MessagePort;
  /** The stage's index in the pipeline (for `StageWork`). */
  index: number;
  /** Output messages sent and not yet through the whole pipeline, at most. */
  window: number;
  /** Everything up to this `seq` is through the pipeline: nothing needs holding. */
  through: number;
  /** A source numbers its output batches from here (above anything an earlier run used). */
  seqBase: number;
  /** Largest output batch a source posts. */
  maxBatchChunks: number;
  /** Longest a source holds a partial output batch, in ms. */
  maxBatchDelayMs: number;
  /** The main thread signs NIP-42 answers for this source ({@linkcode AuthSignRequest}). */
  authenticates?: boolean;
}

/** Main -> worker: a neighbour was restarted; use these link ends instead. */
export interface PortsMessage {
  t: "ports";
  upstream?: MessagePort;
  downstream?: MessagePort;
}

/** Main -> worker: every `seq` up to this one has left the pipeline; stop holding them. */
export interface ThroughMessage {
  t: "through";
  seq: number;
}

/** Main -> worker: the answer to an {@linkcode AuthSignRequest}, or why there is none. */
export interface AuthSignedMessage {
  t: "auth-signed";
  id: number;
  event?: NostrEvent;
  error?: string;
}

/** Any message from the main thread to a worker. */
export type ToWorkerMessage = InitMessage | PortsMessage | ThroughMessage | AuthSignedMessage;

/**
 * Worker -> main (a `transport/worker_host.ts` event): a source was challenged by its relay
 * (NIP-42); the main thread signs the answer with the node's key, which the worker never holds.
 */
export interface AuthSignRequest {
  t: "auth-sign";
  id: number;
  challenge: string;
  relayUrl: string;
}

// Worker -> main: "ready" and "fatal" are transport/worker_host.ts's own messages.

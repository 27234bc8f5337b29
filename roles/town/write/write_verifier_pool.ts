/**
 * Signature verification off the main thread: a small pool of Workers (no permissions) that
 * verify the events of concurrent paid writes in batches. Verification (~0.3-0.4 ms per event
 * with the wasm verifier on this machine) is the largest cost of a write; on the main thread it
 * capped the town at about 1,000 writes/s, in workers the main thread keeps decoding, routing
 * and committing meanwhile (see bench/town_paid_writes_bench_script.ts). Requests made in one
 * event-loop turn go to a worker as one message (a message costs ~50 us).
 *
 * With the system's libsecp256k1 in use on the calling thread (about 50 us a verification through
 * FFI, protocol/native_schnorr.ts) every event is verified inline and no worker is started: a
 * worker's message costs more than the verification (docs/SCALE.md "Paid writes per town").
 * While other writes are under way (the caller says so) the signature goes to Deno's blocking
 * thread pool instead (`verifyEventOffThread`: no copy of the event, 10-15 us of this thread
 * instead of about 40); a lone write is verified here, where its answer comes soonest.
 *
 * The workers start at the first burst (two or more events waiting at once), not with the
 * pool: a town that is idle, or that sees one write at a time, verifies inline and holds no
 * worker isolate (docs/OPERATIONS.md "Memory"). Until one has loaded, the burst is verified
 * inline too.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import {
  EventValidationError,
  verifierBackend,
  verifyEvent,
  verifyEventOffThread,
} from "../../../protocol/event_verifier.ts";
import { WorkerHost } from "../../../transport/worker_host.ts";
import type { VerifyBatchRequest, VerifyBatchResponse } from "./write_verifier_worker.ts";

/** Options for {@linkcode WriteVerifierPool}. */
export interface WriteVerifierPoolOptions {
  /** Workers; 0 verifies inline on the calling thread. Default: cores - 1, at least 1, at most 4. */
  workers?: number;
  /** Most events per worker message. Default 64. */
  maxBatch?: number;
  /** A batch not answered by then fails with `verifier-unavailable` (T00). Default 10 s. */
  batchTimeoutMs?: number;
  /**
   * Verify inline, starting no worker, while the system's libsecp256k1 is in use on this thread
   * (default true; false keeps the workers, for their tests and the bench's comparison).
   */
  inlineWhenNative?: boolean;
}

/** Options of one {@linkcode WriteVerifierPool.verify}. */
export interface VerifyOptions {
  /**
   * Other writes are under way: with the system's libsecp256k1, check the signature on Deno's
   * thread pool rather than here (default false: here).
   */
  concurrent?: boolean;
}

interface Waiting {
  event: NostrEvent;
  resolve(): void;
  reject(err: EventValidationError): void;
}

interface PoolWorker {
  host: WorkerHost<VerifyBatchRequest, VerifyBatchResponse>;
  /** The batch it is verifying (one at a time). */
  batch: Waiting[] | undefined;
}

/**
 * Verifies events, in workers when it has them (started at the first burst).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { WriteVerifierPool } from "./write_verifier_pool.ts";
 * import { EventValidationError } from "../../../protocol/event_validation_error.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const pool = new WriteVerifierPool({ workers: 1 });
 * await pool.verify(event);
 * await assert.rejects(pool.verify({ ...event, content: "changed" }), EventValidationError);
 * pool.close();
 * ```
 */
export class WriteVerifierPool {
  readonly #workers: PoolWorker[] = [];
  readonly #maxBatch: number;
  readonly #timeoutMs: number;
  #queue: Waiting[] = [];
  #scheduled = false;
  #nextBatch = 0;
  #inline = 0;
  #offThread = 0;
  /** Workers to start at the first burst; 0 once started (or when none are wanted). */
  #toStart: number;
  readonly #inlineWhenNative: boolean;

  constructor(options: WriteVerifierPoolOptions = {}) {
    this.#toStart = options.workers ??
      Math.max(1, Math.min(4, (navigator.hardwareConcurrency ?? 2) - 1));
    this.#maxBatch = options.maxBatch ?? 64;
    this.#timeoutMs = options.batchTimeoutMs ?? 10_000;
    this.#inlineWhenNative = options.inlineWhenNative ?? true;
  }

  #startWorkers(): void {
    const count = this.#toStart;
    this.#toStart = 0;
    for (let i = 0; i < count; i++) {
      const entry: PoolWorker = {
        host: new WorkerHost({
          url: new URL("./write_verifier_worker.ts", import.meta.url),
          permissions: "none",
          // A worker that cannot run (e.g. its module is missing from a bundle) is dropped; with
          // none left, verification continues inline instead of failing every write.
          onCrash: () => {
            const index = this.#workers.indexOf(entry);
            if (index >= 0) this.#workers.splice(index, 1);
            if (this.#queue.length > 0 && !this.#scheduled) this.#dispatch();
          },
        }),
        batch: undefined,
      };
      // Only a loaded worker is sent batches.
      entry.host.ready.then(() => {
        if (this.#queue.length > 0 && !this.#scheduled) this.#dispatch();
      }, () => {});
      this.#workers.push(entry);
    }
  }

  /** Number of workers, started or still to start at the first burst (0: inline). */
  get size(): number {
    return this.#workers.length + this.#toStart;
  }

  /** Number of worker isolates running now (none before the first burst). */
  get started(): number {
    return this.#workers.length;
  }

  /** Batches posted to workers so far (one message each). */
  get batches(): number {
    return this.#nextBatch;
  }

  /** Events whose signature libsecp256k1 checked on Deno's thread pool so far. */
  get verifiedOffThread(): number {
    return this.#offThread;
  }

  /** Events verified on the calling thread so far. */
  get verifiedInline(): number {
    return this.#inline;
  }

  /** Resolves when id and signature are right; rejects with EventValidationError otherwise. */
  verify(event: NostrEvent, options: VerifyOptions = {}): Promise<void> {
    const native = this.#inlineWhenNative && verifierBackend() === "libsecp256k1-native";
    if (native && options.concurrent) {
      this.#offThread++;
      return verifyEventOffThread(event);
    }
    if (native || (this.#workers.length === 0 && this.#toStart === 0)) {
      this.#inline++;
      try {
        verifyEvent(event);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#dispatch());
      }
    });
  }

  /** Terminates the workers; pending verifications fail. */
  close(): void {
    this.#toStart = 0;
    const stopping = new EventValidationError("verifier-unavailable", "town stopping");
    for (const entry of this.#workers.splice(0)) entry.host.terminate(stopping);
    for (const w of this.#queue.splice(0)) w.reject(stopping);
  }

  #dispatch(): void {
    this.#scheduled = false;
    // A lone write with every worker idle is verified here: the worker round trip (~0.5 ms)
    // would cost more latency than it saves main-thread time.
    // With no worker left, the queue is verified here. A burst starts the workers; until one
    // has loaded, the queue is verified here too.
    if (this.#queue.length > 1 && this.#toStart > 0) this.#startWorkers();
    if (
      !this.#workers.some((w) => w.host.isReady) ||
      (this.#queue.length === 1 && this.#workers.every((w) => w.batch === undefined))
    ) {
      for (const w of this.#queue.splice(0)) {
        this.#inline++;
        try {
          verifyEvent(w.event);
          w.resolve();
        } catch (err) {
          w.reject(err as EventValidationError);
        }
      }
      return;
    }
    // One batch per worker at a time: what arrives meanwhile waits and goes as one message when
    // a worker answers, so batches grow with the load (a message costs ~50 us, a verification
    // ~0.3 ms) instead of one message per socket read.
    while (this.#queue.length > 0) {
      const entry = this.#workers.find((w) => w.host.isReady && w.batch === undefined);
      if (!entry) return;
      const batch = this.#queue.splice(0, this.#maxBatch);
      const id = ++this.#nextBatch;
      entry.batch = batch;
      // A worker that hangs must not hold payments forever: unanswered, the batch fails (T00).
      entry.host.request({ batch: id, events: batch.map((w) => w.event) }, {
        timeoutMs: this.#timeoutMs,
      }).then((result) => {
        batch.forEach((w, i) => {
          const error = result.errors[i];
          if (error === null) w.resolve();
          else w.reject(new EventValidationError(error === "bad-id" ? "bad-id" : "bad-sig"));
        });
      }, (err: Error) => {
        const reason = err instanceof EventValidationError
          ? err
          : new EventValidationError("verifier-unavailable", err.message);
        for (const w of batch) w.reject(reason);
      }).finally(() => {
        entry.batch = undefined;
        if (this.#queue.length > 0 && !this.#scheduled) this.#dispatch();
      });
    }
  }
}

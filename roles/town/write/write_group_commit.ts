/**
 * Group commit for the town's paid writes: inserts are written many to one SQLite transaction
 * (one fsync), and each caller's promise resolves only once that transaction has committed, so a
 * FULFILL is never sent for an event that is not durable.
 *
 * Two modes. Given `databasePath` (a file), the commits run in a worker on its own connection
 * (write_commit_worker.ts): the main thread never blocks on the fsync, and while one batch is
 * being committed the next one fills up (at most one batch in flight, so batches grow with the
 * load and transactions stay in arrival order); a lone insert with the worker idle is committed
 * inline (lower latency, nothing waits behind it). The worker starts at the first burst (two or
 * more inserts at once), not with the town: an idle town holds no commit worker isolate
 * (docs/OPERATIONS.md "Memory"); until it has opened its connection, inserts commit inline.
 * Without it (`:memory:`, tests) the store is
 * written inline, after the I/O of the current loop turn.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { setImmediate } from "node:timers";
import type { EventStore, InsertItem, InsertResult } from "../../../state/events/event_store.ts";
import { WorkerHost } from "../../../transport/worker_host.ts";
import type {
  CommitBatchRequest,
  CommitBatchResponse,
  CommitCloseRequest,
} from "./write_commit_worker.ts";

/** Options for {@linkcode GroupCommitter}. */
export interface GroupCommitterOptions {
  store: EventStore;
  /**
   * The store's file: commit in a worker on a second connection to it. Absent or `:memory:`:
   * commit inline on `store`.
   */
  databasePath?: string;
  /** Most events per transaction. Default 256. */
  maxBatch?: number;
  /**
   * Other writes are under way (the pipeline knows): a lone insert then goes to the worker too,
   * rather than fsyncing on the main thread while the others wait. Default: never busy.
   */
  busy?: () => boolean;
}

/** The commit worker failed or stopped: the events of its batch were not (known to be) stored. */
export class GroupCommitError extends RoleError {
  override name = "GroupCommitError";
}

interface Queued {
  item: InsertItem;
  resolve(result: InsertResult): void;
  reject(err: unknown): void;
}

/**
 * Batches concurrent inserts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { GroupCommitter } from "./write_group_commit.ts";
 * import { openEventStore } from "../../../state/events/event_store.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const store = openEventStore({ path: ":memory:" });
 * const committer = new GroupCommitter({ store }); // no databasePath: commits on this thread
 * const { status } = await committer.insert({ event });
 * assert.equal(status, "stored");
 * await committer.close();
 * store.close();
 * ```
 */
export class GroupCommitter {
  readonly #store: EventStore;
  readonly #maxBatch: number;
  /** The store's file when commits run in a worker (started at the first burst). */
  readonly #path: string | undefined;
  #worker:
    | WorkerHost<CommitBatchRequest | CommitCloseRequest, CommitBatchResponse>
    | undefined;
  /** The worker has opened its connection. */
  #ready = false;
  #readyWaiters: (() => void)[] = [];
  #queue: Queued[] = [];
  #scheduled = false;
  #batches = 0;
  #inlineBatches = 0;
  /** The batch the worker is committing (at most one). */
  #inFlight: Queued[] | undefined;
  #workerFailed: string | undefined;
  #idle: (() => void)[] = [];
  #closed = false;
  readonly #busy: () => boolean;
  /** Items of a failed batch still to be retried alone. */
  #singles = 0;

  constructor(options: GroupCommitterOptions) {
    this.#store = options.store;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#busy = options.busy ?? (() => false);
    const path = options.databasePath;
    this.#path = path !== undefined && path !== ":memory:" ? path : undefined;
  }

  /** Transactions committed so far. */
  get batches(): number {
    return this.#batches;
  }

  /** Transactions committed on the calling thread (inline mode, or a lone insert) so far. */
  get inlineBatches(): number {
    return this.#inlineBatches;
  }

  /** True when commits run in the worker (started at the first burst). */
  get offThread(): boolean {
    return this.#path !== undefined && this.#workerFailed === undefined;
  }

  /** True once the commit worker has been started (the first burst). */
  get workerStarted(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Starts the commit worker now (it otherwise starts at the first burst) and resolves once it
   * has opened its connection, or failed to (then commits stay inline). For tests and benches.
   */
  async startWorker(): Promise<void> {
    if (this.#path === undefined) return;
    this.#worker ??= this.#startWorker(this.#path);
    while (!this.#ready && this.#workerFailed === undefined) {
      await new Promise<void>((resolve) => this.#readyWaiters.push(resolve));
    }
  }

  /** Queues an insert; resolves after the transaction holding it has committed. */
  insert(item: InsertItem): Promise<InsertResult> {
    if (this.#closed) return Promise.reject(new GroupCommitError("town stopping"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.offThread) {
        if (!this.#inFlight && !this.#scheduled) {
          this.#scheduled = true;
          setImmediate(() => this.#startBatch());
        }
        return;
      }
      if (!this.#scheduled) {
        this.#scheduled = true;
        // setImmediate runs after the pending I/O of this loop turn: socket messages already
        // received are verified first and join this batch, without setTimeout's clamping.
        setImmediate(() => this.#flushInline());
      }
    });
  }

  /** Commits (inline mode) what is queued now. */
  flushNow(): void {
    if (!this.offThread) this.#flushInline();
  }

  /**
   * Waits for every queued insert to commit, then stops the worker (if any). Later inserts fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (!this.#worker) {
      this.#flushInline();
      return;
    }
    while (this.#inFlight || this.#queue.length > 0) {
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
    if (this.#workerFailed === undefined) {
      // Let the worker close its connection (a clean WAL) before it is terminated.
      await this.#worker.request({ close: true }, { timeoutMs: 2000 }).catch(() => {});
    }
    this.#worker.terminate();
  }

  #startWorker(
    path: string,
  ): WorkerHost<CommitBatchRequest | CommitCloseRequest, CommitBatchResponse> {
    const files = [path, `${path}-wal`, `${path}-shm`, `${path}-journal`];
    const worker = new WorkerHost<CommitBatchRequest | CommitCloseRequest, CommitBatchResponse>({
      url: new URL("./write_commit_worker.ts", import.meta.url),
      name: path,
      permissions: { read: files, write: files },
      onCrash: (e) => this.#fail(`commit worker failed: ${e.message}`),
    });
    // Until the worker's store is open, commits stay inline; if it cannot open the file (e.g.
    // permissions), they stay inline for good.
    worker.ready.then(() => {
      this.#ready = true;
      for (const resolve of this.#readyWaiters.splice(0)) resolve();
      if (!this.#inFlight && this.#queue.length > 0 && !this.#scheduled) this.#startBatch();
    }, (e: Error) => this.#fail(`commit worker cannot open the store: ${e.message}`));
    return worker;
  }

  /**
   * The worker is idle: a lone insert (nothing else arrived this loop turn, no other write under
   * way) is committed here, since the worker's round trip (two thread wake-ups, slow on a loaded machine) would add to
   * its latency and nothing is waiting behind it; anything more goes to the worker.
   */
  #startBatch(): void {
    this.#scheduled = false;
    if (this.#inFlight) return;
    const alone = this.#queue.length === 1 && !this.#busy();
    if ((alone && this.#singles === 0) || !this.#ready) {
      // A burst starts the worker; until it has opened its connection, commits stay here.
      if (this.#worker === undefined && !alone) {
        this.#worker = this.#startWorker(this.#path!);
      }
      this.#flushInline();
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    this.#sendNext();
  }

  #sendNext(): void {
    if (this.#workerFailed !== undefined) {
      this.#flushInline();
      return;
    }
    const batch = this.#queue.splice(0, this.#singles > 0 ? 1 : this.#maxBatch);
    if (this.#singles > 0) this.#singles--;
    if (batch.length === 0) {
      this.#inFlight = undefined;
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    this.#inFlight = batch;
    this.#batches++;
    this.#worker!.request({ batch: this.#batches, items: batch.map((q) => q.item) })
      .then((response) => this.#onCommitted(batch, response), () => {}); // a crash: see #fail
  }

  #onCommitted(batch: Queued[], response: CommitBatchResponse): void {
    this.#inFlight = undefined;
    if (response.results) {
      response.results.forEach((r, i) => batch[i].resolve(r));
    } else if (batch.length === 1) {
      batch[0].reject(new GroupCommitError(response.error ?? "commit failed"));
    } else {
      // One bad item must not sink the others: retry them one transaction each, in order,
      // before anything queued after them.
      this.#queue.unshift(...batch);
      this.#singles = batch.length;
    }
    this.#sendNext();
  }

  #fail(message: string): void {
    if (this.#workerFailed !== undefined) return;
    this.#workerFailed = message;
    // The batch in flight may or may not have committed: its writers get T00 (never a FULFILL
    // for an unknown outcome); the queue continues inline on the main connection.
    for (const q of this.#inFlight ?? []) q.reject(new GroupCommitError(message));
    this.#inFlight = undefined;
    this.#worker?.terminate();
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
    this.#flushInline();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #flushInline(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#batches++;
      this.#inlineBatches++;
      let results: InsertResult[];
      try {
        results = this.#store.insertBatch(batch.map((q) => q.item));
      } catch (err) {
        // One bad item must not sink the others: retry them one by one.
        if (batch.length > 1) {
          for (const q of batch) this.#insertOne(q);
        } else batch[0].reject(err);
        continue;
      }
      results.forEach((r, i) => batch[i].resolve(r));
    }
  }

  #insertOne(q: Queued): void {
    try {
      q.resolve(this.#store.insertBatch([q.item])[0]);
    } catch (err) {
      q.reject(err);
    }
  }
}

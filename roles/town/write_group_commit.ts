/**
 * Group commit for the town's paid writes: inserts that arrive while the event loop is busy are
 * written in one SQLite transaction (one fsync), and each caller's promise resolves only once
 * that transaction has committed, so a FULFILL is never sent for an event that is not durable.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { EventStore, InsertItem, InsertResult } from "../../state/event_store.ts";

/** Options for {@linkcode GroupCommitter}. */
export interface GroupCommitterOptions {
  store: EventStore;
  /** Most events per transaction. Default 256. */
  maxBatch?: number;
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
 * const committer = new GroupCommitter({ store });
 * const { status } = await committer.insert({ event, raw: toon });
 * ```
 */
export class GroupCommitter {
  readonly #store: EventStore;
  readonly #maxBatch: number;
  #queue: Queued[] = [];
  #scheduled = false;
  #batches = 0;

  constructor(options: GroupCommitterOptions) {
    this.#store = options.store;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /** Transactions committed so far. */
  get batches(): number {
    return this.#batches;
  }

  /** Queues an insert; resolves after the transaction holding it has committed. */
  insert(item: InsertItem): Promise<InsertResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // setImmediate runs after the pending I/O of this loop turn: socket messages already
        // received are verified first and join this batch, without setTimeout's clamping.
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Commits what is queued now (shutdown: before the store closes). */
  flushNow(): void {
    this.#flush();
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#batches++;
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

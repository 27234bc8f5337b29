/**
 * Worker side of {@linkcode GroupCommitter}'s off-thread mode: owns a second SQLite connection
 * to the town's event file and commits batches of inserts (one transaction, one fsync each), so
 * the town's main thread never waits on the disk. WAL lets the main thread's connection keep
 * reading meanwhile. Runs with read/write access to the database files only.
 *
 * The worker's name is the database path; it opens the store on load and answers batch 0 (or
 * `{ batch: 0, error }`). Messages in: `{ batch: number, items: InsertItem[] }`, finally
 * `{ close: true }`; out:
 * `{ batch, results }` after COMMIT returned, or `{ batch, error }` when the transaction failed
 * (nothing of it is stored).
 *
 * @module
 */
import {
  type EventStore,
  type InsertItem,
  openEventStore,
} from "../../../state/events/event_store.ts";
import type { InsertResult } from "../../../state/events/event_store.ts";
import { inWorker, serveWorker } from "../../../transport/worker_service.ts";

/** Closes the worker's connection (answered with batch -1). */
export interface CommitCloseRequest {
  close: true;
}

/** A batch to commit in one transaction. */
export interface CommitBatchRequest {
  batch: number;
  items: InsertItem[];
}

/** The outcome of one batch: results in order, or why the whole transaction failed. */
export interface CommitBatchResponse {
  batch: number;
  results?: InsertResult[];
  error?: string;
}

/**
 * Commits one batch on `store` (the worker's own connection).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { commitBatch } from "./write_commit_worker.ts";
 * import { openEventStore } from "../../../state/events/event_store.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const store = openEventStore({ path: ":memory:" });
 * const { batch, results } = commitBatch(store, { batch: 1, items: [{ event }, { event }] });
 * assert.deepEqual([batch, results?.map((r) => r.status)], [1, ["stored", "duplicate"]]);
 * store.close();
 * ```
 */
export function commitBatch(store: EventStore, request: CommitBatchRequest): CommitBatchResponse {
  try {
    return { batch: request.batch, results: store.insertBatch(request.items) };
  } catch (err) {
    return { batch: request.batch, error: err instanceof Error ? err.message : String(err) };
  }
}

// Only when loaded as a worker (the module is also imported for its types). The path comes as
// the worker's name; "ready" is said once the store is open (or `fatal`, with why it is not).
if (inWorker()) {
  let store: EventStore | undefined;
  serveWorker<CommitCloseRequest | CommitBatchRequest, CommitBatchResponse>({
    setup: () => {
      store = openEventStore({ path: (globalThis as unknown as { name: string }).name });
    },
    onRequest: (message) => {
      if ("close" in message) {
        store?.close();
        store = undefined;
        return { batch: -1, results: [] };
      }
      return store
        ? commitBatch(store, message)
        : { batch: message.batch, error: "event store not open" };
    },
  });
}

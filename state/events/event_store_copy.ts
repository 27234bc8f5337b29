/**
 * Copies a town's SQLite event store into another town store (PostgreSQL:
 * `turnpike town migrate --to postgres://...`), in the order the events were stored, through
 * the target's own insert rules: kind 5 deletions stored in SQLite are applied again, so the
 * target remembers what they deleted; expired events are left out; an event the target already
 * has counts as a duplicate, so an interrupted copy is simply run again.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { EventStore, InsertStatus } from "./event_store.ts";
import type { TownStore } from "./town_store.ts";

/** Options for {@linkcode copyEventStore}. */
export interface CopyEventStoreOptions {
  /** Events per transaction on the target. Default 500. */
  batch?: number;
  /** Told after each batch: events read so far. */
  onProgress?: (read: number) => void;
}

/** What {@linkcode copyEventStore} did: events read, and the target's outcome of each. */
export interface CopyEventStoreResult {
  read: number;
  outcomes: Partial<Record<InsertStatus, number>>;
}

/**
 * Copies every event of `source` into `target`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { openEventStore } from "./event_store.ts";
 * import { SqliteTownStore } from "./town_store.ts";
 *
 * const source = openEventStore({ path: ":memory:" });
 * source.insert(finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey()));
 * // the target of `town migrate` is a PostgreSQL store; any TownStore takes the copy
 * const target = new SqliteTownStore(openEventStore({ path: ":memory:" }));
 * const { read, outcomes } = await copyEventStore(source, target);
 * assert.deepEqual([read, outcomes], [1, { stored: 1 }]);
 * assert.equal((await copyEventStore(source, target)).outcomes.duplicate, 1); // run again: no change
 * source.close();
 * await target.close();
 * ```
 */
export async function copyEventStore(
  source: EventStore,
  target: TownStore,
  options: CopyEventStoreOptions = {},
): Promise<CopyEventStoreResult> {
  const batch = options.batch ?? 500;
  const outcomes: Partial<Record<InsertStatus, number>> = {};
  let after = 0;
  let read = 0;
  while (true) {
    const rows = source.scan(after, batch);
    if (rows.length === 0) break;
    const results = await target.insertBatch(
      rows.map((r) => ({ event: JSON.parse(r.json) as NostrEvent, toon: r.toon })),
    );
    for (const r of results) outcomes[r.status] = (outcomes[r.status] ?? 0) + 1;
    after = rows[rows.length - 1].seq;
    read += rows.length;
    options.onProgress?.(read);
  }
  return { read, outcomes };
}

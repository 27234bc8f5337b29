/**
 * The town's event store as the town uses it: asynchronous, so one interface covers the
 * embedded SQLite file (`event_store.ts`, the default) and a PostgreSQL database several town
 * processes share (`postgres_event_store.ts`). Both follow the same NIP-01/09/40 semantics and
 * pass one suite of tests (tests/support/town_store_suite.ts).
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../protocol/nostr_filter.ts";
import type {
  EventStore,
  InsertItem,
  InsertResult,
  QueryOptions,
  StoredEvent,
} from "./event_store.ts";

/** An event another process committed to a shared store, read back after its commit. */
export interface CommittedElsewhere {
  event: NostrEvent;
  /** The TOON the store keeps for it. */
  toon: string;
}

/** The store a town reads and writes. */
export interface TownStore {
  /** `sqlite` (one process) or `postgres` (one or more processes). */
  readonly backend: "sqlite" | "postgres";
  /** Inserts one event (NIP-01/09/40 rules); resolves once committed. */
  insert(event: NostrEvent, toon?: string): Promise<InsertResult>;
  /** Inserts events in order in one transaction; resolves once committed. */
  insertBatch(items: readonly InsertItem[]): Promise<InsertResult[]>;
  /** NIP-01 query, newest first (ties: lowest id), expired events never returned. */
  query(filters: readonly NostrFilter[], options?: QueryOptions): Promise<StoredEvent[]>;
  /** NIP-45 count of distinct unexpired matches. */
  count(filters: readonly NostrFilter[]): Promise<number>;
  /** Deletes expired events; their ids. */
  purgeExpired(): Promise<string[]>;
  /** Number of stored events. */
  size(): Promise<number>;
  /**
   * Events committed by other processes sharing this store, in commit order (the live push of a
   * town on several processes). A store only this process writes never calls it.
   */
  onCommittedElsewhere(listener: (committed: CommittedElsewhere) => void): void;
  /** Closes the store. */
  close(): Promise<void>;
}

/**
 * The SQLite event store behind the {@linkcode TownStore} interface. `events` stays reachable
 * for the group committer, which batches writes on it (roles/town/write/write_group_commit.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { openEventStore } from "./event_store.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const store = new SqliteTownStore(openEventStore({ path: `${stateDir}/events.sqlite` }));
 * const event = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * assert.equal((await store.insert(event)).status, "stored");
 * assert.equal(await store.size(), 1);
 * await store.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class SqliteTownStore implements TownStore {
  readonly backend = "sqlite";
  readonly events: EventStore;

  constructor(events: EventStore) {
    this.events = events;
  }

  insert(event: NostrEvent, toon?: string): Promise<InsertResult> {
    return attempt(() => this.events.insert(event, toon));
  }

  insertBatch(items: readonly InsertItem[]): Promise<InsertResult[]> {
    return attempt(() => this.events.insertBatch(items));
  }

  query(filters: readonly NostrFilter[], options?: QueryOptions): Promise<StoredEvent[]> {
    return attempt(() => this.events.query(filters, options));
  }

  count(filters: readonly NostrFilter[]): Promise<number> {
    return attempt(() => this.events.count(filters));
  }

  purgeExpired(): Promise<string[]> {
    return attempt(() => this.events.purgeExpired());
  }

  size(): Promise<number> {
    return attempt(() => this.events.size());
  }

  onCommittedElsewhere(_listener: (committed: CommittedElsewhere) => void): void {
    // One process owns the file: nothing is committed elsewhere.
  }

  close(): Promise<void> {
    return attempt(() => this.events.close());
  }
}

function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * `store` as a {@linkcode TownStore}: a bare SQLite {@linkcode EventStore} is wrapped (tests and
 * tools hand one over), a town store is returned as is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openEventStore } from "./event_store.ts";
 *
 * const store = asTownStore(openEventStore({ path: ":memory:" }));
 * assert.equal(store.backend, "sqlite");
 * assert.equal(asTownStore(store), store);
 * await store.close();
 * ```
 */
export function asTownStore(store: EventStore | TownStore): TownStore {
  return "backend" in store ? store : new SqliteTownStore(store);
}

/**
 * The SQLite store under `store`, when it is one (the group committer batches on it directly).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openEventStore } from "./event_store.ts";
 *
 * const events = openEventStore({ path: ":memory:" });
 * assert.equal(sqliteEventsOf(new SqliteTownStore(events)), events); // a PostgreSQL store: undefined
 * events.close();
 * ```
 */
export function sqliteEventsOf(store: EventStore | TownStore): EventStore | undefined {
  if (!("backend" in store)) return store;
  return store instanceof SqliteTownStore ? store.events : undefined;
}

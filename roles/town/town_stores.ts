/**
 * A town's start-up step that opens its stores: the event store (SQLite, or PostgreSQL shared by
 * the town's processes), on a shared store the rate buckets and connection counts held there, and
 * the blob store (docs/OPERATIONS.md "A town on several machines").
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import { type BlobStore, openBlobStore } from "../../state/blobs/blob_store.ts";
import { openEventStore } from "../../state/events/event_store.ts";
import type { PostgresConnectionCounts } from "../../state/postgres/postgres_connection_counts.ts";
import type { PostgresEventStore } from "../../state/postgres/postgres_event_store.ts";
import type { PostgresRateBuckets } from "../../state/postgres/postgres_rate_buckets.ts";
import { SqliteTownStore, type TownStore } from "../../state/events/town_store.ts";
import type { TownClosers } from "./town_stop.ts";

/** Options for {@linkcode openTownStores}. */
export interface TownStoresOptions {
  config: Pick<TownSettings, "stateDir" | "storeBlobsDir" | "blobs">;
  /** The shared PostgreSQL store, if any. */
  storeUrl: string | undefined;
  /** The SQLite file asked for; default `<state dir>/town-events.sqlite`. */
  databasePath: string | undefined;
  /** Where the stores' closing is added. */
  closers: TownClosers;
  log: (line: string) => void;
}

/** The stores a town opened. */
export interface TownStores {
  /** The SQLite file, or the PostgreSQL URL (password hidden). */
  databasePath: string;
  /** The shared store, when the town is on one. */
  postgresStore: PostgresEventStore | undefined;
  store: TownStore;
  /** The SPSP and failed-auth limits held town-wide (a shared store). */
  sharedBuckets: PostgresRateBuckets | undefined;
  /** Connections per address counted town-wide (a shared store). */
  connectionCounts: PostgresConnectionCounts | undefined;
  /** The blob directory the town's processes on one host share, if any. */
  sharedBlobsDir: string | undefined;
  blobs: BlobStore;
}

// The PostgreSQL wrappers, loaded by URL for a shared store only: a SQLite town neither reads nor
// evaluates them (docs/SCALE.md "An idle town's memory"; as cli/lazy_import.ts).
const POSTGRES_EVENT_STORE = new URL(
  "../../state/postgres/postgres_event_store.ts",
  import.meta.url,
);
const POSTGRES_RATE_BUCKETS = new URL(
  "../../state/postgres/postgres_rate_buckets.ts",
  import.meta.url,
);
const POSTGRES_CONNECTION_COUNTS = new URL(
  "../../state/postgres/postgres_connection_counts.ts",
  import.meta.url,
);

/**
 * Opens the event store, the town-wide counts of a shared store and the blob store, and adds
 * their closing to `closers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openTownStores } from "./town_stores.ts";
 * import { TownClosers } from "./town_stop.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const closers = new TownClosers();
 * const stores = await openTownStores({
 *   config: { stateDir },
 *   storeUrl: undefined,
 *   databasePath: ":memory:",
 *   closers,
 *   log: () => {},
 * });
 * assert.equal(stores.databasePath, ":memory:");
 * await closers.stop();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openTownStores(options: TownStoresOptions): Promise<TownStores> {
  const { config, storeUrl, log } = options;
  const pg = storeUrl === undefined ? undefined : await Promise.all([
    import(POSTGRES_EVENT_STORE.href) as Promise<
      typeof import("../../state/postgres/postgres_event_store.ts")
    >,
    import(POSTGRES_RATE_BUCKETS.href) as Promise<
      typeof import("../../state/postgres/postgres_rate_buckets.ts")
    >,
    import(POSTGRES_CONNECTION_COUNTS.href) as Promise<
      typeof import("../../state/postgres/postgres_connection_counts.ts")
    >,
  ]);
  const databasePath = storeUrl !== undefined && pg
    ? pg[0].redactUrl(storeUrl)
    : options.databasePath ?? `${config.stateDir}/town-events.sqlite`;
  if (databasePath !== ":memory:") await Deno.mkdir(config.stateDir, { recursive: true });
  const postgresStore = storeUrl !== undefined && pg
    ? await pg[0].openPostgresEventStore({ url: storeUrl })
    : undefined;
  const store: TownStore = postgresStore ??
    new SqliteTownStore(openEventStore({ path: databasePath }));
  // On a shared store the SPSP limits per account and in total hold town-wide in the database
  // (each process's share only while it cannot be reached).
  const sharedBuckets = postgresStore && pg &&
    await pg[1].PostgresRateBuckets.open(postgresStore.sql);
  const connectionCounts = postgresStore && pg &&
    await pg[2].PostgresConnectionCounts.open(postgresStore.sql, { log });
  // The heartbeat at once: the other processes look this one's peers up by it.
  await connectionCounts?.exchange().catch((err) =>
    log(`connection counts not exchanged: ${(err as Error).message}`)
  );
  // A town on a shared store keeps blobs either in a directory its processes on one host share
  // (files and their SQLite index) or, without one, each process in its own directory with the
  // index in PostgreSQL and bytes fetched by hash from the holder (state/blobs/shared_blob_store.ts,
  // docs/OPERATIONS.md "A town on several machines").
  const sharedBlobsDir = storeUrl === undefined ? undefined : config.storeBlobsDir;
  const blobs = await openBlobStore({
    dir: sharedBlobsDir ?? `${config.stateDir}/blobs`,
    maxBlobBytes: config.blobs?.maxBlobBytes,
    quotaBytes: config.blobs?.quotaBytes,
    retentionMs: config.blobs?.retentionMs,
    sharedByProcesses: sharedBlobsDir !== undefined,
  });
  options.closers.add(async () => {
    await connectionCounts?.close();
    await store.close();
    blobs.close();
  });
  return {
    databasePath,
    postgresStore,
    store,
    sharedBuckets,
    connectionCounts,
    sharedBlobsDir,
    blobs,
  };
}

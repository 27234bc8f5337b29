/**
 * A town's start-up step that starts, on a shared store, the process's private listener: blob
 * fetches by the town's other processes (without a shared blob directory) and the packets they
 * forward to the BTP peers connected here (roles/town/blobs/blob_peer_listener.ts); and the blob
 * store the routes use, town-wide over this process's own when there is no shared directory
 * (state/blobs/shared_blob_store.ts, docs/OPERATIONS.md "A town on several machines").
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import { openSharedBlobStore } from "../../state/blobs/shared_blob_store.ts";
import type { TownBlobStore } from "../../state/blobs/town_blob_store.ts";
import { type BlobPeerListener, startBlobPeerListener } from "./blobs/blob_peer_listener.ts";
import { LateBound } from "./late_bound.ts";
import type { TownClosers } from "./town_stop.ts";
import type { TownStores } from "./town_stores.ts";

/** Answers a packet forwarded by the town's other processes (`POST /ilp`). */
export type ForwardedPackets = (request: Request) => Promise<Response>;

/** Options for {@linkcode startTownPrivateListener}. */
export interface TownPrivateListenerOptions {
  config: Pick<TownSettings, "storeBlobPeer">;
  stores: Pick<TownStores, "postgresStore" | "blobs" | "sharedBlobsDir">;
  /** Where the listener's closing is added. */
  closers: TownClosers;
  log: (line: string) => void;
}

/** What {@linkcode startTownPrivateListener} started. */
export interface TownPrivateListener {
  /** The listener (a shared store only). */
  listener: BlobPeerListener | undefined;
  /** What the routes use: the blob store, or the town-wide store over it. */
  townBlobs: TownBlobStore;
  /** To bind once the peer routes are open; until then forwarded packets are answered 503. */
  forwarded: LateBound<ForwardedPackets>;
}

// Loaded by URL on a shared store only: a SQLite town neither reads nor evaluates the PostgreSQL
// wrappers (docs/SCALE.md "An idle town's memory"; as cli/lazy_import.ts).
const POSTGRES_BLOB_INDEX = new URL("../../state/postgres/postgres_blob_index.ts", import.meta.url);

/**
 * Starts the private listener of a process on a shared store (none otherwise) and opens the
 * town-wide blob store when the processes share no blob directory; adds the listener's
 * closing to `closers`.
 *
 * It is a step of startTownNode (its example starts a town here) on a shared store (PostgreSQL): no
 * example that runs here: tests/e2e/town_shared_blobs_test.ts.
 */
export async function startTownPrivateListener(
  options: TownPrivateListenerOptions,
): Promise<TownPrivateListener> {
  const { config, stores: { postgresStore, blobs, sharedBlobsDir }, log } = options;
  const forwarded = new LateBound<ForwardedPackets>();
  if (postgresStore === undefined) return { listener: undefined, townBlobs: blobs, forwarded };
  const peer = config.storeBlobPeer ?? { host: "127.0.0.1", port: 0 };
  const listener = startBlobPeerListener({
    blobs: sharedBlobsDir === undefined ? blobs : undefined,
    forward: (request) =>
      forwarded.current?.(request) ??
        Promise.resolve(new Response("starting\n", { status: 503 })),
    hostname: peer.host,
    port: peer.port,
    publicUrl: peer.url,
  });
  log(`private listener: ${listener.url}`);
  options.closers.add(() => listener.close());
  if (sharedBlobsDir !== undefined) return { listener, townBlobs: blobs, forwarded };
  const townBlobs = await openSharedBlobStore({
    local: blobs,
    index: await (await (import(POSTGRES_BLOB_INDEX.href) as Promise<
      typeof import("../../state/postgres/postgres_blob_index.ts")
    >)).PostgresBlobIndex.open(postgresStore.sql),
    selfUrl: listener.url,
  });
  return { listener, townBlobs, forwarded };
}

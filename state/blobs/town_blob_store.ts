/**
 * What the town's blob routes and blob payments need of a blob store
 * (docs/ARCHITECTURE.md "The roles"): the one-process {@linkcode BlobStore} (files and an SQLite
 * index in one directory) answers at once; the store of a town on several hosts
 * (state/blobs/shared_blob_store.ts: its index in PostgreSQL, bytes fetched by hash from the process
 * that holds them) answers with promises. Callers `await` every answer either way.
 *
 * @module
 */
import type { BlobRecord, PaymentRecord, ReceiveOptions } from "./blob_store.ts";

/** A value now or later. */
export type Eventually<T> = T | Promise<T>;

/**
 * A town's blob store, as the routes and the payment check see it.
 *
 * @example
 * ```ts
 * async function sizeOf(blobs: TownBlobStore, sha256: string) {
 *   return (await blobs.get(sha256))?.size;
 * }
 * ```
 */
export interface TownBlobStore {
  readonly maxBlobBytes: number;
  readonly quotaBytes: number;
  readonly retentionMs: number;
  /** A visible blob, or undefined. */
  get(sha256: string): Eventually<BlobRecord | undefined>;
  /** The paid, unexpired allowance of `pubkey` for a blob, if any. */
  allowance(
    sha256: string,
    pubkey: string,
  ): Eventually<{ size: number; amount: bigint } | undefined>;
  /** Records a paid upload allowance; throws `BlobStoreError` 413/507. */
  recordPayment(
    o: { sha256: string; size: number; pubkey: string; amount: bigint },
  ): Eventually<PaymentRecord>;
  /** Receives an upload (see `BlobStore.receive`). */
  receive(o: ReceiveOptions): Promise<BlobRecord>;
  /** Removes `pubkey` as an owner; false when it owns nothing of that hash. */
  delete(sha256: string, pubkey: string): Promise<boolean>;
  /** Blobs uploaded by `pubkey`, newest first. */
  list(pubkey: string, since?: number, until?: number): Eventually<BlobRecord[]>;
  /**
   * The path of a local file holding the blob's bytes (a store spread over hosts fetches them
   * first); throws `BlobStoreError` (404, 503) when it cannot.
   */
  localFile(record: BlobRecord): Promise<string>;
  /** Deletes expired blobs and allowances; how many blobs went. */
  purgeExpired(): Promise<number>;
  /** Totals for metrics. */
  stats(): Eventually<{ blobs: number; bytes: number; allowances: number }>;
}

/**
 * The blob store of a town on several hosts (docs/OPERATIONS.md "A town on several machines"):
 * the index (blobs, owners, paid allowances, holders) in the town's PostgreSQL store
 * (state/postgres/postgres_blob_index.ts), the bytes in each process's own directory
 * (state/blobs/blob_store.ts, no shared filesystem). A payment taken by one process is an allowance
 * any process can receive the upload for; the receiving process keeps the bytes and is recorded
 * as their holder. A process asked for a blob it does not hold fetches it by hash from a holder's
 * private fetch URL (roles/town/blobs/blob_peer_listener.ts), checks size and SHA-256 on arrival, keeps
 * the copy (and is recorded as a holder too), then serves it.
 *
 * Limits on a fetch: the record's size (at most the town's blob limit), a time limit (base plus
 * one second per MiB), at most `maxFetches` at once (one per blob: concurrent readers of one blob
 * share it). A holder that cannot be reached, answers anything but 200 or sends other bytes is
 * skipped for the next; none left: 503 (holders recorded, none reachable) or 404 (no holder).
 *
 * @module
 */
import {
  BLOB_ALLOWANCE_MS,
  type BlobRecord,
  blobRecordAt,
  type BlobStore,
  BlobStoreError,
  type ReceiveOptions,
} from "./blob_store.ts";
import type { PostgresBlobIndex } from "../postgres/postgres_blob_index.ts";
import type { TownBlobStore } from "./town_blob_store.ts";

/** Options for {@linkcode openSharedBlobStore}. */
export interface SharedBlobStoreOptions {
  /** This process's bytes (its own directory). */
  local: BlobStore;
  index: PostgresBlobIndex;
  /** This process's private fetch URL (`http://host:port`), recorded as holder. */
  selfUrl: string;
  /** A fetch's time limit: this plus one second per MiB. Default 15 s. */
  fetchBaseTimeoutMs?: number;
  /** Fetches from holders at once. Default 4. */
  maxFetches?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PUBKEY_HEX = /^[0-9a-f]{64}$/;

/**
 * Opens the shared store: the local copies whose blob the index no longer stores are dropped,
 * the others recorded as held here (under this process's current URL).
 *
 * It needs the town's PostgreSQL index: no example that runs here:
 * tests/unit/state/blobs/shared_blob_store_test.ts.
 */
export async function openSharedBlobStore(
  options: SharedBlobStoreOptions,
): Promise<SharedBlobStore> {
  const store = new SharedBlobStore(options);
  await store.reconcile();
  return store;
}

/** See the module documentation. */
export class SharedBlobStore implements TownBlobStore {
  readonly local: BlobStore;
  readonly #index: PostgresBlobIndex;
  readonly #self: string;
  readonly #baseTimeoutMs: number;
  readonly #maxFetches: number;
  readonly #now: () => number;
  readonly #fetching = new Map<string, Promise<string>>();
  /** Blobs fetched from holders so far (metrics, tests). */
  fetched = 0;

  constructor(options: SharedBlobStoreOptions) {
    this.local = options.local;
    this.#index = options.index;
    this.#self = options.selfUrl;
    this.#baseTimeoutMs = options.fetchBaseTimeoutMs ?? 15_000;
    this.#maxFetches = options.maxFetches ?? 4;
    this.#now = options.now ?? Date.now;
  }

  get maxBlobBytes(): number {
    return this.local.maxBlobBytes;
  }
  get quotaBytes(): number {
    return this.local.quotaBytes;
  }
  get retentionMs(): number {
    return this.local.retentionMs;
  }

  /** Drops local copies the index no longer stores; records the rest as held here. */
  async reconcile(): Promise<void> {
    const held = this.local.held();
    const stored = await this.#index.stored(held, this.#nowS());
    for (const sha256 of held) {
      if (stored.has(sha256)) await this.#index.addHolder(sha256, this.#self, this.#nowS());
      else await this.local.forget(sha256);
    }
  }

  get(sha256: string): Promise<BlobRecord | undefined> {
    if (!SHA256_HEX.test(sha256)) return Promise.resolve(undefined);
    return this.#index.get(sha256, this.#nowS());
  }

  allowance(sha256: string, pubkey: string) {
    return this.#index.allowance(sha256, pubkey, this.#nowS());
  }

  recordPayment(o: { sha256: string; size: number; pubkey: string; amount: bigint }) {
    this.#checkShape(o.sha256, o.size, o.pubkey);
    return this.#index.recordPayment(
      o,
      this.quotaBytes,
      this.#nowS(),
      Math.floor(BLOB_ALLOWANCE_MS / 1000),
    );
  }

  async receive(o: ReceiveOptions): Promise<BlobRecord> {
    this.#checkShape(o.sha256, o.size, o.pubkey);
    const existing = await this.get(o.sha256);
    if (existing !== undefined) {
      await o.body.cancel().catch(() => {});
      await this.#index.addOwner(o.sha256, o.pubkey, this.#nowS());
      return existing;
    }
    const paid = await this.allowance(o.sha256, o.pubkey);
    if (paid === undefined) {
      await o.body.cancel().catch(() => {});
      throw new BlobStoreError(
        402,
        `upload of ${o.sha256} by ${o.pubkey.slice(0, 12)} is not paid for: pay the town first`,
      );
    }
    if (paid.size !== o.size) {
      await o.body.cancel().catch(() => {});
      throw new BlobStoreError(
        400,
        `the payment was for ${paid.size} bytes, the upload declares ${o.size}`,
      );
    }
    const record = blobRecordAt(o, this.#now(), this.retentionMs);
    // The bytes are on disk here (verified, fsynced) before the index says the blob exists.
    await this.local.adopt(record, o.body);
    return await this.#index.commitUpload(record, o.pubkey, this.#self);
  }

  async delete(sha256: string, pubkey: string): Promise<boolean> {
    const outcome = await this.#index.removeOwner(sha256, pubkey);
    // Other holders drop their copy when they next open or purge (the index no longer lists it,
    // so none of them serves it meanwhile).
    if (outcome === "removed") await this.local.forget(sha256);
    return outcome !== "not-owner";
  }

  list(pubkey: string, since?: number, until?: number, limit = 1000): Promise<BlobRecord[]> {
    return this.#index.list(pubkey, since ?? 0, until ?? Number.MAX_SAFE_INTEGER, limit);
  }

  /** The local file of a blob, fetched from a holder first when it is not held here. */
  localFile(record: BlobRecord): Promise<string> {
    if (this.local.get(record.sha256) !== undefined) {
      return Promise.resolve(this.local.path(record.sha256));
    }
    const running = this.#fetching.get(record.sha256);
    if (running !== undefined) return running;
    if (this.#fetching.size >= this.#maxFetches) {
      return Promise.reject(
        new BlobStoreError(
          503,
          "too many blob fetches between the town's processes; retry shortly",
        ),
      );
    }
    const fetching = this.#fetchFromHolders(record).finally(() =>
      this.#fetching.delete(record.sha256)
    );
    this.#fetching.set(record.sha256, fetching);
    return fetching;
  }

  async #fetchFromHolders(record: BlobRecord): Promise<string> {
    const holders = (await this.#index.holders(record.sha256)).filter((url) => url !== this.#self);
    if (holders.length === 0) {
      throw new BlobStoreError(
        404,
        `${record.sha256} is in the town's index but no process holds its bytes`,
      );
    }
    const failures: string[] = [];
    const timeoutMs = this.#baseTimeoutMs + Math.ceil(record.size / (1024 * 1024)) * 1000;
    for (const holder of holders) {
      try {
        const response = await fetch(`${holder}/${record.sha256}`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.status !== 200 || response.body === null) {
          await response.body?.cancel().catch(() => {});
          failures.push(`${holder}: HTTP ${response.status}`);
          continue;
        }
        await this.local.adopt(record, response.body);
        this.fetched++;
        await this.#index.addHolder(record.sha256, this.#self, this.#nowS()).catch(() => {});
        return this.local.path(record.sha256);
      } catch (err) {
        failures.push(`${holder}: ${(err as Error).message}`);
      }
    }
    throw new BlobStoreError(
      503,
      `${record.sha256} is held only by processes that could not deliver it (${
        failures.join("; ").slice(0, 300)
      }); retry later`,
    );
  }

  async purgeExpired(): Promise<number> {
    const gone = await this.#index.purgeExpired(this.#nowS());
    for (const sha256 of gone) await this.local.forget(sha256);
    await this.local.purgeExpired();
    return gone.length;
  }

  stats() {
    return this.#index.stats();
  }

  close(): void {
    this.local.close();
  }

  #nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  #checkShape(sha256: string, size: number, pubkey: string): void {
    if (!SHA256_HEX.test(sha256)) throw new BlobStoreError(400, `not a sha256: ${sha256}`);
    if (!PUBKEY_HEX.test(pubkey)) throw new BlobStoreError(400, "not a hex pubkey");
    if (!Number.isSafeInteger(size) || size < 0) throw new BlobStoreError(400, `bad size ${size}`);
    if (size > this.maxBlobBytes) {
      throw new BlobStoreError(
        413,
        `blob of ${size} bytes is over the town's limit of ${this.maxBlobBytes}`,
      );
    }
  }
}

/**
 * The town's content-addressed blob store (Blossom, docs/PROTOCOL.md "Blobs"): files under
 * `<dir>/<aa>/<sha256>`, an SQLite index beside them (`<dir>/index.sqlite`, WAL) of blobs,
 * their owners (uploaders, for lists, quotas and deletes) and the paid upload allowances.
 *
 * Guarantees:
 * - An upload streams to `<dir>/incoming/` while it is hashed (never held whole in memory); it
 *   becomes visible only after its size and SHA-256 match what was paid for, its bytes are
 *   fsynced and renamed into place and its index row is committed. A failure at any point
 *   (wrong hash, too many bytes, a client that went away, a full disk, a crash) leaves nothing
 *   visible and nothing half-stored; the allowance stays for a retry, so an upload cut off
 *   halfway is never paid twice.
 * - Nothing is stored unpaid: an upload needs an allowance recorded by a paid ILP PREPARE
 *   (roles/town/blobs/blob_payment.ts) for that sha256, size and uploader, unless the blob is
 *   already stored (then the uploader is recorded as an owner for free).
 * - Limits: blob size, per-pubkey quota (bytes owned), retention (blobs expire that long after
 *   their paid upload and are deleted by {@linkcode BlobStore.purgeExpired}).
 * - At open, files without an index row (a crash between rename and commit) are removed, as are
 *   rows whose file is gone, and leftovers in `incoming/`.
 * - Shared by the processes of a town on one host (`sharedByProcesses`, docs/OPERATIONS.md "A
 *   town on several machines"): SQLite's locks order their index writes, files are renamed into
 *   place whole, and two uploads of one blob at once write the same verified bytes. At open only
 *   what no live process can still be writing is removed: `incoming/` files and index-less blob
 *   files older than {@linkcode SHARED_LEFTOVER_MS}.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { HttpStatusError } from "../../protocol/http_status_error.ts";
import { createStreamingSha256 } from "../../protocol/streaming_sha256.ts";
import { blobIndexSchema } from "./blob_index_schema.ts";
import type { TownBlobStore } from "./town_blob_store.ts";

/** Default largest blob: 256 MiB. */
export const DEFAULT_MAX_BLOB_BYTES = 256 * 1024 * 1024;
/** Default bytes one pubkey may own: 1 GiB. */
export const DEFAULT_BLOB_QUOTA_BYTES = 1024 * 1024 * 1024;
/** Default retention of a paid blob: 7 days. */
export const DEFAULT_BLOB_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** How long a paid allowance waits for its upload: 24 hours. */
export const BLOB_ALLOWANCE_MS = 24 * 3600 * 1000;

/**
 * With `sharedByProcesses`: how old an `incoming/` file or a blob file without an index row must
 * be before an opening store removes it (another process may be receiving or committing it).
 */
export const SHARED_LEFTOVER_MS = 3600 * 1000;

/** Options for {@linkcode openBlobStore}. */
export interface BlobStoreOptions {
  /** The store's directory (created 0700). */
  dir: string;
  maxBlobBytes?: number;
  quotaBytes?: number;
  retentionMs?: number;
  /** Clock (ms), for tests of expiry. */
  now?: () => number;
  /** Other processes of the town use the same directory (see the module doc). Default false. */
  sharedByProcesses?: boolean;
}

/** A stored blob. */
export interface BlobRecord {
  sha256: string;
  size: number;
  type?: string;
  /** Unix seconds. */
  uploaded: number;
  /** Unix seconds after which it is deleted. */
  expires: number;
}

/**
 * The record of a blob uploaded at `now` (ms) and kept `retentionMs`, as every blob store writes
 * it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const record = blobRecordAt({ sha256: "ab".repeat(32), size: 3 }, Date.now(), 86_400_000);
 * assert.equal(record.expires - record.uploaded, 86400); // seconds
 * ```
 */
export function blobRecordAt(
  blob: { sha256: string; size: number; type?: string },
  now: number,
  retentionMs: number,
): BlobRecord {
  return {
    sha256: blob.sha256,
    size: blob.size,
    type: blob.type,
    uploaded: Math.floor(now / 1000),
    expires: Math.floor((now + retentionMs) / 1000),
  };
}

/** Every row of a blob index, as `town migrate` copies them from one store to another. */
export interface BlobIndexRows {
  blobs: BlobRecord[];
  /** Who uploaded each blob (its quota is counted by owner). */
  owners: { sha256: string; pubkey: string; uploaded: number }[];
  /** Paid uploads not yet made (`paidAt`, `expires`: unix seconds). */
  allowances: {
    sha256: string;
    pubkey: string;
    size: number;
    amount: bigint;
    paidAt: number;
    expires: number;
  }[];
}

/** Why the store refused; `status` is the HTTP status to answer with. */
export class BlobStoreError extends HttpStatusError {
  override name = "BlobStoreError";
}

/** Options for {@linkcode BlobStore.receive}. */
export interface ReceiveOptions {
  sha256: string;
  /** Declared length (Content-Length): more or fewer bytes fail the upload. */
  size: number;
  type?: string;
  /** The uploader (the authorization's pubkey). */
  pubkey: string;
  body: ReadableStream<Uint8Array>;
}

/** Result of {@linkcode BlobStore.recordPayment}. */
export type PaymentRecord = "recorded" | "already-stored";

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PUBKEY_HEX = /^[0-9a-f]{64}$/;

/**
 * Opens (or creates) a blob store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 as digest } from "@noble/hashes/sha2.js";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 *
 * const stateDir = await Deno.makeTempDir();
 * const bytes = new TextEncoder().encode("hello blob");
 * const [sha256, size] = [bytesToHex(digest(bytes)), bytes.length];
 * const pubkey = "c".repeat(64); // the uploader's (its authorization's pubkey)
 * const blobs = await openBlobStore({ dir: `${stateDir}/blobs` });
 * blobs.recordPayment({ sha256, size, pubkey, amount: 10n });
 * const record = await blobs.receive({ sha256, size, pubkey, body: ReadableStream.from([bytes]) });
 * assert.equal(record.size, size);
 * blobs.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  await Deno.mkdir(`${options.dir}/incoming`, { recursive: true, mode: 0o700 });
  await Deno.chmod(options.dir, 0o700);
  const store = new BlobStore(options);
  await store.reconcile();
  return store;
}

/** See the module documentation. */
export class BlobStore implements TownBlobStore {
  readonly dir: string;
  readonly maxBlobBytes: number;
  readonly quotaBytes: number;
  readonly retentionMs: number;
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  /** Uploads being received, by sha256 (one at a time per blob). */
  readonly #receiving = new Set<string>();
  readonly #shared: boolean;

  constructor(options: BlobStoreOptions) {
    this.dir = options.dir;
    this.maxBlobBytes = options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
    this.quotaBytes = options.quotaBytes ?? DEFAULT_BLOB_QUOTA_BYTES;
    this.retentionMs = options.retentionMs ?? DEFAULT_BLOB_RETENTION_MS;
    this.#now = options.now ?? Date.now;
    this.#shared = options.sharedByProcesses ?? false;
    this.#db = new DatabaseSync(`${options.dir}/index.sqlite`);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec(blobIndexSchema("sqlite"));
  }

  /** Where a blob's file lives. */
  path(sha256: string): string {
    return `${this.dir}/${sha256.slice(0, 2)}/${sha256}`;
  }

  /** A visible blob, or undefined. */
  get(sha256: string): BlobRecord | undefined {
    if (!SHA256_HEX.test(sha256)) return undefined;
    const row = this.#db.prepare(
      "SELECT sha256, size, type, uploaded, expires FROM blobs WHERE sha256 = ?",
    ).get(sha256) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : blobRecordFromRow(row);
  }

  /** Bytes owned by `pubkey` (each blob counted once). */
  usage(pubkey: string): number {
    const row = this.#db.prepare(
      "SELECT COALESCE(SUM(b.size), 0) AS bytes FROM owners o JOIN blobs b USING (sha256) " +
        "WHERE o.pubkey = ?",
    ).get(pubkey) as { bytes: number };
    const pending = this.#db.prepare(
      "SELECT COALESCE(SUM(size), 0) AS bytes FROM allowances WHERE pubkey = ? AND expires > ?",
    ).get(pubkey, this.#nowS()) as { bytes: number };
    return Number(row.bytes) + Number(pending.bytes);
  }

  /**
   * Records a paid upload allowance (the caller checked the payment). Refuses (413) a blob
   * over the size limit and (507 when the quota is exceeded: the client can free space by
   * deleting) a payment that would take `pubkey` over its quota.
   */
  recordPayment(
    o: { sha256: string; size: number; pubkey: string; amount: bigint },
  ): PaymentRecord {
    this.#checkShape(o.sha256, o.size, o.pubkey);
    if (this.get(o.sha256) !== undefined) return "already-stored";
    const quotaLeft = this.quotaBytes - this.usage(o.pubkey);
    if (o.size > quotaLeft) {
      throw new BlobStoreError(
        507,
        `quota exceeded: ${o.pubkey.slice(0, 12)} may store ${this.quotaBytes} bytes, ` +
          `${Math.max(0, quotaLeft)} left, this blob is ${o.size}`,
      );
    }
    const now = this.#now();
    this.#db.prepare(
      "INSERT INTO allowances (sha256, pubkey, size, amount, paid_at, expires) " +
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256, pubkey) DO UPDATE SET " +
        "size = excluded.size, amount = CAST(allowances.amount AS INTEGER) + excluded.amount, " +
        "expires = excluded.expires",
    ).run(
      o.sha256,
      o.pubkey,
      o.size,
      String(o.amount),
      Math.floor(now / 1000),
      Math.floor((now + BLOB_ALLOWANCE_MS) / 1000),
    );
    return "recorded";
  }

  /** The paid, unexpired allowance of `pubkey` for a blob, if any. */
  allowance(sha256: string, pubkey: string): { size: number; amount: bigint } | undefined {
    const row = this.#db.prepare(
      "SELECT size, amount FROM allowances WHERE sha256 = ? AND pubkey = ? AND expires > ?",
    ).get(sha256, pubkey, this.#nowS()) as { size: number; amount: string } | undefined;
    return row === undefined ? undefined : { size: Number(row.size), amount: BigInt(row.amount) };
  }

  /**
   * Receives an upload: the blob itself when it is new and paid for, or just an owner record
   * when it is already stored (no payment needed). Throws {@linkcode BlobStoreError}.
   */
  async receive(o: ReceiveOptions): Promise<BlobRecord> {
    this.#checkShape(o.sha256, o.size, o.pubkey);
    const existing = this.get(o.sha256);
    if (existing !== undefined) {
      await o.body.cancel().catch(() => {});
      this.#addOwner(o.sha256, o.pubkey);
      return existing;
    }
    const paid = this.allowance(o.sha256, o.pubkey);
    if (paid === undefined) {
      throw new BlobStoreError(
        402,
        `upload of ${o.sha256} by ${o.pubkey.slice(0, 12)} is not paid for: pay the town first`,
      );
    }
    if (paid.size !== o.size) {
      throw new BlobStoreError(
        400,
        `the payment was for ${paid.size} bytes, the upload declares ${o.size}`,
      );
    }
    if (this.#receiving.has(o.sha256)) {
      throw new BlobStoreError(409, `${o.sha256} is being uploaded already; retry later`);
    }
    this.#receiving.add(o.sha256);
    const temp = `${this.dir}/incoming/${crypto.randomUUID()}`;
    try {
      await this.#writeVerified(temp, o);
      const final = this.path(o.sha256);
      await Deno.mkdir(final.slice(0, final.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      await Deno.rename(temp, final);
      return this.#commit(o);
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw err;
    } finally {
      this.#receiving.delete(o.sha256);
    }
  }

  /** The blob's file (this store holds the bytes of every blob it lists). */
  localFile(record: BlobRecord): Promise<string> {
    return Promise.resolve(this.path(record.sha256));
  }

  /**
   * Keeps a verified copy of a blob whose owners and payment another index keeps (a town on
   * several hosts, state/blobs/shared_blob_store.ts): the bytes are checked against `record`'s size
   * and sha256 as an upload's are, then renamed into place and indexed without an owner. A
   * blob already held is kept as it is (the body is cancelled). Throws
   * {@linkcode BlobStoreError}.
   */
  async adopt(record: BlobRecord, body: ReadableStream<Uint8Array>): Promise<BlobRecord> {
    if (!SHA256_HEX.test(record.sha256)) {
      throw new BlobStoreError(400, `not a sha256: ${record.sha256}`);
    }
    if (!Number.isSafeInteger(record.size) || record.size < 0 || record.size > this.maxBlobBytes) {
      throw new BlobStoreError(413, `blob of ${record.size} bytes is over the town's limit`);
    }
    const held = this.get(record.sha256);
    if (held !== undefined) {
      await body.cancel().catch(() => {});
      return held;
    }
    if (this.#receiving.has(record.sha256)) {
      await body.cancel().catch(() => {});
      throw new BlobStoreError(409, `${record.sha256} is being received already; retry later`);
    }
    this.#receiving.add(record.sha256);
    const temp = `${this.dir}/incoming/${crypto.randomUUID()}`;
    try {
      await this.#writeVerified(temp, { ...record, pubkey: "", body });
      const final = this.path(record.sha256);
      await Deno.mkdir(final.slice(0, final.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      await Deno.rename(temp, final);
      this.#db.prepare(
        "INSERT OR REPLACE INTO blobs (sha256, size, type, uploaded, expires) VALUES (?, ?, ?, ?, ?)",
      ).run(record.sha256, record.size, record.type ?? null, record.uploaded, record.expires);
      return record;
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw err;
    } finally {
      this.#receiving.delete(record.sha256);
    }
  }

  /** Drops this store's copy of a blob (its row, then its file); owners are not consulted. */
  async forget(sha256: string): Promise<void> {
    await this.#removeBlob(sha256);
  }

  /** Every row of the index (`town migrate` copies them into PostgreSQL). */
  exportRows(): BlobIndexRows {
    const blobs = (this.#db.prepare(
      "SELECT sha256, size, type, uploaded, expires FROM blobs ORDER BY uploaded",
    ).all() as Record<string, unknown>[]).map(blobRecordFromRow);
    const owners = (this.#db.prepare("SELECT sha256, pubkey, uploaded FROM owners").all() as {
      sha256: string;
      pubkey: string;
      uploaded: number;
    }[]).map((r) => ({ sha256: r.sha256, pubkey: r.pubkey, uploaded: Number(r.uploaded) }));
    const allowances = (this.#db.prepare(
      "SELECT sha256, pubkey, size, amount, paid_at, expires FROM allowances",
    ).all() as {
      sha256: string;
      pubkey: string;
      size: number;
      amount: string;
      paid_at: number;
      expires: number;
    }[]).map((r) => ({
      sha256: r.sha256,
      pubkey: r.pubkey,
      size: Number(r.size),
      amount: BigInt(r.amount),
      paidAt: Number(r.paid_at),
      expires: Number(r.expires),
    }));
    return { blobs, owners, allowances };
  }

  /** The hashes of every blob held here. */
  held(): string[] {
    return (this.#db.prepare("SELECT sha256 FROM blobs").all() as { sha256: string }[])
      .map((r) => r.sha256);
  }

  async #writeVerified(temp: string, o: ReceiveOptions): Promise<void> {
    const hasher = createStreamingSha256();
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    let received = 0;
    try {
      for await (const chunk of o.body) {
        received += chunk.byteLength;
        if (received > o.size) {
          throw new BlobStoreError(413, `more than the declared ${o.size} bytes`);
        }
        hasher.update(chunk);
        writeAll(file, chunk);
      }
      if (received !== o.size) {
        throw new BlobStoreError(400, `upload ended at ${received} of ${o.size} bytes`);
      }
      const digest = hasher.digestHex();
      if (digest !== o.sha256) {
        throw new BlobStoreError(400, `sha256 mismatch: the bytes hash to ${digest}`);
      }
      await file.sync();
    } catch (err) {
      if (err instanceof BlobStoreError) throw err;
      if (/No space left|os error 28|ENOSPC/.test(String(err))) {
        throw new BlobStoreError(507, "the town's disk is full; try again later", { cause: err });
      }
      throw new BlobStoreError(400, `upload failed: ${(err as Error).message}`, { cause: err });
    } finally {
      file.close();
    }
  }

  #commit(o: ReceiveOptions): BlobRecord {
    const record = blobRecordAt(o, this.#now(), this.retentionMs);
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#db.prepare(
        "INSERT OR REPLACE INTO blobs (sha256, size, type, uploaded, expires) VALUES (?, ?, ?, ?, ?)",
      ).run(record.sha256, record.size, record.type ?? null, record.uploaded, record.expires);
      this.#db.prepare("DELETE FROM allowances WHERE sha256 = ? AND pubkey = ?")
        .run(o.sha256, o.pubkey);
      this.#addOwner(o.sha256, o.pubkey);
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
    return record;
  }

  #addOwner(sha256: string, pubkey: string): void {
    this.#db.prepare("INSERT OR IGNORE INTO owners (sha256, pubkey, uploaded) VALUES (?, ?, ?)")
      .run(sha256, pubkey, this.#nowS());
  }

  /**
   * Removes `pubkey` as an owner; the blob itself goes when it has no owner left. False when
   * `pubkey` does not own it.
   */
  async delete(sha256: string, pubkey: string): Promise<boolean> {
    const owned = this.#db.prepare("DELETE FROM owners WHERE sha256 = ? AND pubkey = ?")
      .run(sha256, pubkey);
    if (Number(owned.changes) === 0) return false;
    const left = this.#db.prepare("SELECT COUNT(*) AS n FROM owners WHERE sha256 = ?")
      .get(sha256) as { n: number };
    if (Number(left.n) === 0) await this.#removeBlob(sha256);
    return true;
  }

  async #removeBlob(sha256: string): Promise<void> {
    // Row first: from then on nobody is served the file, and a crash leaves only a stray file
    // that the next open removes.
    this.#db.prepare("DELETE FROM blobs WHERE sha256 = ?").run(sha256);
    this.#db.prepare("DELETE FROM owners WHERE sha256 = ?").run(sha256);
    await Deno.remove(this.path(sha256)).catch(() => {});
  }

  /** Blobs uploaded by `pubkey`, newest first, optionally within [since, until] (unix s). */
  list(pubkey: string, since?: number, until?: number, limit = 1000): BlobRecord[] {
    const rows = this.#db.prepare(
      "SELECT b.sha256, b.size, b.type, o.uploaded, b.expires FROM owners o JOIN blobs b " +
        "USING (sha256) WHERE o.pubkey = ? AND o.uploaded >= ? AND o.uploaded <= ? " +
        "ORDER BY o.uploaded DESC LIMIT ?",
    ).all(pubkey, since ?? 0, until ?? Number.MAX_SAFE_INTEGER, limit) as Record<
      string,
      unknown
    >[];
    return rows.map(blobRecordFromRow);
  }

  /** Deletes expired blobs and allowances; returns how many blobs went. */
  async purgeExpired(): Promise<number> {
    const now = this.#nowS();
    this.#db.prepare("DELETE FROM allowances WHERE expires <= ?").run(now);
    const expired = this.#db.prepare("SELECT sha256 FROM blobs WHERE expires <= ?")
      .all(now) as { sha256: string }[];
    for (const { sha256 } of expired) await this.#removeBlob(sha256);
    return expired.length;
  }

  /** Totals for metrics. */
  stats(): { blobs: number; bytes: number; allowances: number } {
    const b = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM blobs")
      .get() as { n: number; bytes: number };
    const a = this.#db.prepare("SELECT COUNT(*) AS n FROM allowances").get() as { n: number };
    return { blobs: Number(b.n), bytes: Number(b.bytes), allowances: Number(a.n) };
  }

  /** Makes the files and the index agree (see the module documentation). */
  async reconcile(): Promise<void> {
    for await (const entry of Deno.readDir(`${this.dir}/incoming`)) {
      const path = `${this.dir}/incoming/${entry.name}`;
      if (await this.#mayBeLive(path)) continue;
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
    const known = new Set(
      (this.#db.prepare("SELECT sha256 FROM blobs").all() as { sha256: string }[])
        .map((r) => r.sha256),
    );
    for await (const shard of Deno.readDir(this.dir)) {
      if (!shard.isDirectory || !/^[0-9a-f]{2}$/.test(shard.name)) continue;
      for await (const file of Deno.readDir(`${this.dir}/${shard.name}`)) {
        if (known.delete(file.name)) continue;
        const path = `${this.dir}/${shard.name}/${file.name}`;
        if (await this.#mayBeLive(path)) continue;
        await Deno.remove(path).catch(() => {});
      }
    }
    for (const missing of known) await this.#removeBlob(missing);
  }

  close(): void {
    this.#db.close();
  }

  /** Shared by processes and recent enough that another one may still be writing it. */
  async #mayBeLive(path: string): Promise<boolean> {
    if (!this.#shared) return false;
    const mtime = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime();
    return mtime !== undefined && this.#now() - mtime < SHARED_LEFTOVER_MS;
  }

  #nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  #checkShape(sha256: string, size: number, pubkey: string): void {
    if (!SHA256_HEX.test(sha256)) throw new BlobStoreError(400, `not a sha256: ${sha256}`);
    if (!PUBKEY_HEX.test(pubkey)) throw new BlobStoreError(400, "not a hex pubkey");
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new BlobStoreError(400, `bad size ${size}`);
    }
    if (size > this.maxBlobBytes) {
      throw new BlobStoreError(
        413,
        `blob of ${size} bytes is over the town's limit of ${this.maxBlobBytes}`,
      );
    }
  }
}

/**
 * A `blobs` table row (SQLite or PostgreSQL: state/blobs/blob_index_schema.ts) as a {@linkcode BlobRecord}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = blobRecordFromRow({ sha256: "ab", size: 3, type: null, uploaded: 1, expires: 2 });
 * assert.equal(record.type, undefined);
 * ```
 */
export function blobRecordFromRow(row: Record<string, unknown>): BlobRecord {
  return {
    sha256: String(row.sha256),
    size: Number(row.size),
    type: row.type === null || row.type === undefined ? undefined : String(row.type),
    uploaded: Number(row.uploaded),
    expires: Number(row.expires),
  };
}

/**
 * Synchronous on purpose: a chunk of a request body is tens of KiB that land in the page cache
 * in microseconds, while an async write op per chunk measured 13 MiB/s for a streamed upload
 * against 177 MiB/s with writeSync (128 MiB, loopback, this machine).
 */
function writeAll(file: Deno.FsFile, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.byteLength;) at += file.writeSync(chunk.subarray(at));
}

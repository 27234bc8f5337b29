/**
 * The blob index of a town on several hosts, in its PostgreSQL store (docs/OPERATIONS.md "A
 * town on several machines"): which blobs the town stores (`turnpike_blobs`), who owns them
 * (`turnpike_blob_owners`, for lists, quotas and deletes), the paid upload allowances
 * (`turnpike_blob_allowances`: a payment taken by one process, the upload received by another)
 * and which processes hold the bytes (`turnpike_blob_holders`: each process's private fetch
 * URL). The same rows as the one-process index of state/blobs/blob_store.ts, plus the holders.
 *
 * A payment's quota check and its allowance are one transaction under a per-pubkey advisory
 * lock, so two processes cannot both let one pubkey past its quota.
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";
import type { BlobIndexRows, BlobRecord, PaymentRecord } from "../blobs/blob_store.ts";
import { blobRecordFromRow, BlobStoreError } from "../blobs/blob_store.ts";
import { blobIndexSchema } from "../blobs/blob_index_schema.ts";

type Sql = ReturnType<typeof postgres>;

const SCHEMA = `${blobIndexSchema("postgres")}
CREATE TABLE IF NOT EXISTS turnpike_blob_holders (
  sha256 TEXT NOT NULL, url TEXT NOT NULL, since BIGINT NOT NULL, PRIMARY KEY (sha256, url));
`;

/**
 * The blob index in PostgreSQL. Times are unix seconds, given by the caller.
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/state/blobs/shared_blob_store_test.ts.
 */
export class PostgresBlobIndex {
  readonly #sql: Sql;

  private constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Creates the tables if they are not there. */
  static async open(sql: Sql): Promise<PostgresBlobIndex> {
    await createPostgresSchema(sql, SCHEMA);
    return new PostgresBlobIndex(sql);
  }

  /** A stored, unexpired blob. */
  async get(sha256: string, now: number): Promise<BlobRecord | undefined> {
    const [row] = await this.#sql.unsafe(
      "SELECT sha256, size, type, uploaded, expires FROM turnpike_blobs " +
        "WHERE sha256 = $1 AND expires > $2",
      [sha256, now],
    );
    return row === undefined ? undefined : blobRecordFromRow(row);
  }

  /** The paid, unexpired allowance of `pubkey` for a blob. */
  async allowance(
    sha256: string,
    pubkey: string,
    now: number,
  ): Promise<{ size: number; amount: bigint } | undefined> {
    const [row] = await this.#sql.unsafe(
      "SELECT size, amount FROM turnpike_blob_allowances " +
        "WHERE sha256 = $1 AND pubkey = $2 AND expires > $3",
      [sha256, pubkey, now],
    );
    return row === undefined
      ? undefined
      : { size: Number(row.size), amount: BigInt(String(row.amount)) };
  }

  /**
   * Records a paid allowance unless the blob is stored; 507 {@linkcode BlobStoreError} when it
   * would take `pubkey` over `quotaBytes` (owned blobs plus pending allowances).
   */
  async recordPayment(
    o: { sha256: string; size: number; pubkey: string; amount: bigint },
    quotaBytes: number,
    now: number,
    allowanceSeconds: number,
  ): Promise<PaymentRecord> {
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`blobs:${o.pubkey}`]);
      const [stored] = await tx.unsafe(
        "SELECT 1 FROM turnpike_blobs WHERE sha256 = $1 AND expires > $2",
        [o.sha256, now],
      );
      if (stored !== undefined) return "already-stored" as const;
      const [usage] = await tx.unsafe(
        "SELECT (SELECT COALESCE(SUM(b.size), 0) FROM turnpike_blob_owners o " +
          "JOIN turnpike_blobs b USING (sha256) WHERE o.pubkey = $1) + " +
          "(SELECT COALESCE(SUM(size), 0) FROM turnpike_blob_allowances " +
          "WHERE pubkey = $1 AND expires > $2) AS bytes",
        [o.pubkey, now],
      );
      const left = quotaBytes - Number(usage.bytes);
      if (o.size > left) {
        throw new BlobStoreError(
          507,
          `quota exceeded: ${o.pubkey.slice(0, 12)} may store ${quotaBytes} bytes, ` +
            `${Math.max(0, left)} left, this blob is ${o.size}`,
        );
      }
      await tx.unsafe(
        "INSERT INTO turnpike_blob_allowances (sha256, pubkey, size, amount, paid_at, expires) " +
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256, pubkey) DO UPDATE SET " +
          "size = EXCLUDED.size, amount = turnpike_blob_allowances.amount + EXCLUDED.amount, " +
          "expires = EXCLUDED.expires",
        [o.sha256, o.pubkey, o.size, String(o.amount), now, now + allowanceSeconds],
      );
      return "recorded" as const;
    });
  }

  /**
   * Commits a received upload: the blob (an existing row is kept), `pubkey` as an owner, its
   * allowance consumed, `holder` as holding the bytes. Returns the stored record.
   */
  async commitUpload(record: BlobRecord, pubkey: string, holder: string): Promise<BlobRecord> {
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe(
        "INSERT INTO turnpike_blobs (sha256, size, type, uploaded, expires) " +
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        [record.sha256, record.size, record.type ?? null, record.uploaded, record.expires],
      );
      await tx.unsafe(
        "DELETE FROM turnpike_blob_allowances WHERE sha256 = $1 AND pubkey = $2",
        [record.sha256, pubkey],
      );
      await tx.unsafe(
        "INSERT INTO turnpike_blob_owners (sha256, pubkey, uploaded) VALUES ($1, $2, $3) " +
          "ON CONFLICT DO NOTHING",
        [record.sha256, pubkey, record.uploaded],
      );
      await tx.unsafe(
        "INSERT INTO turnpike_blob_holders (sha256, url, since) VALUES ($1, $2, $3) " +
          "ON CONFLICT (sha256, url) DO UPDATE SET since = EXCLUDED.since",
        [record.sha256, holder, record.uploaded],
      );
      const [row] = await tx.unsafe(
        "SELECT sha256, size, type, uploaded, expires FROM turnpike_blobs WHERE sha256 = $1",
        [record.sha256],
      );
      return blobRecordFromRow(row);
    });
  }

  /** Records `pubkey` as an owner of a stored blob (an upload of bytes already stored). */
  async addOwner(sha256: string, pubkey: string, now: number): Promise<void> {
    await this.#sql.unsafe(
      "INSERT INTO turnpike_blob_owners (sha256, pubkey, uploaded) VALUES ($1, $2, $3) " +
        "ON CONFLICT DO NOTHING",
      [sha256, pubkey, now],
    );
  }

  /** Records that the process at `url` holds the blob's bytes. */
  async addHolder(sha256: string, url: string, now: number): Promise<void> {
    await this.#sql.unsafe(
      "INSERT INTO turnpike_blob_holders (sha256, url, since) " +
        "SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM turnpike_blobs WHERE sha256 = $1) " +
        "ON CONFLICT (sha256, url) DO UPDATE SET since = EXCLUDED.since",
      [sha256, url, now],
    );
  }

  /** The fetch URLs of the processes that hold a blob, most recently recorded first. */
  async holders(sha256: string): Promise<string[]> {
    const rows = await this.#sql.unsafe(
      "SELECT url FROM turnpike_blob_holders WHERE sha256 = $1 ORDER BY since DESC, url",
      [sha256],
    );
    return rows.map((r) => String(r.url));
  }

  /** Which of `hashes` the index still stores (unexpired). */
  async stored(hashes: string[], now: number): Promise<Set<string>> {
    if (hashes.length === 0) return new Set();
    const rows = await this.#sql.unsafe(
      "SELECT sha256 FROM turnpike_blobs WHERE sha256 = ANY($1::text[]) AND expires > $2",
      [hashes, now],
    );
    return new Set(rows.map((r) => String(r.sha256)));
  }

  /**
   * Removes `pubkey` as an owner; when nobody owns the blob any more its rows go too.
   * "not-owner", "kept" (others own it) or "removed".
   */
  async removeOwner(sha256: string, pubkey: string): Promise<"not-owner" | "kept" | "removed"> {
    return await this.#sql.begin(async (tx) => {
      const owned = await tx.unsafe(
        "DELETE FROM turnpike_blob_owners WHERE sha256 = $1 AND pubkey = $2 RETURNING 1",
        [sha256, pubkey],
      );
      if (owned.length === 0) return "not-owner" as const;
      const [left] = await tx.unsafe(
        "SELECT 1 FROM turnpike_blob_owners WHERE sha256 = $1 LIMIT 1",
        [sha256],
      );
      if (left !== undefined) return "kept" as const;
      await tx.unsafe("DELETE FROM turnpike_blobs WHERE sha256 = $1", [sha256]);
      await tx.unsafe("DELETE FROM turnpike_blob_holders WHERE sha256 = $1", [sha256]);
      return "removed" as const;
    });
  }

  /** Blobs owned by `pubkey`, newest first, within [since, until]. */
  async list(pubkey: string, since: number, until: number, limit: number): Promise<BlobRecord[]> {
    const rows = await this.#sql.unsafe(
      "SELECT b.sha256, b.size, b.type, o.uploaded, b.expires FROM turnpike_blob_owners o " +
        "JOIN turnpike_blobs b USING (sha256) WHERE o.pubkey = $1 AND o.uploaded >= $2 " +
        "AND o.uploaded <= $3 ORDER BY o.uploaded DESC LIMIT $4",
      [pubkey, since, until, limit],
    );
    return rows.map(blobRecordFromRow);
  }

  /** Deletes expired blobs (their owners and holders) and allowances; the blobs deleted. */
  async purgeExpired(now: number): Promise<string[]> {
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe("DELETE FROM turnpike_blob_allowances WHERE expires <= $1", [now]);
      const gone = await tx.unsafe(
        "DELETE FROM turnpike_blobs WHERE expires <= $1 RETURNING sha256",
        [now],
      );
      const hashes = gone.map((r) => String(r.sha256));
      if (hashes.length > 0) {
        await tx.unsafe("DELETE FROM turnpike_blob_owners WHERE sha256 = ANY($1::text[])", [
          hashes,
        ]);
        await tx.unsafe("DELETE FROM turnpike_blob_holders WHERE sha256 = ANY($1::text[])", [
          hashes,
        ]);
      }
      return hashes;
    });
  }

  /** Totals for metrics. */
  async stats(): Promise<{ blobs: number; bytes: number; allowances: number }> {
    const [row] = await this.#sql.unsafe(
      "SELECT (SELECT COUNT(*) FROM turnpike_blobs) AS n, " +
        "(SELECT COALESCE(SUM(size), 0) FROM turnpike_blobs) AS bytes, " +
        "(SELECT COUNT(*) FROM turnpike_blob_allowances) AS allowances",
    );
    return { blobs: Number(row.n), bytes: Number(row.bytes), allowances: Number(row.allowances) };
  }

  /**
   * Copies rows in (`town migrate`): blobs and owners kept when already there, allowances
   * added, `holder` recorded for every blob copied.
   */
  async importRows(
    rows: BlobIndexRows & { holder?: string },
  ): Promise<void> {
    await this.#sql.begin(async (tx) => {
      for (const b of rows.blobs) {
        await tx.unsafe(
          "INSERT INTO turnpike_blobs (sha256, size, type, uploaded, expires) " +
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
          [b.sha256, b.size, b.type ?? null, b.uploaded, b.expires],
        );
        if (rows.holder !== undefined) {
          await tx.unsafe(
            "INSERT INTO turnpike_blob_holders (sha256, url, since) VALUES ($1, $2, $3) " +
              "ON CONFLICT (sha256, url) DO NOTHING",
            [b.sha256, rows.holder, b.uploaded],
          );
        }
      }
      for (const o of rows.owners) {
        await tx.unsafe(
          "INSERT INTO turnpike_blob_owners (sha256, pubkey, uploaded) VALUES ($1, $2, $3) " +
            "ON CONFLICT DO NOTHING",
          [o.sha256, o.pubkey, o.uploaded],
        );
      }
      for (const a of rows.allowances) {
        await tx.unsafe(
          "INSERT INTO turnpike_blob_allowances (sha256, pubkey, size, amount, paid_at, expires) " +
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256, pubkey) DO NOTHING",
          [a.sha256, a.pubkey, a.size, String(a.amount), a.paidAt, a.expires],
        );
      }
    });
  }
}

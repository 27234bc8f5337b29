/**
 * The blob index's tables, one layout in two dialects: the one-process index of
 * state/blob_store.ts (SQLite, beside the blob files) and the shared one of
 * state/postgres_blob_index.ts (PostgreSQL, its tables prefixed `turnpike_blob`). Which blobs
 * are stored, who owns them, and the paid upload allowances not yet used.
 *
 * @module
 */

/** The SQL dialects of the blob index. */
export type BlobIndexDialect = "sqlite" | "postgres";

/** Where the dialects differ: table names, the integer type, the amount's type. */
const DIALECT = {
  sqlite: {
    blobs: "blobs",
    owners: "owners",
    allowances: "allowances",
    int64: "INTEGER",
    amount: "TEXT",
  },
  postgres: {
    blobs: "turnpike_blobs",
    owners: "turnpike_blob_owners",
    allowances: "turnpike_blob_allowances",
    int64: "BIGINT",
    amount: "NUMERIC",
  },
} as const;

/**
 * The blob index's tables and index in one dialect, each created when missing.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { blobIndexSchema } from "./blob_index_schema.ts";
 *
 * const db = new DatabaseSync(":memory:");
 * db.exec(blobIndexSchema("sqlite"));
 * ```
 */
export function blobIndexSchema(dialect: BlobIndexDialect): string {
  const t = DIALECT[dialect];
  return `
CREATE TABLE IF NOT EXISTS ${t.blobs} (
  sha256 TEXT PRIMARY KEY, size ${t.int64} NOT NULL, type TEXT,
  uploaded ${t.int64} NOT NULL, expires ${t.int64} NOT NULL);
CREATE TABLE IF NOT EXISTS ${t.owners} (
  sha256 TEXT NOT NULL, pubkey TEXT NOT NULL, uploaded ${t.int64} NOT NULL,
  PRIMARY KEY (sha256, pubkey));
CREATE INDEX IF NOT EXISTS ${t.owners}_pubkey ON ${t.owners} (pubkey, uploaded);
CREATE TABLE IF NOT EXISTS ${t.allowances} (
  sha256 TEXT NOT NULL, pubkey TEXT NOT NULL, size ${t.int64} NOT NULL,
  amount ${t.amount} NOT NULL, paid_at ${t.int64} NOT NULL, expires ${t.int64} NOT NULL,
  PRIMARY KEY (sha256, pubkey));
`;
}

/**
 * The blob index's tables, one layout in two dialects: the one-process index of
 * state/blobs/blob_store.ts (SQLite, beside the blob files) and the shared one of
 * state/postgres/postgres_blob_index.ts (PostgreSQL, its tables prefixed `turnpike_blob`). Which blobs
 * are stored, who owns them, and the paid upload allowances not yet used.
 *
 * @module
 */
import { SQL_DIALECT_TYPES, type SqlDialect } from "../sql_dialect.ts";

/** The tables' names: the PostgreSQL store holds other parts' tables too. */
const NAMES = {
  sqlite: ["blobs", "owners", "allowances"],
  postgres: ["turnpike_blobs", "turnpike_blob_owners", "turnpike_blob_allowances"],
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
export function blobIndexSchema(dialect: SqlDialect): string {
  const { int64, decimal } = SQL_DIALECT_TYPES[dialect];
  const [blobs, owners, allowances] = NAMES[dialect];
  return `
CREATE TABLE IF NOT EXISTS ${blobs} (
  sha256 TEXT PRIMARY KEY, size ${int64} NOT NULL, type TEXT,
  uploaded ${int64} NOT NULL, expires ${int64} NOT NULL);
CREATE TABLE IF NOT EXISTS ${owners} (
  sha256 TEXT NOT NULL, pubkey TEXT NOT NULL, uploaded ${int64} NOT NULL,
  PRIMARY KEY (sha256, pubkey));
CREATE INDEX IF NOT EXISTS ${owners}_pubkey ON ${owners} (pubkey, uploaded);
CREATE TABLE IF NOT EXISTS ${allowances} (
  sha256 TEXT NOT NULL, pubkey TEXT NOT NULL, size ${int64} NOT NULL,
  amount ${decimal} NOT NULL, paid_at ${int64} NOT NULL, expires ${int64} NOT NULL,
  PRIMARY KEY (sha256, pubkey));
`;
}

/**
 * The two SQL dialects the stores are written in, and the column types where they differ: the
 * one-process SQLite files and the PostgreSQL store several town processes share. The schema
 * modules (state/events/event_store_schema.ts, state/blobs/blob_index_schema.ts) write each table once and
 * take the words from here.
 *
 * @module
 */

/** A store's SQL dialect. */
export type SqlDialect = "sqlite" | "postgres";

/** The words a table definition takes from its dialect. */
export interface SqlDialectTypes {
  /** A 64-bit integer column. */
  int64: string;
  /** A byte string column. */
  bytes: string;
  /** An integer primary key the database assigns, ascending. */
  serialKey: string;
  /** An exact decimal (token amounts, uint64 and beyond). */
  decimal: string;
  /** What follows a keyed table's `)`: SQLite's `WITHOUT ROWID`, nothing in PostgreSQL. */
  keyedTableSuffix: string;
}

/**
 * The column types of each dialect.
 *
 * @example
 * ```ts
 * import { SQL_DIALECT_TYPES } from "./sql_dialect.ts";
 *
 * const t = SQL_DIALECT_TYPES.postgres;
 * const ddl = `CREATE TABLE IF NOT EXISTS t (n ${t.int64} NOT NULL)`;
 * ```
 */
export const SQL_DIALECT_TYPES: Readonly<Record<SqlDialect, SqlDialectTypes>> = {
  sqlite: {
    int64: "INTEGER",
    bytes: "BLOB",
    serialKey: "INTEGER PRIMARY KEY",
    decimal: "TEXT",
    keyedTableSuffix: " WITHOUT ROWID",
  },
  postgres: {
    int64: "BIGINT",
    bytes: "BYTEA",
    serialKey: "BIGSERIAL PRIMARY KEY",
    decimal: "NUMERIC",
    keyedTableSuffix: "",
  },
};

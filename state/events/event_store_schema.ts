/**
 * The event store's schema (SQLite and PostgreSQL, one table layout) and its SQLite format
 * version (`PRAGMA user_version`).
 *
 * Format 2 keeps each event's JSON and TOON byte-exact: a TEXT value read back through
 * `node:sqlite` ends at its first U+0000, so an event whose content holds one was served cut
 * short. Columns are declared BLOB (no type conversion); a text holding U+0000 is stored as its
 * UTF-8 bytes, any other as TEXT, which `node:sqlite` hands back as a string without a decode
 * ({@linkcode toColumn}, {@linkcode fromColumn}; measured in bench/event_store_toon_bench.ts).
 * The TOON column is always the town's own encoding (`encodeEventToon`), never a client's
 * text, so what is served decodes with every TOON reader the network uses.
 *
 * Format 0 (no version set) is the earlier layout: TEXT columns, TOON as received.
 *
 * @module
 */

import { SQL_DIALECT_TYPES, type SqlDialect } from "../sql_dialect.ts";

/** The format this code writes. */
export const EVENT_STORE_FORMAT = 2;

/**
 * The `events` table of format 2 (its name is a parameter so a migration can build it aside).
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * db.exec(eventsTableSql("events_next"));
 * db.prepare("SELECT count(*) FROM events_next").get(); // the table exists
 * db.close();
 * ```
 */
export function eventsTableSql(name = "events", dialect: SqlDialect = "sqlite"): string {
  const t = SQL_DIALECT_TYPES[dialect];
  // SQLite keeps texts in BLOB columns: node:sqlite cuts a TEXT at its first U+0000.
  const text = dialect === "sqlite" ? t.bytes : "TEXT";
  return `
CREATE TABLE IF NOT EXISTS ${name} (
  seq ${t.serialKey},
  id TEXT NOT NULL UNIQUE,
  pubkey TEXT NOT NULL,
  kind INTEGER NOT NULL,
  created_at ${t.int64} NOT NULL,
  d_tag TEXT,
  expiration ${t.int64},
  json ${text} NOT NULL,
  toon ${t.bytes} NOT NULL
);`;
}

/**
 * Everything of format 2 in one dialect: tables and indexes, each created when missing. Both
 * stores hold the same tables, so a column or index is added here once.
 *
 * @example
 * ```ts
 * import { eventStoreSchema } from "./event_store_schema.ts";
 *
 * const ddl: string = eventStoreSchema("postgres");
 * ```
 */
export function eventStoreSchema(dialect: SqlDialect): string {
  const t = SQL_DIALECT_TYPES[dialect];
  const cascade = dialect === "postgres" ? " REFERENCES events (seq) ON DELETE CASCADE" : "";
  return `
${eventsTableSql("events", dialect)}
CREATE INDEX IF NOT EXISTS events_created ON events (created_at DESC, id);
CREATE INDEX IF NOT EXISTS events_author ON events (pubkey, created_at DESC);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, created_at DESC);
CREATE INDEX IF NOT EXISTS events_address ON events (pubkey, kind, d_tag);
CREATE INDEX IF NOT EXISTS events_expiration ON events (expiration) WHERE expiration IS NOT NULL;
CREATE TABLE IF NOT EXISTS tags (
  seq ${t.int64} NOT NULL${cascade},
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at ${t.int64} NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_value ON tags (name, value, created_at DESC);
CREATE INDEX IF NOT EXISTS tags_seq ON tags (seq);
CREATE TABLE IF NOT EXISTS deleted_ids (
  id TEXT NOT NULL,
  pubkey TEXT NOT NULL,
  PRIMARY KEY (id, pubkey)
)${t.keyedTableSuffix};
CREATE TABLE IF NOT EXISTS deleted_addresses (
  pubkey TEXT NOT NULL,
  kind INTEGER NOT NULL,
  d_tag TEXT NOT NULL,
  until_created_at ${t.int64} NOT NULL,
  PRIMARY KEY (pubkey, kind, d_tag)
)${t.keyedTableSuffix};
`;
}

/** Everything of format 2 in SQLite: {@linkcode eventStoreSchema} `("sqlite")`. */
export const EVENT_STORE_SCHEMA: string = eventStoreSchema("sqlite");

const UTF8 = new TextEncoder();
const FROM_UTF8 = new TextDecoder();

/**
 * How a text is stored in a format 2 column: as is, or as UTF-8 bytes when it holds U+0000.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(toColumn("a\u0000b"), Uint8Array.of(97, 0, 98));
 * assert.equal(toColumn("ab"), "ab");
 * ```
 */
export function toColumn(text: string): string | Uint8Array {
  return text.includes("\u0000") ? UTF8.encode(text) : text;
}

/**
 * The text a format 2 column holds (see {@linkcode toColumn}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(fromColumn(new Uint8Array([97, 0, 98])), "a\u0000b");
 * ```
 */
export function fromColumn(value: string | Uint8Array): string {
  return typeof value === "string" ? value : FROM_UTF8.decode(value);
}

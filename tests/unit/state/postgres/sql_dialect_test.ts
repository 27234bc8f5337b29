/**
 * The schema modules write each table once for both dialects (state/sql_dialect.ts): the
 * tables they create in SQLite (node:sqlite) and in PostgreSQL (a real server) have the same
 * columns, each as nullable in both, so the two stores cannot drift apart.
 */
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { blobIndexSchema } from "../../../../state/blobs/blob_index_schema.ts";
import { eventStoreSchema } from "../../../../state/events/event_store_schema.ts";
import type { SqlDialect } from "../../../../state/sql_dialect.ts";

/** Each table's columns, `name` or `name NOT NULL` (a primary key column counts as not null). */
type Columns = Record<string, string[]>;

/** The tables, by their SQLite name; PostgreSQL prefixes the blob index's (`turnpike_blob...`). */
const TABLES: Record<string, string> = {
  events: "events",
  tags: "tags",
  deleted_ids: "deleted_ids",
  deleted_addresses: "deleted_addresses",
  blobs: "turnpike_blobs",
  owners: "turnpike_blob_owners",
  allowances: "turnpike_blob_allowances",
};

function sqliteColumns(schema: string, tables: readonly string[]): Columns {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec(schema);
    const out: Columns = {};
    for (const table of tables) {
      const rows = db.prepare(`PRAGMA table_info(${table})`).all() as {
        name: string;
        notnull: number;
        pk: number;
      }[];
      out[table] = rows.map((r) => r.notnull || r.pk ? `${r.name} NOT NULL` : r.name);
    }
    return out;
  } finally {
    db.close();
  }
}

async function postgresColumns(
  sql: postgres.Sql,
  schema: string,
  tables: Record<string, string>,
): Promise<Columns> {
  await sql.unsafe(schema).simple();
  const out: Columns = {};
  for (const [name, pgName] of Object.entries(tables)) {
    const rows = await sql<{ column_name: string; is_nullable: string }[]>`
      SELECT column_name, is_nullable FROM information_schema.columns
      WHERE table_name = ${pgName} ORDER BY ordinal_position`;
    out[name] = rows.map((r) =>
      r.is_nullable === "NO" ? `${r.column_name} NOT NULL` : r.column_name
    );
  }
  return out;
}

Deno.test("sql dialects: the event store and blob index tables match in SQLite and PostgreSQL", async () => {
  const schema = (dialect: SqlDialect) => eventStoreSchema(dialect) + blobIndexSchema(dialect);
  const lite = sqliteColumns(schema("sqlite"), Object.keys(TABLES));
  assertEquals(lite.events.length, 9, "the SQLite events table was read");

  await using pg = await startPostgresServer();
  const sql = postgres(await freshDatabase(pg.url), { max: 1, onnotice: () => {} });
  try {
    const server = await postgresColumns(sql, schema("postgres"), TABLES);
    assertEquals(server, lite);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

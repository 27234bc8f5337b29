/**
 * The process registry (`turnpike_processes`) has one owner, state/postgres/postgres_processes.ts: no
 * other module creates the table or writes its rows. On a real server, the connection counts and
 * the peer routes opened together on a fresh database both find it; a heartbeat is a row, a
 * holder is fresh while it beats and gone once its process closed.
 */
import postgres from "postgres";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { PostgresConnectionCounts } from "../../../../state/postgres/postgres_connection_counts.ts";
import { PostgresPeerRoutes } from "../../../../state/postgres/postgres_peer_routes.ts";

const ROOT = new URL("../../../../", import.meta.url);
const OWNER = "state/postgres/postgres_processes.ts";
/** What only the owner may say about the table. */
const OWNED = /(CREATE TABLE[^;(]*|INSERT INTO|DELETE FROM|UPDATE)\s+turnpike_processes\b/;

async function* sourceFiles(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      if (["node_modules", "vendor", "tests", ".git"].includes(entry.name)) continue;
      yield* sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("process registry: only state/postgres/postgres_processes.ts creates or writes turnpike_processes", async () => {
  const offenders: string[] = [];
  for await (const path of sourceFiles(ROOT)) {
    if (path === OWNER) continue;
    if (OWNED.test(await Deno.readTextFile(new URL(path, ROOT)))) offenders.push(path);
  }
  assertEquals(offenders, []);
  assert(OWNED.test(await Deno.readTextFile(new URL(OWNER, ROOT))), "the owner creates it");
});

Deno.test("process registry: the connection counts and the peer routes share it on one database", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  try {
    // Opened together on an empty database: both create the registry, neither fails.
    const [counts, routes] = await Promise.all([
      PostgresConnectionCounts.open(sql, { intervalMs: 60_000 }),
      PostgresPeerRoutes.open(sql, {
        process: crypto.randomUUID(),
        url: "http://127.0.0.1:1",
        connected: () => [],
        syncIntervalMs: 60_000,
      }),
    ]);
    const seen = await PostgresPeerRoutes.open(sql, {
      process: counts.process,
      url: "http://127.0.0.1:2",
      connected: () => ["bob"],
      syncIntervalMs: 60_000,
    });
    await counts.exchange();
    const rows = await sql.unsafe("SELECT process FROM turnpike_processes");
    assertEquals(rows.map((r) => r.process), [counts.process]);
    assertEquals((await routes.holder("bob"))?.fresh, true);
    await counts.close();
    assertEquals((await sql.unsafe("SELECT process FROM turnpike_processes")).length, 0);
    assertEquals((await routes.holder("bob"))?.fresh, false);
    await seen.close();
    await routes.close();
  } finally {
    await sql.end({ timeout: 1 });
  }
});

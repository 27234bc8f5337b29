/**
 * A new pooled connection's array-types query, failed by its connection, fails no promise nobody
 * holds (real PostgreSQL, behind harness/postgres_message_proxy.ts). postgres.js 3.4.9
 * dropped the promise of that query's function: a socket reset while it was in flight was an
 * unhandled `read ECONNRESET`, which ends a Deno process; a backend ended then (57P01, a clean
 * close) failed the caller's query with that old error after the reconnect had worked, and the
 * same unhandled rejection followed. vendor/postgres/PATCHED.md has the patch. The process-level
 * net of state/postgres/postgres_stray_errors.ts is not installed here: the patch is what this proves.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { startPostgresMessageProxy } from "../../harness/postgres_message_proxy.ts";
import postgres from "postgres";

type Outcome = { rows: unknown[] } | { error: string };

async function outcome(query: PromiseLike<unknown>): Promise<Outcome> {
  try {
    return { rows: [...(await query) as unknown[]] };
  } catch (err) {
    return { error: String((err as { code?: string }).code ?? (err as Error).message) };
  }
}

/** The reasons of the rejections nobody handled while `run` ran (and kept the process alive). */
async function strayRejections(run: () => Promise<void>): Promise<string[]> {
  const stray: string[] = [];
  const watch = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    stray.push(String((e.reason as { code?: string })?.code ?? e.reason));
  };
  globalThis.addEventListener("unhandledrejection", watch);
  try {
    await run();
  } finally {
    globalThis.removeEventListener("unhandledrejection", watch);
  }
  return stray;
}

const TYPES_QUERY = "typcategory"; // the text of the array-types query every connection runs

Deno.test("a new connection's array-types query failed by its connection fails only its caller", async (t) => {
  await using pg = await startPostgresServer();

  await t.step("the connection reset (RST) while the query is in flight", async () => {
    await using proxy = await startPostgresMessageProxy(pg.port);
    const sql = postgres(proxy.url(pg.url), { max: 1, onnotice: () => {} });
    try {
      const stray = await strayRejections(async () => {
        const reset = proxy.on(TYPES_QUERY, "reset");
        assertEquals(await outcome(sql`SELECT 1 AS one`), { error: "ECONNRESET" });
        await reset;
        // A round trip on the reopened connection: any rejection of the reset's turn has fired.
        assertEquals(await outcome(sql`SELECT 2 AS two`), { rows: [{ two: 2 }] });
      });
      assertEquals(stray, [], "rejections no handler took");
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  await t.step("the backend ended (57P01, clean close) while the query is in flight", async () => {
    await using proxy = await startPostgresMessageProxy(pg.port);
    const name = `types_${Deno.pid}`;
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    const sql = postgres(proxy.url(pg.url), {
      max: 1,
      onnotice: () => {},
      connection: { application_name: name },
    });
    try {
      const stray = await strayRejections(async () => {
        const held = proxy.on(TYPES_QUERY, "hold"); // the server never answers it
        const first = outcome(sql`SELECT 1 AS one`);
        await held;
        const [{ n }] = await admin`
          SELECT count(pg_terminate_backend(pid))::int AS n
          FROM pg_stat_activity WHERE application_name = ${name}`;
        assertEquals(n, 1, "the held connection's backend was ended");
        // The connection opens again for the query; the dead session's 57P01 is not its answer.
        assertEquals(await first, { rows: [{ one: 1 }] });
        assertEquals(await outcome(sql`SELECT 2 AS two`), { rows: [{ two: 2 }] });
      });
      assertEquals(stray, [], "rejections no handler took");
    } finally {
      await sql.end({ timeout: 1 });
      await admin.end({ timeout: 1 });
    }
  });
});

/**
 * PostgreSQL connection errors no promise handler took (state/postgres/postgres_stray_errors.ts): once a
 * store opened, a socket reset's rejection that nobody holds is said on stderr and the process
 * goes on; a real driver's query left unawaited while its real server stops is one; any other
 * rejection is not taken for one.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import {
  dropStrayPostgresConnectionErrors,
  isPostgresConnectionError,
} from "../../../../state/postgres/postgres_stray_errors.ts";
import { openPostgresSchema } from "../../../../state/postgres/postgres_schema.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";

Deno.test("postgres stray errors: which rejections are a connection's", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), {
    code: "ECONNRESET",
    syscall: "read",
  });
  const starting = Object.assign(new Error("the database system is starting up"), {
    code: "57P03",
  });
  const closed = Object.assign(new Error("write CONNECTION_CLOSED"), {
    code: "CONNECTION_CLOSED",
  });
  for (const e of [reset, starting, closed]) assert(isPostgresConnectionError(e), e.message);
  const notOurs = [
    new TypeError("x is undefined"),
    Object.assign(new Error("duplicate key"), { code: "23505" }),
    Object.assign(new Error("ECONNRESET"), { code: "ECONNRESET" }), // no syscall: not a socket's
    "ECONNRESET",
  ];
  for (const e of notOurs) assertEquals(isPostgresConnectionError(e), false, String(e));
});

Deno.test("postgres stray errors: a query nobody awaits, failed by its server's stop, does not end the process", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const sql = await openPostgresSchema({
    url,
    maxConnections: 1,
    what: "the test table",
    schema: "CREATE TABLE IF NOT EXISTS t (k TEXT)",
    error: (message, cause) => new Error(message, { cause }),
  });
  dropStrayPostgresConnectionErrors(); // done by openPostgresSchema already: idempotent
  const seen: unknown[] = [];
  const watch = (e: PromiseRejectionEvent) => seen.push(e.reason);
  globalThis.addEventListener("unhandledrejection", watch);
  try {
    // A long query whose promise nobody handles, as a stray one of the driver's would be.
    const stray = sql.unsafe("SELECT pg_sleep(30)");
    stray.then(() => {}); // sent (the driver's queries are lazy), its rejection left unhandled
    await new Promise((r) => setTimeout(r, 200));
    await pg.stop("immediate");
    // Hang guards (not clocks asserted): the rejection comes within a few reads of the stop.
    for (let i = 0; seen.length === 0 && i < 3000; i++) await new Promise((r) => setTimeout(r, 20));
    assert(isPostgresConnectionError(seen[0]), String(seen[0]));
    // The process is still here, and the pool works again once the server is back.
    await pg.start();
    for (let tries = 0;; tries++) {
      assert(tries < 600, "the pool never worked again after the server came back");
      const rows = await sql.unsafe("SELECT 1 AS one").catch(() => undefined);
      if (rows !== undefined) {
        assertEquals(rows[0].one, 1);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    globalThis.removeEventListener("unhandledrejection", watch);
    await sql.end({ timeout: 1 });
  }
});

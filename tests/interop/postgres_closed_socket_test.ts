/**
 * The PostgreSQL client survives a backend that dies mid-transaction (real PostgreSQL, real
 * backends terminated): the transaction rejects with a connection error and the process goes on.
 * Unpatched postgres.js 3.4.9 wrote the ROLLBACK to a null socket from a timer and the process
 * died of an uncaught TypeError, as a town on PostgreSQL did when its server restarted under load
 * (vendor/postgres/PATCHED.md, docs/OPERATIONS.md "A town on several machines").
 */
import { assert, assertEquals } from "../support/assert.ts";
import { startPostgresServer } from "../../state/postgres_server.ts";
import { freshDatabase } from "../support/postgres_database.ts";

Deno.test("a transaction whose backend dies rejects, and the process lives on", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../support/postgres_closed_write_child.ts", import.meta.url).pathname,
      url,
      "8",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `the child died: ${stderr.slice(-1500)}`);
  const { codes, after } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    codes: string[];
    after: number;
  };
  assertEquals(codes.length, 8);
  // Each round's backend was terminated: no transaction commits; each rejects with the
  // connection's error (closed, reset, or the server's own 57P01 terminating the backend).
  for (const code of codes) {
    assert(
      ["CONNECTION_CLOSED", "ECONNRESET", "EPIPE", "57P01", "CONNECT_TIMEOUT"].includes(code),
      `unexpected outcome: ${code} (all: ${codes.join(", ")})`,
    );
  }
  assertEquals(after, 2);
});

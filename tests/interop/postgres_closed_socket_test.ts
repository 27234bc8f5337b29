/**
 * The PostgreSQL client survives a backend that dies mid-transaction (real PostgreSQL, real
 * backends terminated): the transaction rejects with a connection error and the process goes on.
 * Unpatched postgres.js 3.4.9 wrote the ROLLBACK to a null socket from a timer and the process
 * died of an uncaught TypeError, as a town on PostgreSQL did when its server restarted under load
 * (vendor/postgres/PATCHED.md, docs/OPERATIONS.md "A town on several machines"). And what each
 * callback does after its connection closed (its late query, its ROLLBACK or COMMIT) fails with
 * that connection's error instead of running on the session the pool opened next: unpatched, a
 * later round's query got another's reply (about 1 run in 6 of 6 at once; 1 in 3 with the checks
 * of the late queries and of the rows left). tests/interop/postgres_reconnect_test.ts has each
 * case alone.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";

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
  const { codes, late, left, after } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    codes: string[];
    late: string[];
    left: number[];
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
  // The query each callback makes after its connection closed gets that connection's error:
  // never an answer from the session the pool opened next (another round's). (`-`: that round's
  // transaction did not begin, as after CONNECT_TIMEOUT.)
  assertEquals(late.length, 8, `late: ${late.join(", ")}`);
  for (const outcome of late) {
    assert(
      ["CONNECTION_CLOSED", "ECONNRESET", "EPIPE", "57P01", "-"].includes(outcome),
      `a late query came to ${outcome} (all: ${late.join(", ")})`,
    );
  }
  // And no round's row was committed (by another round's late COMMIT).
  assertEquals(left, []);
  assertEquals(after, 2);
});

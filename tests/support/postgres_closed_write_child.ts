/**
 * Child process of tests/interop/postgres_closed_socket_test.ts: transactions whose backend is
 * terminated mid-way, each callback then throwing as a store's would. postgres.js writes the
 * ROLLBACK on the closed connection; unpatched, that write runs from a timer on a null socket
 * and the process dies of an uncaught TypeError (vendor/postgres/PATCHED.md).
 *
 * Each round's callback goes on after `begin` rejected (the connection closed): its late query,
 * then its ROLLBACK, come while later rounds use the pool. Unpatched, they ran on the session
 * the connection opened next, another round's: a late query got an answer (an empty one, or a
 * later round's query got its reply), and its COMMIT committed that round's row.
 *
 *     deno run -A tests/support/postgres_closed_write_child.ts POSTGRES_URL ROUNDS
 *
 * Prints one JSON line: each round's rejection code, what each late query came to (its rows, its
 * error's code, or `-` when the round's transaction did not begin), the rows left in the rounds'
 * table, and the answer of a query made afterwards.
 *
 * @module
 */
import postgres from "postgres";

function codeOf(err: unknown): string {
  return String((err as { code?: string }).code ?? (err as Error).message);
}

if (import.meta.main) {
  const [url, rounds] = [Deno.args[0], Number(Deno.args[1] ?? 8)];
  const killer = postgres(url, { max: 1, onnotice: () => {} });
  await killer`CREATE TABLE IF NOT EXISTS rounds (round int)`;
  const codes: string[] = [];
  const late: Promise<string>[] = [];
  // A warm pool, as a store's: the race needs a connection the pool reuses.
  const sql = postgres(url, { max: 2, connect_timeout: 2, onnotice: () => {} });
  await sql`SELECT 1`;
  for (let i = 0; i < rounds; i++) {
    let lateDone!: (s: string) => void;
    late.push(new Promise((r) => lateDone = r));
    let started = false;
    try {
      await sql.begin(async (tx) => {
        started = true;
        const [{ pid }] = await tx`SELECT pg_backend_pid() AS pid`.catch((err) => {
          lateDone(`not made (the pid query: ${codeOf(err)})`);
          throw err;
        });
        await tx`INSERT INTO rounds VALUES (${i})`;
        await killer`SELECT pg_terminate_backend(${pid})`;
        // The backend's close arrives first (a clean FIN: postgres.js nulls its socket): wait
        // until the server has ended it (slow on a busy machine), then for the FIN to be read.
        while ((await killer`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`).length) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 100));
        try {
          const rows = await tx`SELECT 1 AS one`;
          lateDone(JSON.stringify([...rows]));
        } catch (err) {
          lateDone(codeOf(err));
          throw err;
        }
      });
      codes.push("committed");
    } catch (err) {
      codes.push(codeOf(err));
      // The transaction did not begin: no callback, no late query.
      started || lateDone("-");
    }
    // Let any write postgres.js queued for the dead connection run.
    await new Promise((r) => setTimeout(r, 20));
  }
  // Every round's callback has made its late query (the last ones come after the last round).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lateOutcomes = await Promise.race([
    Promise.all(late),
    new Promise<string[]>((r) => timer = setTimeout(() => r(["timeout"]), 30_000)),
  ]);
  clearTimeout(timer);
  await sql.end({ timeout: 1 });
  const fresh = postgres(url, { max: 1, onnotice: () => {} });
  const [{ x }] = await fresh`SELECT 2 AS x`;
  const left = (await fresh`SELECT round FROM rounds ORDER BY round`).map((r) => r.round);
  await fresh.end({ timeout: 1 });
  await killer.end({ timeout: 1 });
  console.log(JSON.stringify({ codes, late: lateOutcomes, left, after: x }));
}

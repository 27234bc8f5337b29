/**
 * Child process of tests/interop/postgres_closed_socket_test.ts: transactions whose backend is
 * terminated mid-way, each callback then throwing as a store's would. postgres.js writes the
 * ROLLBACK on the closed connection; unpatched, that write runs from a timer on a null socket
 * and the process dies of an uncaught TypeError (vendor/postgres/PATCHED.md).
 *
 *     deno run -A tests/support/postgres_closed_write_child.ts POSTGRES_URL ROUNDS
 *
 * Prints one JSON line: each round's rejection code and the answer of a query made afterwards.
 *
 * @module
 */
import postgres from "postgres";

if (import.meta.main) {
  const [url, rounds] = [Deno.args[0], Number(Deno.args[1] ?? 8)];
  const killer = postgres(url, { max: 1, onnotice: () => {} });
  const codes: string[] = [];
  // A warm pool, as a store's: the race needs a connection the pool reuses.
  const sql = postgres(url, { max: 2, connect_timeout: 2, onnotice: () => {} });
  await sql`SELECT 1`;
  for (let i = 0; i < rounds; i++) {
    try {
      await sql.begin(async (tx) => {
        const [{ pid }] = await tx`SELECT pg_backend_pid() AS pid`;
        await killer`SELECT pg_terminate_backend(${pid})`;
        // The backend's close arrives first (a clean FIN: postgres.js nulls its socket): wait
        // until the server has ended it (slow on a busy machine), then for the FIN to be read.
        while ((await killer`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`).length) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 100));
        await tx`SELECT 1`;
      });
      codes.push("committed");
    } catch (err) {
      codes.push(String((err as { code?: string }).code ?? (err as Error).message));
    }
    // Let any write postgres.js queued for the dead connection run.
    await new Promise((r) => setTimeout(r, 20));
  }
  await sql.end({ timeout: 1 });
  const fresh = postgres(url, { max: 1, onnotice: () => {} });
  const [{ x }] = await fresh`SELECT 2 AS x`;
  await fresh.end({ timeout: 1 });
  await killer.end({ timeout: 1 });
  console.log(JSON.stringify({ codes, after: x }));
}

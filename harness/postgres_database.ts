/**
 * Fresh databases on a private PostgreSQL server for tests: one server per test file
 * (state/postgres/postgres_server.ts, as `nobody` when the suite runs as root), one new database per
 * case, so cases never see each other's rows.
 *
 * @module
 */
import postgres from "postgres";

let counter = 0;

/**
 * Creates an empty database on the server at `serverUrl`; its URL.
 *
 * It needs a PostgreSQL server, so it has no example here:
 * tests/unit/chain/postgres_claim_books_test.ts makes its databases with it.
 */
export async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `t_${Deno.pid}_${++counter}_${crypto.randomUUID().slice(0, 6)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

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
 * @example
 * ```ts
 * import { startPostgresServer } from "../state/postgres/postgres_server.ts";
 *
 * await using pg = await startPostgresServer();
 * const url = await freshDatabase(pg.url);
 * ```
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

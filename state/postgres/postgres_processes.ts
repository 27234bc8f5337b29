/**
 * The registry of a town's processes on one PostgreSQL store (docs/OPERATIONS.md "A town on
 * several machines"): one row per process in `turnpike_processes`, its id and its heartbeat (the
 * database's clock, in seconds). This module owns the table: its schema, its creation and every
 * write to it. The connection counts (state/postgres/postgres_connection_counts.ts) beat for their process
 * and give back the slots of processes whose heartbeat lapsed; the peer routes
 * (state/postgres/postgres_peer_routes.ts) read a holder's liveness from it.
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;
type TransactionSql = postgres.TransactionSql;

/** The database's clock in seconds, as a heartbeat is written and compared: SQL text. */
export const DATABASE_NOW = "extract(epoch FROM clock_timestamp())::float8";

/** The registry's schema: `turnpike_processes (process, heartbeat)`. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_processes (
  process TEXT PRIMARY KEY, heartbeat DOUBLE PRECISION NOT NULL);
`;

/**
 * Creates the registry and the caller's own tables (`schema`, run as is after it) in one
 * transaction under the schema lock ({@linkcode createPostgresSchema}): a module whose queries
 * read `turnpike_processes` creates its tables through this.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export async function createWithProcessRegistry(sql: Sql, schema: string): Promise<void> {
  await createPostgresSchema(sql, async (tx: TransactionSql) => {
    await tx.unsafe(SCHEMA);
    await tx.unsafe(schema);
  });
}

/**
 * Writes `process`'s heartbeat: now, by the database's clock.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export async function writeHeartbeat(sql: Sql, process: string): Promise<void> {
  await sql.unsafe(
    `INSERT INTO turnpike_processes (process, heartbeat) VALUES ($1, ${DATABASE_NOW}) ` +
      "ON CONFLICT (process) DO UPDATE SET heartbeat = EXCLUDED.heartbeat",
    [process],
  );
}

/**
 * Removes the rows of processes not heard from for `seconds`.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export async function forgetSilentProcesses(sql: Sql, seconds: number): Promise<void> {
  await sql.unsafe(`DELETE FROM turnpike_processes WHERE heartbeat < ${DATABASE_NOW} - $1`, [
    seconds,
  ]);
}

/**
 * Removes `process`'s row (it stops).
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export async function forgetProcess(sql: Sql, process: string): Promise<void> {
  await sql.unsafe("DELETE FROM turnpike_processes WHERE process = $1", [process]);
}

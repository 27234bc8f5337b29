/**
 * Schema creation for the PostgreSQL state (docs/OPERATIONS.md, "A town on several machines"):
 * every `state/postgres/postgres_*` module creates its tables in one transaction that first takes
 * {@linkcode SCHEMA_LOCK}, so processes starting together create them once.
 *
 * One advisory lock key serves all schema creation, deliberately: a table shared by several modules
 * (`turnpike_processes`, owned by state/postgres/postgres_processes.ts and created with the connection
 * counts' and the peer routes' tables) is created by each of them, and two concurrent
 * `CREATE TABLE IF NOT EXISTS` of one table can fail with a unique violation, which one key for
 * all of them rules out. Schema creation runs once per store at start, so the queue is short.
 *
 * The driver is imported when a store is opened, not with this module: a town on SQLite names
 * these modules (its PostgreSQL choices are wired beside its SQLite ones) but never opens one, and
 * the driver's code would stay in its heap for nothing (docs/SCALE.md "An idle town's memory"). Its
 * name is held in a constant, not written in the `import()`: `deno run` reads and parses every
 * local module a literal import names before the program starts, a dynamic one's included.
 *
 * @module
 */
import type postgres from "postgres";
import { dropStrayPostgresConnectionErrors } from "./postgres_stray_errors.ts";

const DRIVER = "postgres";

type Sql = postgres.Sql;
type TransactionSql = postgres.TransactionSql;

/** Advisory lock key of all schema creation ("turnpik" in ASCII, as a number). */
export const SCHEMA_LOCK = 0x7475726e70696bn;

/**
 * Creates a schema under {@linkcode SCHEMA_LOCK}: `schema` is run as is (statements separated by
 * `;`), or a function given the transaction does the work (a versioned migration).
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_stray_errors_test.ts.
 */
export async function createPostgresSchema(
  sql: Sql,
  schema: string | ((tx: TransactionSql) => Promise<void>),
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK.toString()]);
    if (typeof schema === "string") await tx.unsafe(schema);
    else await schema(tx);
  });
}

/** Options for {@linkcode openPostgresSchema}. */
export interface OpenPostgresSchemaOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Most connections of the pool. */
  maxConnections: number;
  /** Seconds to wait for a connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
  /** What is opened, for the error: "the channel books". */
  what: string;
  /** The schema, as {@linkcode createPostgresSchema} takes it. */
  schema: string | ((tx: TransactionSql) => Promise<void>);
  /** The module's own error, made from the message and the cause. */
  error: (message: string, cause: unknown) => Error;
}

/**
 * Connects a pool and creates the schema; on failure the pool is ended and the module's error
 * thrown, `cannot open <what> at <url with the password hidden>: <reason>`.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_stray_errors_test.ts.
 */
export async function openPostgresSchema(options: OpenPostgresSchemaOptions): Promise<Sql> {
  const { default: postgres } = await import(DRIVER) as typeof import("postgres");
  dropStrayPostgresConnectionErrors();
  const sql = postgres(options.url, {
    max: options.maxConnections,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    onnotice: () => {},
  });
  try {
    await createPostgresSchema(sql, options.schema);
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw options.error(
      `cannot open ${options.what} at ${redactUrl(options.url)}: ${(err as Error).message}`,
      err,
    );
  }
  return sql;
}

/**
 * A store URL with its password hidden, for messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./postgres_schema.ts";
 * assert(redactUrl("postgres://u:secret@h/db") === "postgres://u:***@h/db");
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, "$1:***@");
}

/**
 * One running process per books key on a town's shared store (roles/town/shared_books_id.ts): a
 * process files what its own ledger owes and was paid under its key, and two processes under one
 * key (a state dir copied from a running process's, its `books_id` with it) would each write
 * their own ledger over the other's rows, so the town would owe a provider the greater of the two
 * instead of their sum. The key's holder keeps a session-level advisory lock on a connection of
 * its own for as long as it runs; a process whose key is held refuses to start
 * ({@linkcode BooksKeyInUseError}). The lock goes with the holder's session: a killed process's
 * is free at once, and a holder whose connection was lost (PostgreSQL restarted) takes it again
 * at its next check (every {@linkcode BOOKS_LEASE_CHECK_MS}).
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import type postgres from "postgres";
import { openPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/** How often the holder makes sure it still holds its key's lock, ms. */
export const BOOKS_LEASE_CHECK_MS = 10_000;

/** Options for {@linkcode holdPostgresBooksLease}. */
export interface PostgresBooksLeaseOptions {
  /** `postgres://user@host:port/db`: the town's shared store. */
  url: string;
  /** The process's books key (roles/town/shared_books_id.ts). */
  key: string;
  /** Where a lock lost to another process is reported. */
  log?: (line: string) => void;
  /** Seconds to wait for the connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
}

/** Another running process holds the books key: this one must not start on it. */
export class BooksKeyInUseError extends StateError {
  override name = "BooksKeyInUseError";
}

/** The lease could not be reached (no store). */
export class BooksLeaseError extends StateError {
  override name = "BooksLeaseError";
}

/** A held books key; {@linkcode PostgresBooksLease.close} lets it go. */
export class PostgresBooksLease {
  readonly #sql: Sql;
  readonly #o: PostgresBooksLeaseOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #warned = false;

  constructor(sql: Sql, options: PostgresBooksLeaseOptions) {
    this.#sql = sql;
    this.#o = options;
    this.#timer = setInterval(() => void this.#check(), BOOKS_LEASE_CHECK_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** True when this session holds the key's lock (taken now, or still held). */
  async tryHold(): Promise<boolean> {
    // Session locks stack: asking again while held keeps it (and adds one to its count).
    const [row] = await this.#sql.unsafe<{ held: boolean }[]>(
      "SELECT pg_try_advisory_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint) AS held",
      [`turnpike books ${this.#o.key}`],
    );
    return row.held;
  }

  /** Ends the session: the key is free for the next process. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sql.end({ timeout: 5 });
  }

  async #check(): Promise<void> {
    try {
      const held = await this.tryHold();
      if (!held && !this.#warned) {
        this.#o.log?.(
          `books key ${this.#o.key} is held by another process since this one's connection to ` +
            `the store was lost: two processes file their books under one key (a copied state ` +
            `dir); stop one (docs/OPERATIONS.md "The books' key")`,
        );
      }
      this.#warned = !held;
    } catch {
      // The store is away: asked again at the next check.
    }
  }
}

/**
 * Takes the books key's lock for this process's life, on a connection of its own.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/roles/town/shared_books_id_test.ts.
 * @throws {BooksKeyInUseError} when another running process holds the key.
 * @throws {BooksLeaseError} when the store cannot be reached.
 */
export async function holdPostgresBooksLease(
  options: PostgresBooksLeaseOptions,
): Promise<PostgresBooksLease> {
  const sql = await openPostgresSchema({
    url: options.url,
    maxConnections: 1,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
    what: "the books key's lock",
    schema: "SELECT 1",
    error: (message, cause) => new BooksLeaseError(message, { cause }),
  });
  const lease = new PostgresBooksLease(sql, options);
  let held: boolean;
  try {
    held = await lease.tryHold();
  } catch (err) {
    await lease.close().catch(() => {});
    throw new BooksLeaseError(`cannot take the books key's lock: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!held) {
    await lease.close().catch(() => {});
    throw new BooksKeyInUseError(
      `another running town process files its books under this state dir's key ` +
        `(${options.key}, its books_id): the state dir was copied from that process's. Give the ` +
        `copy its own books: remove books_id, peer_ledger.jsonl and peer_ledger.checkpoint.json ` +
        `from it (they are the other process's), then start it again (docs/OPERATIONS.md ` +
        `"The books' key")`,
    );
  }
  return lease;
}

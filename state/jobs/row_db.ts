/**
 * What the job records held as rows of a SQLite database share, the requester's index
 * (`state/jobs/job_repository.ts`) and the provider's (`state/jobs/provider_job_store.ts`): the
 * database opened in WAL mode at `synchronous = FULL` (a write durable when it returns: the
 * records live only there), statements prepared once, one transaction per write, and the
 * `unaudited` flags of rows whose audit commit landed cleared together (docs/ARCHITECTURE.md
 * "The requester's job records as rows").
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** How long a statement waits for another connection's lock before it fails (busy). */
export const ROW_DB_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creates) a row database, mode 0600, WAL; `durable` (the default) fsyncs each commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const db = openRowDb(`${dir}/rows.sqlite`);
 * assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openRowDb(path: string, durable = true): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    // Readers beside the writer (another process): wait for each other's locks, never fail busy.
    db.exec(`PRAGMA busy_timeout = ${ROW_DB_BUSY_TIMEOUT_MS}`);
    Deno.chmodSync(path, 0o600);
    // FULL: a write that returned survives an OS crash (the records live only here).
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${durable ? "FULL" : "NORMAL"};`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Opens a row database read-only for a reader beside its writer (another process), waiting as
 * long as the writer does for a moment's lock (a commit's checkpoint) instead of failing busy;
 * undefined when the file is not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(openRowDbReadOnly(`${dir}/rows.sqlite`), undefined);
 * openRowDb(`${dir}/rows.sqlite`).close();
 * const db = openRowDbReadOnly(`${dir}/rows.sqlite`)!;
 * assert.throws(() => db.exec("CREATE TABLE t (n INTEGER)"));
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openRowDbReadOnly(path: string): DatabaseSync | undefined {
  try {
    Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${ROW_DB_BUSY_TIMEOUT_MS}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Creates the `meta` table (key, value) if it is not there, writing nothing when it is: opening
 * never takes the write lock another process may hold.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * ensureMetaTable(db);
 * ensureMetaTable(db);
 * assert.equal(db.prepare("SELECT count(*) AS n FROM meta").get()?.n, 0);
 * db.close();
 * ```
 */
export function ensureMetaTable(db: DatabaseSync): void {
  const there = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
    .get();
  if (there === undefined) {
    db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }
}

/**
 * Whether an open threw because the file is not a usable database (SQLite's SQLITE_NOTADB and
 * SQLITE_CORRUPT; node:sqlite gives only their messages), not because it is busy, locked or
 * unreadable: only then is a row database taken as damaged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(isDamagedDatabase(new Error("file is not a database")), true);
 * assert.equal(isDamagedDatabase(new Error("database is locked")), false);
 * ```
 */
export function isDamagedDatabase(err: unknown): boolean {
  return err instanceof Error &&
    /file is not a database|database disk image is malformed/.test(err.message);
}

/**
 * Runs `fn` in one transaction: committed when it returns, rolled back when it throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * db.exec("CREATE TABLE t (n INTEGER)");
 * inTransaction(db, () => db.exec("INSERT INTO t VALUES (1)"));
 * assert.throws(() => inTransaction(db, () => {
 *   db.exec("INSERT INTO t VALUES (2)");
 *   throw new RangeError("no");
 * }), RangeError);
 * assert.equal(db.prepare("SELECT count(*) AS n FROM t").get()?.n, 1);
 * db.close();
 * ```
 */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN");
  let result: T;
  try {
    result = fn();
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
  db.exec("COMMIT");
  return result;
}

/**
 * A database's statements by SQL, prepared once (cleared when the database changes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * const statements = new Statements(() => db);
 * assert.equal(statements.get("SELECT 1 AS n"), statements.get("SELECT 1 AS n"));
 * db.close();
 * ```
 */
export class Statements {
  #db: () => DatabaseSync;
  #byText = new Map<string, StatementSync>();

  constructor(db: () => DatabaseSync) {
    this.#db = db;
  }

  /** The statement of `sql`, prepared at its first use. */
  get(sql: string): StatementSync {
    let statement = this.#byText.get(sql);
    if (statement === undefined) this.#byText.set(sql, statement = this.#db().prepare(sql));
    return statement;
  }

  /** Forgets every statement (the database was closed or replaced). */
  clear(): void {
    this.#byText.clear();
  }
}

/**
 * The rows whose audit commit landed (id, the version committed), their `unaudited` flags
 * cleared together in one transaction a microtask later, without an fsync: a flag a crash keeps
 * only makes the next open check the row again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * db.exec("CREATE TABLE jobs (id TEXT, version INTEGER, unaudited INTEGER)");
 * db.exec("INSERT INTO jobs VALUES ('a', 1, 1)");
 * const landed = new LandedFlags({ db: () => db, table: "jobs", durable: true });
 * landed.note("a", 1);
 * landed.clear();
 * assert.equal(db.prepare("SELECT unaudited FROM jobs").get()?.unaudited, 0);
 * db.close();
 * ```
 */
export class LandedFlags {
  #o: { db: () => DatabaseSync | undefined; table: string; durable: boolean };
  #landed: [string, number][] = [];

  constructor(o: { db: () => DatabaseSync | undefined; table: string; durable: boolean }) {
    this.#o = o;
  }

  /** A row's commit landed: its flag is cleared in the next microtask's transaction. */
  note(id: string, version: number): void {
    if (this.#landed.push([id, version]) === 1) queueMicrotask(() => this.clear());
  }

  /** Clears the flags noted so far, now. */
  clear(): void {
    const landed = this.#landed;
    this.#landed = [];
    const db = this.#o.db();
    if (landed.length === 0 || db === undefined) return;
    db.exec("PRAGMA synchronous = NORMAL");
    try {
      const clear = db.prepare(
        `UPDATE ${this.#o.table} SET unaudited = 0 WHERE id = ? AND version = ?`,
      );
      inTransaction(db, () => {
        for (const [id, version] of landed) clear.run(id, version);
      });
    } finally {
      db.exec(`PRAGMA synchronous = ${this.#o.durable ? "FULL" : "NORMAL"}`);
    }
  }
}

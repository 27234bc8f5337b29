/**
 * Open connections per remote address across the processes of a town on one PostgreSQL store
 * (docs/OPERATIONS.md "A town on several machines"), counted in the database at accept: each
 * connection takes a slot in one statement that increments the address's town-wide count only
 * while it is under the cap (`INSERT ... ON CONFLICT DO UPDATE ... WHERE count < cap`: the row's
 * lock orders concurrent takes, and the condition is checked against the newest count), so
 * connections opened on several processes at the same moment never pass the cap. The same
 * statement records the slot under this process (`turnpike_connection_holds`); a release gives
 * both back.
 *
 * Every `intervalMs` each process writes its heartbeat (`turnpike_processes`) and gives back the
 * slots of processes whose heartbeat is older than `staleMs` (died holding connections), in one
 * statement. Releases that failed (the database away) are retried then.
 *
 * While the database cannot be reached (no statement answered for `staleMs`)
 * {@linkcode PostgresConnectionCounts.reachable} is false and the caller falls back to its share
 * of the cap (roles/town/town_share.ts); connections admitted then hold no slot in the database.
 *
 * @module
 */
import type postgres from "postgres";
import {
  createWithProcessRegistry,
  DATABASE_NOW as NOW,
  forgetProcess,
  forgetSilentProcesses,
  writeHeartbeat,
} from "./postgres_processes.ts";

type Sql = ReturnType<typeof postgres>;

/** Options for {@linkcode PostgresConnectionCounts.open}. */
export interface PostgresConnectionCountsOptions {
  /** Between two heartbeats. Default 1 s. */
  intervalMs?: number;
  /** A heartbeat older than this no longer counts; its process's slots are given back. Default 5 s. */
  staleMs?: number;
  /** Told when a heartbeat fails. */
  log?: (line: string) => void;
}

// The process registry (state/postgres/postgres_processes.ts) is created with these.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_connection_slots (
  listener TEXT NOT NULL, address TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (listener, address));
CREATE TABLE IF NOT EXISTS turnpike_connection_holds (
  process TEXT NOT NULL, listener TEXT NOT NULL, address TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (process, listener, address));
`;

// One statement: the town-wide count goes up only below the cap ($4); the hold row follows
// only when it did. No row returned: the cap is reached.
const TAKE = `
WITH slot AS (
  INSERT INTO turnpike_connection_slots AS s (listener, address, count) VALUES ($2, $3, 1)
  ON CONFLICT (listener, address) DO UPDATE SET count = s.count + 1 WHERE s.count < $4
  RETURNING s.count),
hold AS (
  INSERT INTO turnpike_connection_holds AS h (process, listener, address, count)
  SELECT $1, $2, $3, 1 FROM slot
  ON CONFLICT (process, listener, address) DO UPDATE SET count = h.count + 1
  RETURNING 1)
SELECT count FROM slot`;

// The town-wide count goes down only when this process still holds a slot there (not when a
// sweep gave its slots back meanwhile). The count's row is locked first, as in TAKE, so the
// two never wait for each other in opposite orders.
const GIVE = `
WITH slot AS (
  UPDATE turnpike_connection_slots SET count = GREATEST(0, count - 1)
  WHERE listener = $2 AND address = $3 AND EXISTS (
    SELECT 1 FROM turnpike_connection_holds
    WHERE process = $1 AND listener = $2 AND address = $3 AND count > 0)
  RETURNING 1)
UPDATE turnpike_connection_holds SET count = count - 1
WHERE process = $1 AND listener = $2 AND address = $3 AND EXISTS (SELECT 1 FROM slot)`;

// The slots of processes whose heartbeat lapsed ($1 seconds) go back, holds and counts at once.
const SWEEP = `
WITH dead AS (
  DELETE FROM turnpike_connection_holds h WHERE NOT EXISTS (
    SELECT 1 FROM turnpike_processes p WHERE p.process = h.process AND p.heartbeat > ${NOW} - $1)
  RETURNING listener, address, count),
gone AS (SELECT listener, address, SUM(count)::int AS n FROM dead GROUP BY listener, address)
UPDATE turnpike_connection_slots s SET count = GREATEST(0, s.count - gone.n)
FROM gone WHERE s.listener = gone.listener AND s.address = gone.address`;

/**
 * The town-wide connection counts of this process's listeners.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export class PostgresConnectionCounts {
  /** This process's id in the tables. */
  readonly process = crypto.randomUUID();
  readonly #sql: Sql;
  readonly #intervalMs: number;
  readonly #staleMs: number;
  readonly #log: (line: string) => void;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;
  #beats = 0;
  /** When a statement last answered. */
  #answeredAt = 0;
  /** Releases the database did not take, retried at each heartbeat. */
  #unreleased: [string, string][] = [];

  private constructor(sql: Sql, options: PostgresConnectionCountsOptions) {
    this.#sql = sql;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#staleMs = options.staleMs ?? 5_000;
    this.#log = options.log ?? (() => {});
  }

  /** Creates the tables if needed and starts the heartbeats. */
  static async open(
    sql: Sql,
    options: PostgresConnectionCountsOptions = {},
  ): Promise<PostgresConnectionCounts> {
    await createWithProcessRegistry(sql, SCHEMA);
    const counts = new PostgresConnectionCounts(sql, options);
    const timer = setInterval(() => {
      counts.#running ??= counts.exchange().catch((err) =>
        counts.#log(`connection counts: no heartbeat: ${(err as Error).message}`)
      ).finally(() => counts.#running = undefined);
    }, counts.#intervalMs);
    Deno.unrefTimer(timer);
    counts.#timer = timer;
    return counts;
  }

  /** True while the database answered within `staleMs` (the shared counts hold). */
  reachable(): boolean {
    return Date.now() - this.#answeredAt <= this.#staleMs;
  }

  /**
   * Takes a slot for a connection from `address` on `listener` (`btp`, `http`) when the town
   * has fewer than `cap` there: its release (call it once, on close), or "address" at the cap.
   * Rejects when the database cannot be reached (nothing taken, as far as this process knows).
   */
  async take(listener: string, address: string, cap: number): Promise<(() => void) | "address"> {
    const rows = await this.#sql.unsafe(TAKE, [this.process, listener, address, cap]);
    this.#answeredAt = Date.now();
    if (rows.length === 0) return "address";
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#give(listener, address).catch(() => this.#unreleased.push([listener, address]));
    };
  }

  async #give(listener: string, address: string): Promise<void> {
    await this.#sql.unsafe(GIVE, [this.process, listener, address]);
    this.#answeredAt = Date.now();
  }

  /** One heartbeat: this process's, the lapsed processes' slots given back, releases retried. */
  async exchange(): Promise<void> {
    await writeHeartbeat(this.#sql, this.process);
    this.#answeredAt = Date.now();
    const retry = this.#unreleased.splice(0);
    for (const [i, [listener, address]] of retry.entries()) {
      try {
        await this.#give(listener, address);
      } catch (err) {
        this.#unreleased.push(...retry.slice(i));
        throw err;
      }
    }
    await this.#sql.unsafe(SWEEP, [this.#staleMs / 1000]);
    if (++this.#beats % 60 === 0) {
      await this.#sql.unsafe("DELETE FROM turnpike_connection_slots WHERE count <= 0");
      await forgetSilentProcesses(this.#sql, (this.#staleMs / 1000) * 6);
    }
  }

  /** Stops the heartbeats and gives back this process's slots. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
    await this.#sql.unsafe(
      "WITH mine AS (DELETE FROM turnpike_connection_holds WHERE process = $1 " +
        "RETURNING listener, address, count) UPDATE turnpike_connection_slots s " +
        "SET count = GREATEST(0, s.count - mine.count) FROM mine " +
        "WHERE s.listener = mine.listener AND s.address = mine.address",
      [this.process],
    ).catch(() => {});
    await forgetProcess(this.#sql, this.process).catch(() => {});
  }
}

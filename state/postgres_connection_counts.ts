/**
 * Open connections per remote address across the processes of a town on one PostgreSQL store
 * (docs/OPERATIONS.md "A town on several machines"): every `intervalMs` each process writes its
 * own counts (`turnpike_connections`, one row per process, listener and address) and its
 * heartbeat (`turnpike_processes`), and reads the sums of the other processes whose heartbeat is
 * fresher than `staleMs`; a process that died stops counting once its heartbeat lapses (its rows
 * are deleted later by whichever process sweeps). The caps then hold town-wide, with a lag of one
 * interval: connections opened on several processes within it may pass the cap until the next
 * exchange, never for longer.
 *
 * While the database cannot be reached the last sums are kept until they are `staleMs` old;
 * after that {@linkcode PostgresConnectionCounts.elsewhere} answers undefined and the caller
 * falls back to its share of the cap (roles/town/town_share.ts).
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/** Options for {@linkcode PostgresConnectionCounts.open}. */
export interface PostgresConnectionCountsOptions {
  /** Between two exchanges. Default 1 s. */
  intervalMs?: number;
  /** A heartbeat older than this no longer counts. Default 5 s. */
  staleMs?: number;
  /** Told when an exchange fails. */
  log?: (line: string) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_processes (
  process TEXT PRIMARY KEY, heartbeat DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS turnpike_connections (
  process TEXT NOT NULL, listener TEXT NOT NULL, address TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (process, listener, address));
`;

const NOW = "extract(epoch FROM clock_timestamp())::float8";

/**
 * The town-wide connection counts of this process's listeners.
 *
 * @example
 * ```ts
 * declare const store: { sql: Parameters<typeof PostgresConnectionCounts.open>[0] };
 * declare const btp: { addressCounts(): [string, number][] };
 * const counts = await PostgresConnectionCounts.open(store.sql);
 * counts.register("btp", () => btp.addressCounts());
 * const others = counts.elsewhere("btp", "10.0.0.7");
 * ```
 */
export class PostgresConnectionCounts {
  /** This process's id in the tables. */
  readonly process = crypto.randomUUID();
  readonly #sql: Sql;
  readonly #intervalMs: number;
  readonly #staleMs: number;
  readonly #log: (line: string) => void;
  readonly #listeners = new Map<string, () => [string, number][]>();
  /** `listener address` → connections on the other live processes. */
  #others = new Map<string, number>();
  #othersAt = 0;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;
  #exchanges = 0;

  private constructor(sql: Sql, options: PostgresConnectionCountsOptions) {
    this.#sql = sql;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#staleMs = options.staleMs ?? 5_000;
    this.#log = options.log ?? (() => {});
  }

  /** Creates the tables if needed and starts the exchanges. */
  static async open(
    sql: Sql,
    options: PostgresConnectionCountsOptions = {},
  ): Promise<PostgresConnectionCounts> {
    await createPostgresSchema(sql, SCHEMA);
    const counts = new PostgresConnectionCounts(sql, options);
    const timer = setInterval(() => {
      counts.#running ??= counts.exchange().catch((err) =>
        counts.#log(`connection counts not exchanged: ${(err as Error).message}`)
      ).finally(() => counts.#running = undefined);
    }, counts.#intervalMs);
    Deno.unrefTimer(timer);
    counts.#timer = timer;
    return counts;
  }

  /** Counts of one listener (`btp`, `http`), read at each exchange. */
  register(listener: string, counts: () => [string, number][]): void {
    this.#listeners.set(listener, counts);
  }

  /**
   * Connections from `address` on the other processes' `listener`, as of the last exchange;
   * undefined when that exchange is older than `staleMs` (the database cannot be reached).
   */
  elsewhere(listener: string, address: string): number | undefined {
    if (Date.now() - this.#othersAt > this.#staleMs) return undefined;
    return this.#others.get(`${listener} ${address}`) ?? 0;
  }

  /** One exchange: writes this process's counts and heartbeat, reads the others' sums. */
  async exchange(): Promise<void> {
    const rows: [string, string, number][] = [];
    for (const [listener, counts] of this.#listeners) {
      for (const [address, count] of counts()) if (count > 0) rows.push([listener, address, count]);
    }
    const others = await this.#sql.begin(async (tx) => {
      await tx.unsafe(
        `INSERT INTO turnpike_processes (process, heartbeat) VALUES ($1, ${NOW}) ` +
          "ON CONFLICT (process) DO UPDATE SET heartbeat = EXCLUDED.heartbeat",
        [this.process],
      );
      await tx.unsafe("DELETE FROM turnpike_connections WHERE process = $1", [this.process]);
      if (rows.length > 0) {
        await tx.unsafe(
          "INSERT INTO turnpike_connections (process, listener, address, count) " +
            "SELECT $1, l, a, c FROM unnest($2::text[], $3::text[], $4::int[]) AS t(l, a, c)",
          [
            this.process,
            rows.map((r) => r[0]),
            rows.map((r) => r[1]),
            rows.map((r) => r[2]),
          ],
        );
      }
      return await tx.unsafe(
        "SELECT c.listener, c.address, SUM(c.count)::int AS n FROM turnpike_connections c " +
          "JOIN turnpike_processes p USING (process) WHERE c.process <> $1 " +
          `AND p.heartbeat > ${NOW} - $2 GROUP BY c.listener, c.address`,
        [this.process, this.#staleMs / 1000],
      );
    });
    this.#others = new Map(others.map((r) => [`${r.listener} ${r.address}`, Number(r.n)]));
    this.#othersAt = Date.now();
    if (++this.#exchanges % 60 === 0) {
      // Dead processes' rows, long after their heartbeat lapsed.
      await this.#sql.unsafe(
        "DELETE FROM turnpike_connections WHERE process IN (SELECT process FROM " +
          `turnpike_processes WHERE heartbeat < ${NOW} - $1)`,
        [(this.#staleMs / 1000) * 6],
      );
      await this.#sql.unsafe(
        `DELETE FROM turnpike_processes WHERE heartbeat < ${NOW} - $1`,
        [(this.#staleMs / 1000) * 6],
      );
    }
  }

  /** Stops the exchanges and removes this process's rows. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
    await this.#sql.unsafe("DELETE FROM turnpike_connections WHERE process = $1", [this.process])
      .catch(() => {});
    await this.#sql.unsafe("DELETE FROM turnpike_processes WHERE process = $1", [this.process])
      .catch(() => {});
  }
}

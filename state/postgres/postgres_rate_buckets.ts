/**
 * Token buckets shared by the processes of one town (docs/OPERATIONS.md, "A town on several
 * machines"): one row per key in PostgreSQL, `turnpike_rate_buckets`, refilled and taken from in
 * one statement (the row's lock orders concurrent takes), with the database's clock, so a limit
 * holds for the town as a whole whichever processes a client reaches, instead of each process
 * enforcing a share of it. Rows idle long enough to be full again are deleted now and then.
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/** Options for {@linkcode PostgresRateBuckets}. */
export interface PostgresRateBucketsOptions {
  /** Takes between two sweeps of idle rows. Default 1000. */
  sweepEvery?: number;
  /** A row untouched this long is deleted at a sweep (it would be full). Default 600 s. */
  idleSeconds?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_rate_buckets (
  key TEXT PRIMARY KEY,
  tokens DOUBLE PRECISION NOT NULL,
  at DOUBLE PRECISION NOT NULL,
  taken BOOLEAN NOT NULL
)`;

// One statement: insert a full bucket less one, or refill the row by the time since its last
// take (capped), then take one token when there is one; `taken` says whether it was.
const TAKE = `
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS t)
INSERT INTO turnpike_rate_buckets AS b (key, tokens, at, taken)
SELECT $1, $3::float8 - 1, clock.t, true FROM clock
ON CONFLICT (key) DO UPDATE SET
  tokens = LEAST($3::float8, b.tokens + $2::float8 * (EXCLUDED.at - b.at))
    - CASE WHEN LEAST($3::float8, b.tokens + $2::float8 * (EXCLUDED.at - b.at)) >= 1
      THEN 1 ELSE 0 END,
  taken = LEAST($3::float8, b.tokens + $2::float8 * (EXCLUDED.at - b.at)) >= 1,
  at = EXCLUDED.at
RETURNING taken`;

/**
 * Shared token buckets on the town's PostgreSQL store.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/roles/town/postgres_rate_buckets_test.ts.
 */
export class PostgresRateBuckets {
  readonly #sql: Sql;
  readonly #sweepEvery: number;
  readonly #idleSeconds: number;
  #takes = 0;

  private constructor(sql: Sql, options: PostgresRateBucketsOptions) {
    this.#sql = sql;
    this.#sweepEvery = options.sweepEvery ?? 1000;
    this.#idleSeconds = options.idleSeconds ?? 600;
  }

  /** Creates the table if it is not there. */
  static async open(
    sql: Sql,
    options: PostgresRateBucketsOptions = {},
  ): Promise<PostgresRateBuckets> {
    await createPostgresSchema(sql, SCHEMA);
    return new PostgresRateBuckets(sql, options);
  }

  /**
   * Takes one token from `key`'s bucket (`capacity` tokens, refilled at `ratePerSecond`); false
   * when it is empty (nothing taken). Rejects when the database cannot be reached.
   */
  async take(key: string, ratePerSecond: number, capacity: number): Promise<boolean> {
    if (++this.#takes % this.#sweepEvery === 0) {
      this.#sql.unsafe(
        "DELETE FROM turnpike_rate_buckets WHERE at < extract(epoch FROM clock_timestamp()) - $1",
        [this.#idleSeconds],
      ).catch(() => {});
    }
    const [row] = await this.#sql.unsafe<{ taken: boolean }[]>(TAKE, [
      key,
      ratePerSecond,
      Math.max(1, capacity),
    ]);
    return row.taken;
  }

  /**
   * Gives one token back to `key`'s bucket (at most `capacity`): what was taken for something
   * that did not happen after all. Rejects when the database cannot be reached.
   */
  async refund(key: string, capacity: number): Promise<void> {
    await this.#sql.unsafe(
      "UPDATE turnpike_rate_buckets SET tokens = LEAST($2::float8, tokens + 1) WHERE key = $1",
      [key, Math.max(1, capacity)],
    );
  }
}

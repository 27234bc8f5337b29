/**
 * Which process of a town on one PostgreSQL store owes a peer each condition it was paid
 * (docs/PROTOCOL.md "A payment in doubt on another process"): one row per account and condition
 * in `turnpike_paid_conditions`, naming the books (their key, roles/town/shared_books_id.ts)
 * that owe it. A process records the conditions whose FULFILL it booked; a process proving a
 * payment in doubt claims the condition first, and owes it only when no other books hold it. A
 * peer fulfills an invoice once, so a condition is owed once by the whole town: another
 * process's packet of the same condition, with the same expiry (or a peer naming the wrong one),
 * is not owed twice.
 *
 * Rows older than {@linkcode PAID_CONDITION_DAYS} days are deleted when a process opens the
 * table and every hour after (roles/town/btp/paid_once.ts): a payment in doubt proven later than
 * that is decided by its expiry alone.
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";

type Sql = ReturnType<typeof postgres>;

/**
 * Days a condition's row is kept.
 *
 * @example
 * ```ts
 * import { PAID_CONDITION_DAYS } from "./postgres_paid_conditions.ts";
 *
 * if (PAID_CONDITION_DAYS < 1) throw new Error("shorter than a town's restart");
 * ```
 */
export const PAID_CONDITION_DAYS = 7;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_paid_conditions (
  account TEXT NOT NULL,
  condition TEXT NOT NULL,
  books TEXT NOT NULL,
  kind TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (account, condition));
CREATE INDEX IF NOT EXISTS turnpike_paid_conditions_at ON turnpike_paid_conditions (at)`;

/** A condition a process booked paid. */
export interface PaidCondition {
  account: string;
  condition: string;
}

/**
 * Who holds a condition: the books, and how they came to (`booked`: a FULFILL of one of its
 * packets; `claimed`: a payment in doubt it proved).
 */
export interface PaidConditionHolder {
  books: string;
  kind: "booked" | "claimed";
}

/**
 * The rows, on the town's shared connection pool.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_paid_conditions_test.ts.
 */
export class PostgresPaidConditions {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /**
   * Records conditions `books` booked paid, in one statement; answers those already held by
   * other books (owed on two processes' books: a payment in doubt proven there before this
   * process's FULFILL came, which the expiry check did not tell apart).
   */
  async record(books: string, paid: readonly PaidCondition[]): Promise<PaidCondition[]> {
    if (paid.length === 0) return [];
    const rows = await this.#sql.unsafe<{ account: string; condition: string }[]>(
      `WITH given AS (
         SELECT * FROM unnest($2::text[], $3::text[]) AS g(account, condition)),
       added AS (
         INSERT INTO turnpike_paid_conditions (account, condition, books, kind)
         SELECT account, condition, $1, 'booked' FROM given ON CONFLICT DO NOTHING RETURNING 1)
       SELECT p.account, p.condition FROM turnpike_paid_conditions p
         JOIN given g ON p.account = g.account AND p.condition = g.condition
        WHERE p.books <> $1`,
      [books, paid.map((p) => p.account), paid.map((p) => p.condition)],
    );
    return rows.map((r) => ({ account: r.account, condition: r.condition }));
  }

  /**
   * Claims a condition for `books` (`claimed`) unless some books hold it already; answers who
   * holds it now.
   */
  async claim(books: string, account: string, condition: string): Promise<PaidConditionHolder> {
    const added = await this.#sql.unsafe(
      `INSERT INTO turnpike_paid_conditions (account, condition, books, kind)
       VALUES ($2, $3, $1, 'claimed') ON CONFLICT DO NOTHING RETURNING 1`,
      [books, account, condition],
    );
    if (added.length > 0) return { books, kind: "claimed" };
    // A statement of its own: its snapshot holds the row a concurrent claim committed.
    const [held] = await this.#sql.unsafe<PaidConditionHolder[]>(
      `SELECT books, kind FROM turnpike_paid_conditions WHERE account = $1 AND condition = $2`,
      [account, condition],
    );
    if (held === undefined) throw new Error(`paid condition ${condition.slice(0, 16)} vanished`);
    return { books: held.books, kind: held.kind === "claimed" ? "claimed" : "booked" };
  }

  /** Of an account's conditions, those some books hold (booked or claimed). */
  async held(account: string, conditions: readonly string[]): Promise<Set<string>> {
    const rows = await this.#sql.unsafe<{ condition: string }[]>(
      `SELECT condition FROM turnpike_paid_conditions
        WHERE account = $1 AND condition = ANY($2::text[])`,
      [account, [...conditions]],
    );
    return new Set(rows.map((r) => r.condition));
  }

  /** Deletes rows older than {@linkcode PAID_CONDITION_DAYS} days; answers how many. */
  async prune(): Promise<number> {
    const rows = await this.#sql.unsafe(
      `DELETE FROM turnpike_paid_conditions
        WHERE at < now() - make_interval(days => ${PAID_CONDITION_DAYS}) RETURNING 1`,
    );
    return rows.length;
  }
}

/**
 * Creates the table if it is not there and deletes the rows past their days.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_paid_conditions_test.ts.
 */
export async function openPostgresPaidConditions(sql: Sql): Promise<PostgresPaidConditions> {
  await createPostgresSchema(sql, SCHEMA);
  const conditions = new PostgresPaidConditions(sql);
  await conditions.prune();
  return conditions;
}

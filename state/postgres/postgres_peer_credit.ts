/**
 * The credit counts of state/payments/peer_credit.ts for the processes of one town on one PostgreSQL
 * store (docs/OPERATIONS.md "A town on several machines"): one row per peer in
 * `turnpike_peer_credit`, taken from in one statement that adds the amount only while the total
 * stays within the limit (`INSERT ... ON CONFLICT DO UPDATE ... WHERE spent + amount <= limit`:
 * the row's lock orders concurrent takes and the condition is checked against the newest
 * total), so packets sent through several processes at the same moment never pass the limit
 * together. Within a process, the takes that wait for an account's statement go together in the
 * next one (docs/OPERATIONS.md: 19,761 packets/s against 735 one statement each).
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";
import { type CreditTake, payOutStep, type PeerCredit } from "../payments/peer_credit.ts";
import {
  closeEpisode,
  type CreditLineAsk,
  type CreditRow,
  type CreditStanding,
  lineTake,
  NEW_STANDING,
} from "../payments/credit_line.ts";

type Sql = ReturnType<typeof postgres>;
type Tx = postgres.TransactionSql;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_peer_credit (
  account TEXT PRIMARY KEY, spent NUMERIC(78, 0) NOT NULL);
ALTER TABLE turnpike_peer_credit ADD COLUMN IF NOT EXISTS paid NUMERIC(78, 0) NOT NULL DEFAULT 0;
ALTER TABLE turnpike_peer_credit ADD COLUMN IF NOT EXISTS repaid NUMERIC(78, 0) NOT NULL DEFAULT 0;
ALTER TABLE turnpike_peer_credit ADD COLUMN IF NOT EXISTS since BIGINT;
ALTER TABLE turnpike_peer_credit ADD COLUMN IF NOT EXISTS mark NUMERIC(78, 0) NOT NULL DEFAULT 0`;

// The row of a take on a learned line, locked until its transaction ends.
const LOCK_ROW = `
SELECT spent::text, paid::text, repaid::text, since::text, mark::text
  FROM turnpike_peer_credit WHERE account = $1 FOR UPDATE`;

const SET_ROW = `
UPDATE turnpike_peer_credit SET spent = $2::numeric, repaid = $3::numeric, since = $4::bigint,
  mark = $5::numeric WHERE account = $1`;

// No row returned: the take would pass the limit ($3), nothing counted.
const TAKE = `
INSERT INTO turnpike_peer_credit AS c (account, spent)
SELECT $1, $2::numeric WHERE $2::numeric <= $3::numeric
ON CONFLICT (account) DO UPDATE SET spent = c.spent + EXCLUDED.spent
  WHERE c.spent + EXCLUDED.spent <= $3::numeric
RETURNING spent::text`;

const GIVE = `UPDATE turnpike_peer_credit SET spent = spent - $2::numeric WHERE account = $1`;

const SPENT = `SELECT spent::text FROM turnpike_peer_credit WHERE account = $1`;

/** A take waiting for its account's statement. */
interface Pending {
  amount: bigint;
  limit: bigint | CreditLineAsk;
  done: PromiseWithResolvers<CreditTake>;
}

/**
 * Opens the shared credit counts (creates the table when missing). The connection is the
 * store's; closing the counts leaves it open.
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/state/postgres/peer_credit_test.ts.
 */
export async function openPostgresPeerCredit(sql: Sql): Promise<PeerCredit> {
  await createPostgresSchema(sql, SCHEMA);
  const spent = async (account: string): Promise<bigint> => {
    const rows = await sql.unsafe<{ spent: string }[]>(SPENT, [account]);
    return BigInt(rows[0]?.spent ?? "0");
  };
  /** The account's row under its lock (made when missing), in `tx`. */
  const lockRow = async (tx: Tx, account: string): Promise<CreditRow> => {
    await tx.unsafe(
      `INSERT INTO turnpike_peer_credit (account, spent) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
      [account],
    );
    const [r] = await tx.unsafe<Record<"spent" | "paid" | "repaid" | "since" | "mark", string>[]>(
      LOCK_ROW,
      [account],
    );
    return {
      spent: BigInt(r.spent),
      paid: BigInt(r.paid),
      standing: {
        repaid: BigInt(r.repaid),
        ...(r.since === null ? {} : { since: Number(r.since) }),
        mark: BigInt(r.mark),
      },
    };
  };
  const readStanding = async (account: string): Promise<CreditStanding> => {
    const [r] = await sql.unsafe<Record<"repaid" | "since" | "mark", string>[]>(
      `SELECT repaid::text, since::text, mark::text FROM turnpike_peer_credit WHERE account = $1`,
      [account],
    );
    if (r === undefined) return NEW_STANDING;
    return {
      repaid: BigInt(r.repaid),
      ...(r.since === null ? {} : { since: Number(r.since) }),
      mark: BigInt(r.mark),
    };
  };
  const setRow = (tx: Tx, account: string, row: CreditRow) =>
    tx.unsafe(SET_ROW, [
      account,
      row.spent.toString(),
      row.standing.repaid.toString(),
      row.standing.since === undefined ? null : String(row.standing.since),
      row.standing.mark.toString(),
    ]);
  // A learned line is decided from the row's standing under its lock, as the payout is.
  const takeLine = (account: string, amount: bigint, ask: CreditLineAsk): Promise<CreditTake> =>
    sql.begin(async (tx) => {
      const row = await lockRow(tx, account);
      const step = lineTake(row, amount, ask);
      if (step.row.standing !== row.standing || step.taken) await setRow(tx, account, step.row);
      return step.taken ? { spent: step.row.spent } : { refused: row.spent, limit: step.limit };
    });
  const takeOne = async (
    account: string,
    amount: bigint,
    limit: bigint | CreditLineAsk,
  ): Promise<CreditTake> => {
    if (typeof limit !== "bigint") return await takeLine(account, amount, limit);
    const rows = await sql.unsafe<{ spent: string }[]>(TAKE, [
      account,
      amount.toString(),
      limit.toString(),
    ]);
    return rows.length > 0 ? { spent: BigInt(rows[0].spent) } : { refused: await spent(account) };
  };
  // Takes for one account while its statement runs wait and go together in the next one (their
  // sum, under the smallest limit among them): every statement takes the account's row lock, so
  // one per packet would serialize them. A batch refused whole is taken one by one.
  const waiting = new Map<string, Pending[]>();
  const running = new Set<string>();
  const drain = async (account: string) => {
    running.add(account);
    try {
      for (let batch = waiting.get(account); batch?.length; batch = waiting.get(account)) {
        waiting.delete(account);
        const sum = batch.reduce((n, p) => n + p.amount, 0n);
        const limit = batch.reduce(smallerLimit, batch[0].limit);
        try {
          const whole = batch.length === 1 ? undefined : await takeOne(account, sum, limit);
          if (whole && "spent" in whole) {
            // Each resolves with the total after its own amount, in arrival order.
            let after = whole.spent - sum;
            for (const p of batch) p.done.resolve({ spent: after += p.amount });
            continue;
          }
          for (const p of batch) p.done.resolve(await takeOne(account, p.amount, p.limit));
        } catch (err) {
          for (const p of batch) p.done.reject(err);
        }
      }
    } finally {
      running.delete(account);
    }
  };
  return {
    take(account, amount, limit): Promise<CreditTake> {
      const done = Promise.withResolvers<CreditTake>();
      const queue = waiting.get(account) ?? [];
      queue.push({ amount, limit, done });
      waiting.set(account, queue);
      if (!running.has(account)) void drain(account);
      return done.promise;
    },
    async give(account, amount) {
      await sql.unsafe(GIVE, [account, amount.toString()]);
    },
    spent,
    async review(account, ask) {
      // Most earnings find no episode open: one read, no lock.
      const now = await readStanding(account);
      if (now.since === undefined) return now;
      return await sql.begin(async (tx) => {
        const row = await lockRow(tx, account);
        const standing = closeEpisode(row, ask);
        if (standing !== row.standing) await setRow(tx, account, { ...row, standing });
        return standing;
      });
    },
    standing: readStanding,
    async paid(account) {
      const rows = await sql.unsafe<{ paid: string }[]>(
        `SELECT paid::text FROM turnpike_peer_credit WHERE account = $1`,
        [account],
      );
      return BigInt(rows[0]?.paid ?? "0");
    },
    async payOut(account, amounts) {
      // Under the account's row lock, as every take is: a payout and a take never both pass.
      return await sql.begin(async (tx) => {
        await tx.unsafe(
          `INSERT INTO turnpike_peer_credit (account, spent) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
          [account],
        );
        const [row] = await tx.unsafe<{ spent: string; paid: string }[]>(
          `SELECT spent::text, paid::text FROM turnpike_peer_credit WHERE account = $1 FOR UPDATE`,
          [account],
        );
        const counts = { spent: BigInt(row.spent), paid: BigInt(row.paid) };
        const step = payOutStep(counts, amounts);
        if (step.add === 0n) return counts.paid;
        await tx.unsafe(
          `UPDATE turnpike_peer_credit SET spent = spent + $2::numeric, paid = $3::numeric
            WHERE account = $1`,
          [account, step.add.toString(), step.paid.toString()],
        );
        return step.paid;
      });
    },
    close: () => Promise.resolve(),
  };
}

/**
 * The smaller of two limits for a batch of takes: the smaller bound, or the learned line with
 * the least owed (one town's terms and clock).
 */
function smallerLimit(
  n: bigint | CreditLineAsk,
  p: Pending,
): bigint | CreditLineAsk {
  const a = n, b = p.limit;
  if (typeof a === "bigint" && typeof b === "bigint") return b < a ? b : a;
  if (typeof a === "bigint") return a;
  if (typeof b === "bigint") return b;
  return b.owed < a.owed ? b : a;
}

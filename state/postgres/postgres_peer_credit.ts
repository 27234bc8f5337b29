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

type Sql = ReturnType<typeof postgres>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_peer_credit (
  account TEXT PRIMARY KEY, spent NUMERIC(78, 0) NOT NULL);
ALTER TABLE turnpike_peer_credit ADD COLUMN IF NOT EXISTS paid NUMERIC(78, 0) NOT NULL DEFAULT 0`;

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
  limit: bigint;
  done: PromiseWithResolvers<CreditTake>;
}

/**
 * Opens the shared credit counts (creates the table when missing). The connection is the
 * store's; closing the counts leaves it open.
 *
 * @example
 * ```ts
 * import { openPostgresPeerCredit } from "./postgres_peer_credit.ts";
 *
 * declare const sql: Parameters<typeof openPostgresPeerCredit>[0];
 * const credit = await openPostgresPeerCredit(sql);
 * const take = await credit.take("child", 600n, 1_000n);
 * if ("refused" in take) console.log(`spent ${take.refused} already`);
 * ```
 */
export async function openPostgresPeerCredit(sql: Sql): Promise<PeerCredit> {
  await createPostgresSchema(sql, SCHEMA);
  const spent = async (account: string): Promise<bigint> => {
    const rows = await sql.unsafe<{ spent: string }[]>(SPENT, [account]);
    return BigInt(rows[0]?.spent ?? "0");
  };
  const takeOne = async (account: string, amount: bigint, limit: bigint): Promise<CreditTake> => {
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
        const limit = batch.reduce((n, p) => p.limit < n ? p.limit : n, batch[0].limit);
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

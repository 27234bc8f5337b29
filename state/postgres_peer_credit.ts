/**
 * The credit counts of state/peer_credit.ts for the processes of one town on one PostgreSQL
 * store (docs/OPERATIONS.md "A town on several machines"): one row per peer in
 * `turnpike_peer_credit`, taken from in one statement that adds the amount only while the total
 * stays within the limit (`INSERT ... ON CONFLICT DO UPDATE ... WHERE spent + amount <= limit`:
 * the row's lock orders concurrent takes and the condition is checked against the newest
 * total), so packets sent through several processes at the same moment never pass the limit
 * together.
 *
 * @module
 */
import type postgres from "postgres";
import { createPostgresSchema } from "./postgres_schema.ts";
import type { CreditTake, PeerCredit } from "./peer_credit.ts";

type Sql = ReturnType<typeof postgres>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turnpike_peer_credit (
  account TEXT PRIMARY KEY, spent NUMERIC(78, 0) NOT NULL)`;

// No row returned: the take would pass the limit ($3), nothing counted.
const TAKE = `
INSERT INTO turnpike_peer_credit AS c (account, spent)
SELECT $1, $2::numeric WHERE $2::numeric <= $3::numeric
ON CONFLICT (account) DO UPDATE SET spent = c.spent + EXCLUDED.spent
  WHERE c.spent + EXCLUDED.spent <= $3::numeric
RETURNING spent::text`;

const GIVE = `UPDATE turnpike_peer_credit SET spent = spent - $2::numeric WHERE account = $1`;

const SPENT = `SELECT spent::text FROM turnpike_peer_credit WHERE account = $1`;

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
  return {
    async take(account, amount, limit): Promise<CreditTake> {
      const rows = await sql.unsafe<{ spent: string }[]>(TAKE, [
        account,
        amount.toString(),
        limit.toString(),
      ]);
      return rows.length > 0 ? { spent: BigInt(rows[0].spent) } : { refused: await spent(account) };
    },
    async give(account, amount) {
      await sql.unsafe(GIVE, [account, amount.toString()]);
    },
    spent,
    close: () => Promise.resolve(),
  };
}

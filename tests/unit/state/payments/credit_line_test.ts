/**
 * A credit line learned from a peer's history (state/payments/credit_line.ts) on both credit
 * stores (state/payments/peer_credit.ts, state/postgres/postgres_peer_credit.ts), with a scripted
 * clock: a newcomer gets the floor; use repaid within the grace grows the line, never past the
 * ceiling; a peer in credit past the grace gets the floor at once and its history is erased when
 * it is covered; the standing survives a reopen; on PostgreSQL, takes through two connections
 * (two processes) at once never pass the line.
 */
import postgres from "postgres";
import { assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { openFilePeerCredit, type PeerCredit } from "../../../../state/payments/peer_credit.ts";
import { openPostgresPeerCredit } from "../../../../state/postgres/postgres_peer_credit.ts";
import type { CreditLineAsk } from "../../../../state/payments/credit_line.ts";

const terms = { floor: 1_000n, ceiling: 4_000n, graceMs: 60_000 };
const ask = (owed: bigint, now: number): CreditLineAsk => ({ owed, terms, now });
const ok = (t: { spent: bigint } | { refused: bigint }) => "spent" in t;

/** The scripted history, on one store; `reopen` gives the same store anew. */
async function history(first: PeerCredit, reopen: () => Promise<PeerCredit>) {
  let credit = first;
  // A newcomer: the floor.
  assertEquals(await credit.take("p", 1_000n, ask(0n, 0)), { spent: 1_000n });
  assertEquals(await credit.take("p", 1n, ask(0n, 1)), { refused: 1_000n, limit: 1_000n });
  // Earned 1,000 at 10 s: repaid in time, the line is 2,000 beyond what it earned.
  assertEquals((await credit.review("p", ask(1_000n, 10_000))).repaid, 1_000n);
  assertEquals(await credit.take("p", 2_000n, ask(1_000n, 11_000)), { spent: 3_000n });
  assertEquals(ok(await credit.take("p", 1n, ask(1_000n, 11_000))), false);
  // Earned 2,000 more: 3,000 repaid, the line is the ceiling, 4,000, not 4,000 + 1,000.
  await credit.review("p", ask(3_000n, 20_000));
  await credit.close();
  credit = await reopen();
  assertEquals((await credit.standing("p")).repaid, 3_000n);
  assertEquals(await credit.take("p", 4_000n, ask(3_000n, 21_000)), { spent: 7_000n });
  assertEquals(ok(await credit.take("p", 1n, ask(3_000n, 21_000))), false);
  // Still in credit past the grace: the floor at once, before it is covered...
  assertEquals(
    await credit.take("p", 1n, ask(5_000n, 82_000)),
    { refused: 7_000n, limit: 6_000n },
  );
  // ...and once covered, late: its history is gone.
  await credit.review("p", ask(7_000n, 90_000));
  assertEquals(await credit.standing("p"), { repaid: 0n, mark: 0n });
  assertEquals(await credit.take("p", 1_000n, ask(7_000n, 91_000)), { spent: 8_000n });
  assertEquals(ok(await credit.take("p", 1n, ask(7_000n, 91_000))), false);
  // A rejected packet given back before it was covered: closed in time, nothing repaid for it.
  await credit.take("q", 500n, ask(0n, 0));
  await credit.give("q", 500n);
  assertEquals(await credit.review("q", ask(0n, 1)), { repaid: 0n, mark: 0n });
  await credit.close();
}

Deno.test("learned credit line on the file: grows with repaid use, never past the ceiling, the floor on a default, kept across a reopen", async () => {
  const stateDir = await Deno.makeTempDir();
  const open = () => openFilePeerCredit({ stateDir });
  await history(await open(), open);
});

Deno.test("learned credit line on PostgreSQL: the same history, and two processes taking at once never pass the line", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools: ReturnType<typeof postgres>[] = [];
  const open = () => {
    const sql = postgres(url, { max: 4, onnotice: () => {} });
    pools.push(sql);
    return openPostgresPeerCredit(sql);
  };
  try {
    await history(await open(), open);
    const [a, b] = [await open(), await open()];
    // 40 takes of 100 against a newcomer's line of 1,000, half through each, all at once.
    const takes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take("r", 100n, ask(0n, 0))),
    );
    assertEquals(takes.filter(ok).length, 10);
    assertEquals(await b.spent("r"), 1_000n);
    // Repaid: its line is 2,000 beyond the 1,000 it earned, again through both at once.
    await a.review("r", ask(1_000n, 1_000));
    const more = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take("r", 100n, ask(1_000n, 2_000))),
    );
    assertEquals(more.filter(ok).length, 20);
    assertEquals(await a.spent("r"), 3_000n);
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  }
});

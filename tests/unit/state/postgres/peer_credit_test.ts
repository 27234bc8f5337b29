/**
 * Credit for peers without a channel (state/payments/peer_credit.ts, state/postgres/postgres_peer_credit.ts,
 * roles/town/btp/peer_credit_gate.ts): a take past the limit is refused and counts nothing, a
 * rejected packet gives its amount back, the counts survive a restart (a partial last line
 * skipped), two processes on one PostgreSQL database never pass the limit together (takes that
 * wait for the account's statement go in one, each with its own total), and the
 * gate refuses T04 without running the router. A payout is spent: it pays what is owed less what
 * was spent, earnings paid out never back a take again, a claim made before the counts knew of
 * payouts is counted first, and on PostgreSQL takes and payouts side by side never pay out more
 * than was owed.
 */
import postgres from "postgres";
import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import {
  openFilePeerCredit,
  PEER_CREDIT_FILE,
  type PeerCredit,
} from "../../../../state/payments/peer_credit.ts";
import { openPostgresPeerCredit } from "../../../../state/postgres/postgres_peer_credit.ts";
import { peerCreditGate } from "../../../../roles/town/btp/peer_credit_gate.ts";
import {
  decodeIlpReject,
  encodeIlpFulfill,
  encodeIlpPrepare,
  encodeIlpReject,
  ILP_ERROR,
} from "../../../../protocol/ilp_packet.ts";

function prepare(amount: bigint): Uint8Array {
  return encodeIlpPrepare({
    amount: amount.toString(),
    executionCondition: new Uint8Array(32).fill(7),
    expiresAt: new Date(Date.now() + 30_000),
    destination: "g.town.provider",
    data: new Uint8Array(0),
  });
}

const fulfill = () =>
  Promise.resolve(encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) }));
const reject = () =>
  Promise.resolve(encodeIlpReject({
    code: ILP_ERROR.unreachable,
    triggeredBy: "g.town",
    message: "no route",
    data: new Uint8Array(0),
  }));

Deno.test("file credit: refused past the limit, given back on reject, kept across a restart", async () => {
  const stateDir = await Deno.makeTempDir();
  const credit = await openFilePeerCredit({ stateDir });
  assertEquals(await credit.take("child", 600n, 1_000n), { spent: 600n });
  assertEquals(await credit.take("child", 500n, 1_000n), { refused: 600n });
  assertEquals(await credit.take("other", 1_000n, 1_000n), { spent: 1_000n });
  await credit.give("child", 100n);
  assertEquals(await credit.take("child", 500n, 1_000n), { spent: 1_000n });
  await credit.close();
  // A crash mid-append leaves a partial line: skipped, and the next append starts a new one.
  await Deno.writeTextFile(`${stateDir}/${PEER_CREDIT_FILE}`, '{"a":"child","d":"9', {
    append: true,
  });
  const again = await openFilePeerCredit({ stateDir });
  assertEquals(await again.spent("child"), 1_000n);
  assertEquals(await again.spent("other"), 1_000n);
  await again.give("child", 1_000n);
  await again.close();
  const third = await openFilePeerCredit({ stateDir });
  assertEquals(await third.spent("child"), 0n);
  await third.close();
});

Deno.test("postgres credit: two processes taking at once never pass the limit", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools = [postgres(url, { max: 4, onnotice: () => {} }), postgres(url, { max: 4 })];
  try {
    const [a, b] = await Promise.all(pools.map((sql) => openPostgresPeerCredit(sql)));
    // Takes that wait for the account's statement go together: each gets its own running total.
    const together = await Promise.all([1n, 2n, 3n, 4n].map((n) => a.take("batch", n, 100n)));
    assertEquals(together, [{ spent: 1n }, { spent: 3n }, { spent: 6n }, { spent: 10n }]);
    assertEquals(await b.spent("batch"), 10n);
    // 40 takes of 100 against a limit of 1,000, half through each process, all at once.
    const takes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take("child", 100n, 1_000n)),
    );
    assertEquals(takes.filter((t) => "spent" in t).length, 10);
    assertEquals(await a.spent("child"), 1_000n);
    await b.give("child", 300n);
    assertEquals(await a.take("child", 300n, 1_000n), { spent: 1_000n });
    assertEquals(await b.take("child", 1n, 1_000n), { refused: 1_000n });
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  }
});

Deno.test("credit gate: a claimless PREPARE past the limit is refused T04 and never routed", async () => {
  const credit = await openFilePeerCredit({ stateDir: await Deno.makeTempDir() });
  let routed = 0;
  const counted = (reply: () => Promise<Uint8Array>) => () => {
    routed++;
    return reply();
  };
  const refused: bigint[] = [];
  const gate = peerCreditGate("child", undefined, {
    credit,
    limitOf: () => 1_000n,
    hasChannel: () => false,
    triggeredBy: () => "g.town",
    onRefused: (_a, amount) => refused.push(amount),
  })!;
  // A rejected packet takes nothing; a fulfilled one keeps its amount.
  await gate.handle(prepare(700n), undefined, counted(reject));
  assertEquals(await credit.spent("child"), 0n);
  await gate.handle(prepare(700n), undefined, counted(fulfill));
  const over = decodeIlpReject(await gate.handle(prepare(400n), undefined, counted(fulfill)));
  assertEquals(over.code, ILP_ERROR.insufficientLiquidity);
  assertStringIncludes(over.message, "spent 700 of its credit of 1000");
  assertEquals(routed, 2);
  assertEquals(refused, [400n]);
  // Zero-amount packets and packets with a claim are not the credit's.
  await gate.handle(prepare(0n), undefined, counted(fulfill));
  await gate.handle(prepare(400n), new Uint8Array([1]), counted(fulfill));
  assertEquals(routed, 4);
  assertEquals(await credit.spent("child"), 700n);
  // No limit: no gate added.
  const open = peerCreditGate("child", undefined, {
    credit,
    limitOf: () => undefined,
    hasChannel: () => false,
    triggeredBy: () => "g.town",
  });
  assert(open === undefined);
  await credit.close();
});

/** The earnings-spent-twice sequence on one backend (the town's gate limit: grant 0 + owed). */
async function earningsSpentOnce(credit: PeerCredit): Promise<void> {
  const cap = 10_000_000n;
  // Owed 1,000,000, paid out whole: the payout is spent, so no take passes after it.
  assertEquals(await credit.payOut("beta", { owed: 1_000_000n, cap, claimed: 0n }), 1_000_000n);
  assertEquals(await credit.take("beta", 100_000n, 1_000_000n), { refused: 1_000_000n });
  // Owed 1,500,000, 300,000 spent before the payout: the payout pays 200,000 more, not 500,000.
  assertEquals(await credit.take("beta", 300_000n, 1_500_000n), { spent: 1_300_000n });
  assertEquals(
    await credit.payOut("beta", { owed: 1_500_000n, cap, claimed: 1_000_000n }),
    1_200_000n,
  );
  assertEquals(await credit.take("beta", 1n, 1_500_000n), { refused: 1_500_000n });
  // Asked again with nothing new: the same cumulative, nothing counted.
  assertEquals(
    await credit.payOut("beta", { owed: 1_500_000n, cap, claimed: 1_200_000n }),
    1_200_000n,
  );
  assertEquals(await credit.spent("beta"), 1_500_000n);
  // The cap holds the payout; the rest is paid when there is room.
  assertEquals(await credit.payOut("capped", { owed: 900n, cap: 500n, claimed: 0n }), 500n);
  assertEquals(await credit.take("capped", 400n, 900n), { spent: 900n });
  assertEquals(await credit.payOut("capped", { owed: 900n, cap: 2_000n, claimed: 500n }), 500n);
  // A claim made before payouts were counted (an older town's books): counted first.
  assertEquals(await credit.payOut("legacy", { owed: 0n, cap: 0n, claimed: 700n }), 700n);
  assertEquals(await credit.take("legacy", 1n, 700n), { refused: 700n });
  // Below the least worth a payout (the threshold after a FULFILL), nothing; at it, all of it.
  assertEquals(await credit.payOut("least", { owed: 900n, cap, claimed: 0n, least: 1_000n }), 0n);
  assertEquals(
    await credit.payOut("least", { owed: 1_000n, cap, claimed: 0n, least: 1_000n }),
    1_000n,
  );
  // A payout counted whose claim was never signed (a crash): the next payout claims it again.
  assertEquals(await credit.payOut("crash", { owed: 800n, cap, claimed: 0n }), 800n);
  assertEquals(await credit.payOut("crash", { owed: 800n, cap, claimed: 0n }), 800n);
}

Deno.test("file credit: a payout is spent, and what was spent is never paid out", async () => {
  const stateDir = await Deno.makeTempDir();
  const credit = await openFilePeerCredit({ stateDir });
  await earningsSpentOnce(credit);
  await credit.close();
  // Kept across a restart: the payouts and the takes both.
  const again = await openFilePeerCredit({ stateDir });
  assertEquals(await again.spent("beta"), 1_500_000n);
  assertEquals(
    await again.payOut("beta", { owed: 1_500_000n, cap: 10n ** 9n, claimed: 0n }),
    1_200_000n,
  );
  assertEquals(await again.take("beta", 1n, 1_500_000n), { refused: 1_500_000n });
  await again.close();
});

Deno.test("postgres credit: a payout is spent; payouts and takes side by side never pay out more than owed", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const pools = [postgres(url, { max: 4, onnotice: () => {} }), postgres(url, { max: 4 })];
  try {
    const [a, b] = await Promise.all(pools.map((sql) => openPostgresPeerCredit(sql)));
    await earningsSpentOnce(a);
    assertEquals(await b.spent("beta"), 1_500_000n);
    // Owed 10,000: 40 takes of 500 through one process and 20 payouts through the other, at
    // once. Whatever the order, what was taken plus what was paid out is at most what is owed.
    const owed = 10_000n;
    const results = await Promise.all([
      ...Array.from({ length: 40 }, () => a.take("race", 500n, owed)),
      ...Array.from({ length: 20 }, () => b.payOut("race", { owed, cap: 10n ** 9n, claimed: 0n })),
    ]);
    const takes = results.slice(0, 40) as Awaited<ReturnType<PeerCredit["take"]>>[];
    const taken = BigInt(takes.filter((t) => "spent" in t).length) * 500n;
    const paid = (results.slice(40) as bigint[]).reduce((m, p) => p > m ? p : m, 0n);
    assertEquals(taken + paid, owed);
    assertEquals(await a.spent("race"), owed);
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  }
});

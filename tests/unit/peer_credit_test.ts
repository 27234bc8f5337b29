/**
 * Credit for peers without a channel (state/peer_credit.ts, state/postgres_peer_credit.ts,
 * roles/town/btp/peer_credit_gate.ts): a take past the limit is refused and counts nothing, a
 * rejected packet gives its amount back, the counts survive a restart (a partial last line
 * skipped), two processes on one PostgreSQL database never pass the limit together (takes that
 * wait for the account's statement go in one, each with its own total), and the
 * gate refuses T04 without running the router.
 */
import postgres from "postgres";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { freshDatabase } from "../support/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres_server.ts";
import { openFilePeerCredit, PEER_CREDIT_FILE } from "../../state/peer_credit.ts";
import { openPostgresPeerCredit } from "../../state/postgres_peer_credit.ts";
import { peerCreditGate } from "../../roles/town/btp/peer_credit_gate.ts";
import {
  decodeIlpReject,
  encodeIlpFulfill,
  encodeIlpPrepare,
  encodeIlpReject,
  ILP_ERROR,
} from "../../protocol/ilp_packet.ts";

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

/**
 * A channel-less peer's credit line follows its history on the town's books
 * (state/payments/credit_line.ts, docs/PROTOCOL.md "The credit line from history"): a real town,
 * real BTP sockets, raw ILP packets. The child, a peer with no channel, pays beta through the
 * town; "payer" (a peer with a fixed large credit) pays the child, so its earnings cover what it
 * spent. The floor is 5,000, the ceiling 20,000. A newcomer spends 5,000; once that is repaid its
 * line is 10,000, then the ceiling, and never more, also after a restart; a use not repaid within
 * the grace is a default: the line is the floor at once. Before, the line was the fixed 5,000
 * whatever the history.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { claimTownConfig, claimTownContact } from "../../harness/channel_town.ts";
import { startTownNode, type TownNode } from "../../roles/town/town_node.ts";
import type { BtpClient } from "../../transport/btp_client.ts";
import { invoicePeers } from "../../harness/invoice_peers.ts";
import { generateSecretKey } from "nostr-tools/pure";
import { runCli } from "../../harness/run_cli.ts";

const PRICE = 2_500n;
const FLOOR = 5_000n;
const CEILING = 20_000n;
/** The grace: long enough that a repayment a test makes at once is in time. */
const GRACE_MS = 4_000;

Deno.test("a channel-less peer's credit line grows with repaid use to the ceiling, never past it, and drops to the floor on a default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_credit_line_" });
  const secretKey = generateSecretKey();
  const startTown = async () => {
    const config = claimTownConfig({ stateDir: dir });
    config.peers.push({ account: "child", token: "child-token" });
    config.peers.push({ account: "beta", token: "beta-token" });
    config.peers.push({ account: "payer", token: "payer-token", creditLimit: 10n ** 12n });
    config.peerCreditLimit = FLOOR;
    config.peerCreditLine = { ceiling: CEILING, graceMs: GRACE_MS };
    return await startTownNode({
      config,
      secretKey,
      databasePath: ":memory:",
      hasChannel: () => false,
      log: () => {},
    });
  };
  // Every peer fulfils the invoices made for it.
  const peers = invoicePeers();
  const connect = (town: TownNode, token: string) =>
    peers.connect({ url: claimTownContact(town).url, authToken: token });
  const pay = peers.pay;
  /** The codes of `n` payments of PRICE the child makes to beta, one after another. */
  const spend = async (child: BtpClient, n: number) => {
    const codes: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await pay(child, "beta", PRICE);
      codes.push(r.type === "fulfill" ? "fulfill" : r.code);
    }
    return codes;
  };
  const fulfills = (n: number) => Array.from({ length: n }, () => "fulfill");
  /** The payer pays the child `amount`: its earnings. */
  const earn = async (payer: BtpClient, amount: bigint) =>
    assertEquals((await pay(payer, "child", amount)).type, "fulfill");

  let town = await startTown();
  let links = await Promise.all(
    ["child-token", "beta-token", "payer-token"].map((t) => connect(town, t)),
  );
  try {
    const [child, , payer] = links;
    // A newcomer: the floor.
    assertEquals(await spend(child, 3), [...fulfills(2), "T04"]);
    const refused = await pay(child, "beta", 1n);
    assertEquals(refused.type, "reject");
    if (refused.type === "reject") assertStringIncludes(refused.message, "of its credit of 5000");
    // Its 5,000 repaid in time: its line is 10,000 beyond what it earned.
    await earn(payer, 5_000n);
    assertEquals(await spend(child, 5), [...fulfills(4), "T04"]);
    // 10,000 more repaid: the ceiling, 20,000, not 25,000.
    await earn(payer, 10_000n);
    assertEquals(await spend(child, 9), [...fulfills(8), "T04"]);
    assertEquals(town.ledger.balance("beta").owed, 14n * PRICE);
  } finally {
    await Promise.all(links.map((l) => l.close()));
    await town.stop();
  }
  // `town balances` shows the child's line: the ceiling, its use since the last repayment open.
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `[town]\npeer_credit_limit = "${FLOOR}"\npeer_credit_ceiling = "${CEILING}"\n`,
  );
  const shown = await runCli(["--state-dir", dir, "--output", "json", "town", "balances"]);
  assertEquals(shown.code, 0, shown.stderr);
  const row = JSON.parse(shown.stdout).peers.find((p: { account: string }) =>
    p.account === "child"
  );
  assertEquals([row.line, row.repaid, typeof row.inCreditSince], ["20000", "15000", "string"]);
  // After a restart: the same line, still used up.
  town = await startTown();
  links = await Promise.all(
    ["child-token", "beta-token", "payer-token"].map((t) => connect(town, t)),
  );
  try {
    const [child, , payer] = links;
    assertEquals(await spend(child, 1), ["T04"]);
    // In credit past the grace: a default. Its line is the floor at once, before it repays...
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
    const late = await pay(child, "beta", 1n);
    if (late.type === "reject") {
      assertStringIncludes(late.message, `of its credit of ${FLOOR + 15_000n}`);
    }
    assertEquals(late.type, "reject");
    // ...and after: the 20,000 it used, repaid late, leave it at the floor.
    await earn(payer, 20_000n);
    assertEquals(await spend(child, 3), [...fulfills(2), "T04"]);
    assertEquals(town.ledger.balance("beta").owed, 16n * PRICE);
  } finally {
    await Promise.all(links.map((l) => l.close()));
    await town.stop();
  }
});

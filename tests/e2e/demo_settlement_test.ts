/**
 * `turnpike demo` settles on a local anvil, run as a real process: the channel
 * requester -> town is opened, the paid writes carry claims, the channel is closed (cooperatively,
 * or `--unilateral` with the settle timeout) and settled; the town pays the provider through a
 * payout channel of its own, which the provider closes and settles; the on-chain payouts equal
 * the books of all three. anvil is gone afterwards (on success and on
 * SIGINT): nothing answers on its RPC port any more. `--no-chain` and a missing anvil binary
 * run the demo without settlement.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";

const CHAIN_LINE =
  /^Chain: local anvil \(evm:base:31337, local\) at (http:\/\/127\.0\.0\.1:(\d+)), TokenNetwork 0x[0-9a-f]{40}$/m;

/** Whether anything still listens on the port anvil had. */
async function listening(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return false;
    throw err;
  }
}

Deno.test("turnpike demo settles on a local anvil: chain = books, anvil stopped", async () => {
  const res = await runCli(["demo"]);
  assertEquals(res.code, 0, res.stderr);
  const chain = res.stdout.match(CHAIN_LINE);
  assert(chain, res.stdout);
  assertMatch(res.stdout, /^Channel 0x[0-9a-f]{64} opened: deposit 5 M2M \(\d+ ms\)$/m);
  const paid = res.stdout.match(
    /^Channel: paid (0\.\d+) M2M in (\d+) claims, (4\.\d+) M2M remaining$/m,
  );
  assert(paid, res.stdout);
  assert(Number(paid[2]) >= 2, "the job request and the provider's payment each carry a claim");
  const payout = res.stdout.match(
    /^Payout: the town paid the provider (\d+) base units with a claim on channel (0x[0-9a-f]{8})\.\./m,
  );
  assert(payout, res.stdout);
  const settled = res.stdout.match(
    /^Settled on chain: requester got (4\.\d+) M2M, town got (0\.\d+) M2M and paid the provider (0\.\d+) M2M \(payout channel (0x[0-9a-f]{8})\.\., closed by the provider with the town's claim and settled in \d+ ms\), town net (0\.\d+) M2M \(chain = books\)$/m,
  );
  assert(settled, res.stdout);
  assertEquals(settled[1], paid[3], "the requester got back what it did not pay");
  assertEquals(settled[2], paid[1], "the town got what the claims say");
  assertEquals(
    Math.round(Number(settled[3]) * 1e6),
    Number(payout[1]),
    "the provider got its claim",
  );
  assertEquals(settled[4], payout[2]);
  assertEquals(
    Math.round(Number(settled[5]) * 1e6),
    Math.round(Number(settled[2]) * 1e6) - Number(payout[1]),
    "the town kept what it was paid less what it paid the provider",
  );
  assertMatch(
    res.stdout,
    /^Closed cooperatively: the town co-signed the final balances over BTP, settled in 1 transaction/m,
  );
  assertMatch(res.stdout, /^ci-run +passed \(exit 0/m);
  assertEquals(await listening(Number(chain[2])), false, "anvil still listens after the demo");
});

Deno.test("turnpike demo --output json: the settlement part of the report", async () => {
  const res = await runCli(["--output", "json", "demo"]);
  assertEquals(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout.trim().split("\n").pop()!);
  assertEquals(report.status, "done");
  const s = report.settlement;
  assertMatch(s.channelId, /^0x[0-9a-f]{64}$/);
  assertEquals(s.chain, "evm:base:31337");
  assertEquals(s.deposit, "5000000");
  assertEquals(s.mode, "cooperative", s.cooperativeRefused);
  assertEquals(s.transactions, 1);
  assertEquals(s.chainEqualsBooks, true);
  // The requester paid the town per byte and the provider's 5000 through it, all with claims.
  assert(BigInt(s.paid) > 5000n, `paid ${s.paid}`);
  assertEquals(s.received, s.paid);
  assertEquals(s.townPayout, s.paid);
  assertEquals(BigInt(s.requesterPayout), 5_000_000n - BigInt(s.paid));
  assertEquals(BigInt(s.remaining), 5_000_000n - BigInt(s.paid));
  assert(s.claims >= 2, `claims ${s.claims}`);
  // The provider: the town paid it on chain what its payment log says it earned; the town
  // kept exactly its fees from the requester.
  const c = report.costs;
  assertMatch(s.payoutChannelId, /^0x[0-9a-f]{64}$/);
  assert(s.payoutChannelId !== s.channelId, "a channel of its own, the town paying");
  assertEquals(s.providerPayout, c.provider.earned);
  assertEquals(s.providerPayout, c.requester.provider);
  assert(BigInt(s.providerPayout) > 0n, `provider payout ${s.providerPayout}`);
  assertEquals(s.townNet, c.town.from_requester);
  assertEquals(BigInt(s.townNet), BigInt(s.paid) - BigInt(s.providerPayout));
  assertEquals(await listening(Number(new URL(s.rpcUrl).port)), false);
  assertEquals(await Deno.stat(report.stateDir).then(() => false, () => true), true);
});

Deno.test("turnpike demo --unilateral: the town closes with the newest claim, settles after the timeout", async () => {
  const res = await runCli(["--output", "json", "demo", "--unilateral"]);
  assertEquals(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout.trim().split("\n").pop()!);
  const s = report.settlement;
  assertEquals(s.mode, "unilateral");
  assertEquals(s.providerPayout, report.costs.provider.earned);
  assertEquals(s.townNet, report.costs.town.from_requester);
  assertEquals(s.transactions, 2);
  assertEquals(s.chainEqualsBooks, true);
  assertEquals(s.townPayout, s.paid);
  assertEquals(BigInt(s.requesterPayout), 5_000_000n - BigInt(s.paid));
  const human = await runCli(["demo", "--unilateral"]);
  assertEquals(human.code, 0, human.stderr);
  assertMatch(human.stdout, /^Closed by the town with the newest claim, settle timeout passed/m);
  assertMatch(human.stdout, /\(chain = books\)$/m);
});

Deno.test("turnpike demo --no-chain: today's demo, no anvil, no settlement", async () => {
  const res = await runCli(["--output", "json", "demo", "--no-chain"]);
  assertEquals(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout.trim().split("\n").pop()!);
  assertEquals(report.status, "done");
  assertEquals(report.paidToProvider, report.costs.provider.earned);
  assertEquals(report.settlement, undefined);
  assertEquals(report.noSettlement, "--no-chain");
  const human = await runCli(["demo", "--no-chain"]);
  assertEquals(human.code, 0, human.stderr);
  assertEquals(CHAIN_LINE.test(human.stdout), false, human.stdout);
  assertStringIncludes(human.stdout, "settled   - (no settlement: --no-chain)");
});

Deno.test("turnpike demo without the anvil binary: says so and runs without settlement", async () => {
  const missing = `${await Deno.makeTempDir()}/no-anvil-here`;
  try {
    const res = await runCli(["demo", "--anvil", missing]);
    assertEquals(res.code, 0, res.stderr);
    assertStringIncludes(
      res.stdout,
      "anvil not found (npm install --prefix tools); running without settlement",
    );
    assertMatch(res.stdout, /^ci-run +passed/m);
    assertEquals(CHAIN_LINE.test(res.stdout), false);
  } finally {
    await Deno.remove(missing.replace(/\/no-anvil-here$/, ""), { recursive: true });
  }
});

Deno.test("turnpike demo: SIGINT stops everything it started, anvil included (exit 130)", async () => {
  const demo = spawnCli(["demo"]);
  const line = await demo.waitForLine((l) => / opened: deposit /.test(l));
  assertMatch(line, /^Channel 0x[0-9a-f]{64} opened/);
  const chain = demo.stdout().match(CHAIN_LINE);
  assert(chain, demo.stdout());
  assertEquals(await listening(Number(chain[2])), true, "anvil runs while the demo does");
  demo.child.kill("SIGINT");
  const status = await demo.done;
  assertEquals(status.code, 130, demo.stderr.join("\n"));
  assertStringIncludes(demo.stderr.join("\n"), "interrupted");
  assertEquals(await listening(Number(chain[2])), false, "anvil outlived the interrupted demo");
});

/**
 * Honest economics on a real town, provider, requester and anvil (`turnpike demo --jobs`):
 * with default prices a provider's net is positive and equals what its own log says it earned
 * minus what it spent on this job's writes; the requester's spending equals its channel's
 * transferred amount to the unit; the town's income equals what both paid it; on chain the
 * provider is paid what it earned and the town keeps the requester's fees. And `wallet
 * balance` / `wallet history` against a funded wallet with an open channel.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";

Deno.test("economics: 100 default-config jobs, every side's books agree with each other and the chain", async () => {
  const res = await runCli(["--output", "json", "demo", "--jobs", "100", "--keep-state"]);
  assertEquals(res.code, 0, res.stderr.slice(-2000));
  const report = JSON.parse(res.stdout);
  try {
    assertEquals([report.jobs.count, report.jobs.done], [100, 100]);
    const c = report.costs;
    const n = (s: string) => BigInt(s);
    // The requester: what it spent is what its channel transferred, to the unit.
    assertEquals(c.requester.total, report.settlement.paid);
    assert(report.settlement.chainEqualsBooks, "chain = books");
    // On chain, the provider got what its payment log says it earned, the town its fees.
    assertEquals(report.settlement.providerPayout, c.provider.earned);
    assertEquals(report.settlement.townNet, c.town.from_requester);
    assertEquals(n(c.requester.total), n(c.requester.provider) + n(c.requester.town_fees));
    // The provider: paid what the requester paid it, and the jobs left it a profit.
    assertEquals(c.provider.earned, c.requester.provider);
    assert(n(c.provider.net) > 0n, `provider net ${c.provider.net}`);
    assertEquals(n(c.provider.net), n(c.provider.earned) - n(c.provider.town_fees));
    // The town: earned exactly what both paid it (the provider's periodic writes included).
    assertEquals(n(c.town.earned), n(c.town.from_requester) + n(c.town.from_provider));
    assertEquals(c.town.from_requester, c.requester.town_fees);
    assert(n(c.town.from_provider) >= n(c.provider.town_fees), "job fees within the provider's");
    // The provider's own stats say the same: its net over the whole run (jobs and periodic
    // writes) is earned minus spent in its log.
    const stats = await runCli([
      "--state-dir",
      `${report.stateDir}/provider`,
      "--output",
      "json",
      "stats",
    ]);
    assertEquals(stats.code, 0, stats.stderr);
    const [books] = JSON.parse(stats.stdout).books;
    assertEquals(n(books.net), n(books.earned.total) - n(books.spent.total));
    assertEquals(books.earned.byCategory.job, c.provider.earned);
    assertEquals(n(books.spent.total), n(c.town.from_provider));
    assert(n(books.net) > 0n, `the provider's whole run is profitable: ${books.net}`);
    // And the town's own stats agree with its income.
    const town = await runCli([
      "--state-dir",
      `${report.stateDir}/town`,
      "--output",
      "json",
      "stats",
    ]);
    const [townBooks] = JSON.parse(town.stdout).books;
    assertEquals(townBooks.earned.total, c.town.earned);
    assert(n(townBooks.earned.byCategory["town-blob"]) > 0n, "the context blob was paid for");
  } finally {
    await Deno.remove(report.stateDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("wallet balance and history: a funded wallet with an open channel (anvil)", async () => {
  await using pair = await startChannelPair();
  await using t = await startChannelCliTown(pair, { prefix: "wallet_books_" });
  const job = await runCli([
    "--state-dir",
    t.aliceState,
    "job",
    "submit",
    "echo",
    "--input",
    "text:books",
    "--force",
    "--channel",
    t.channelId,
    ...t.connection,
  ]);
  assertEquals(job.code, 0, job.stderr);
  const balance = await runCli([
    "--state-dir",
    t.aliceState,
    "--output",
    "json",
    "wallet",
    "balance",
  ]);
  assertEquals(balance.code, 0, balance.stderr);
  const b = JSON.parse(balance.stdout);
  const [chain] = b.onChain;
  assertEquals(chain.chain, "evm:base:31337");
  // 100 M2M minted, 50 deposited into the channel: base units, whole tokens under `whole`.
  assertEquals([chain.token, chain.decimals, chain.whole.token], ["50000000", 6, "50"]);
  const gas = Number(chain.whole.native);
  assert(gas > 0 && gas < 1, `gas left ${chain.whole.native}`);
  const [channel] = b.channels;
  assertEquals(
    [channel.channelId, channel.status, channel.deposit, channel.whole.deposit],
    [t.channelId, "open", "50000000", "50"],
  );
  assert(BigInt(channel.spent) > 0n, "the job's write was paid over the channel");
  assertEquals(BigInt(channel.remaining), 50_000_000n - BigInt(channel.spent));
  const text = await runCli(["--state-dir", t.aliceState, "wallet", "balance"]);
  assertStringIncludes(text.stdout, "50 M2M");
  const history = await runCli([
    "--state-dir",
    t.aliceState,
    "--output",
    "json",
    "wallet",
    "history",
    "--category",
    "town-write",
  ]);
  assertEquals(history.code, 0, history.stderr);
  // One line per payment, then the books.
  const lines = history.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => [l.type, l.category]), [
    ["payment", "town-write"],
    ["wallet-history", undefined],
  ]);
  const spentRaw = BigInt(lines[1].books[0].spent.total);
  assertEquals(BigInt(lines[0].amount), spentRaw);
  assertEquals(spentRaw, BigInt(channel.spent));
  const bad = await runCli(["--state-dir", t.aliceState, "wallet", "history", "--category", "x"]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, 'unknown category "x"');
});

/**
 * The walk an agent takes with docs/AGENTS.md alone, as one run, driven as an agent drives the CLI
 * (every command its own process, stdout parsed line by line: each line one object with a `type`;
 * exit codes checked against the code table). On real peers: `chain up`, `town up`, the provider
 * beta's `node up` paid out on chain by the town, alice's profile with an automatic channel
 * (harness/auto_channel_network.ts).
 *
 * - five jobs posted at once (one with a file input, an upload), each followed to `done` and paid
 *   once; then the town stopped (a job submitted meanwhile fails `town-unreachable`) and started
 *   again, and the next job is done. (Jobs in flight across a town's restart can end `error`
 *   instead, each once and never paid twice: a payment whose answer the stop cut off is in doubt
 *   and not sent again, a blob input the provider could not fetch meanwhile is its error;
 *   tests/e2e/agent_town_outage_test.ts follows one job across a restart.)
 * - a job no provider starts, cancelled: one `cancelled` line, a second cancel refused `no-job`;
 * - each documented failure (`usage`, `no-job`, `no-provider`, `bid-below-price`, `passphrase`,
 *   `no-result`, and `town-unreachable` while the town was down) gives its code and its exit
 *   status within 10 s, and pays nothing;
 * - what left alice's wallet (`wallet history`) = the provider's share + the town's share (the
 *   uploads among it) of every job's `costs`, to the unit; beta earned the provider's share and
 *   the town the rest;
 * - the close: alice's channel settled cooperatively, beta's payout channel closed with the
 *   town's claim and settled: chain = books for alice, beta and the town.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { agentCli, type AgentResult, ndjsonLines } from "../../harness/agent_cli.ts";
import { runCli } from "../../harness/run_cli.ts";
import { ERROR_CODES } from "../../cli/error_codes.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../roles/channels/payout_receiver.ts";

/** What `chain up` funds each wallet with: 100 M2M in base units. */
const FUNDED = 100_000_000n;

type Costs = { provider: string; town: string; total: string }[];

const sumCosts = (costs: Costs, key: "provider" | "town" | "total") =>
  costs.reduce((n, c) => n + BigInt(c[key]), 0n);

Deno.test("agent walk: five jobs at once, a town restart, a cancel, every documented failure, the close: typed lines and codes, paid = provider + town, chain = books for all three (anvil)", async () => {
  await using net = await startAutoChannelNetwork({
    prefix: "agent_walk_",
    provider: true,
    payProvider: { threshold: 1, deposit: 5_000_000 },
  });
  await providerOnline(net.env);
  const alice = agentCli({ profile: "alice", env: net.env, secret: net.secret });
  const reader = net.chainReader();
  const townWallet = (await readWalletFile(walletFilePath(net.townState))).evmAddress;
  const betaWallet = (await readWalletFile(walletFilePath(net.betaState))).evmAddress;
  const tokens = (address: string) => reader.tokenBalance(address as `0x${string}`);
  const townAtStart = await tokens(townWallet);
  const betaAtStart = await tokens(betaWallet);
  assertEquals(
    await tokens((await readWalletFile(walletFilePath(net.aliceState))).evmAddress),
    FUNDED,
  );

  /** A refusal as docs/AGENTS.md says it: one `error` line, its code, the code's exit. */
  const refused = async (code: keyof typeof ERROR_CODES, run: () => Promise<AgentResult>) => {
    const out = await run();
    const last = out.lines.at(-1);
    assertEquals([last?.type, last?.code], ["error", code], `${code}: ${out.stdout}${out.stderr}`);
    assertEquals(out.code, ERROR_CODES[code].exit, `${code}: exit ${out.code}`);
    return out;
  };
  const paidOut = async () => {
    const history = await alice("wallet", "history");
    assertEquals(history.code, 0, history.stderr);
    return history.lines.filter((l) => l.type === "payment" && l.direction === "out");
  };

  // Five jobs at once, one with a file over the inline limit (a paid upload).
  const file = `${net.home}/notes.txt`;
  await Deno.writeTextFile(file, "a line of notes\n".repeat(2048));
  const posts = await Promise.all([0, 1, 2, 3, 4].map((i) =>
    alice(
      "job",
      "submit",
      "echo",
      "--input",
      `text:job ${i}`,
      ...(i === 0 ? ["--file", file] : []),
      "--bid",
      "100000",
    )
  ));
  const ids = posts.map((p) => {
    assertEquals(p.code, 0, p.stderr);
    assertEquals(p.lines.map((l) => l.type), ["job"], p.stdout);
    return String(p.lines[0].id);
  });
  assertEquals(new Set(ids).size, 5);

  const costsOf = new Map<string, Costs>();
  const followed = async (id: string) => {
    const waited = await alice("job", "wait", id);
    assertEquals(waited.code, 0, waited.stderr + waited.stdout);
    const result = waited.lines.at(-1)!;
    assertEquals([result.type, result.status], ["result", "done"], waited.stdout);
    assert(
      waited.lines.every((l) => ["progress", "waiting", "result"].includes(String(l.type))),
      waited.stdout,
    );
    costsOf.set(id, result.costs as Costs);
  };
  for (const id of ids) await followed(id);

  // The town stops mid-run; while it is down a job fails town-unreachable, posting nothing; once
  // it is back the next job is done.
  await net.stopTown();
  await refused(
    "town-unreachable",
    () => alice("job", "submit", "echo", "--input", "text:while down", "--bid", "100000"),
  );
  await net.restartTown();
  const after = await alice("job", "submit", "echo", "--input", "text:back", "--bid", "100000");
  assertEquals(after.code, 0, after.stderr);
  await followed(String(after.lines[0].id));

  // A job no provider starts, cancelled once; a second cancel is refused and sends nothing.
  const orphan = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:never started",
    "--bid",
    "100000",
    "--provider",
    "ab".repeat(32),
    "--force",
  );
  assertEquals(orphan.code, 0, orphan.stderr);
  const orphanId = String(orphan.lines[0].id);
  const cancel = await alice("job", "cancel", orphanId);
  assertEquals(cancel.code, 0, cancel.stderr);
  assertEquals(cancel.lines.map((l) => [l.type, l.status]), [["job", "cancelled"]]);
  costsOf.set(orphanId, cancel.lines[0].costs as Costs);
  assertEquals(sumCosts(costsOf.get(orphanId)!, "provider"), 0n, "the provider never started");
  await refused("no-job", () => alice("job", "cancel", orphanId));

  // Every documented failure: its code, its exit status, and nothing paid.
  const paidBefore = (await paidOut()).length;
  await refused("usage", () => alice("job", "submit", "echo", "--bid", "not-a-number"));
  await refused("no-job", () => alice("job", "status", "ffffffff"));
  await refused(
    "no-provider",
    () => alice("job", "submit", "5999", "--input", "text:nobody serves it", "--bid", "100000"),
  );
  await refused("bid-below-price", () =>
    alice(
      "job",
      "submit",
      "echo",
      "--input",
      "text:capped",
      "--bid",
      "100000",
      "--max-per-job",
      "1",
    ));
  await refused("passphrase", async () => {
    const out = await runCli([
      "--profile",
      "alice",
      "--json",
      "job",
      "submit",
      "echo",
      "--input",
      "text:no passphrase",
      "--bid",
      "100000",
      "--non-interactive",
    ], { env: net.env });
    return { ...out, lines: ndjsonLines(out.stdout) };
  });
  const inFlight = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:still waiting",
    "--bid",
    "100000",
    "--provider",
    "cd".repeat(32),
    "--force",
  );
  assertEquals(inFlight.code, 0, inFlight.stderr);
  const inFlightId = String(inFlight.lines[0].id);
  await refused("no-result", () => alice("job", "results", inFlightId));
  // Posting it was a paid write (the one payment since); the refusals paid nothing.
  assertEquals((await paidOut()).length, paidBefore + 1, "only the last job's request was paid");
  const stopped = await alice("job", "cancel", inFlightId);
  assertEquals(stopped.code, 0, stopped.stderr);
  costsOf.set(inFlightId, stopped.lines[0].costs as Costs);

  // What left the wallet is every job's costs, the provider's share and the town's, to the unit.
  const payments = await paidOut();
  assert(payments.every((p) => p.state === "paid"), JSON.stringify(payments));
  const paid = payments.reduce((n, p) => n + BigInt(String(p.amount)), 0n);
  const all = [...costsOf.values()].flat();
  const providerShare = sumCosts(all, "provider");
  const townShare = sumCosts(all, "town");
  assertEquals(sumCosts(all, "total"), providerShare + townShare);
  assertEquals(paid, providerShare + townShare, "paid = provider + town (uploads in the town's)");
  assert(
    payments.some((p) => p.category === "town-blob" && BigInt(String(p.amount)) > 0n),
    "the upload was paid and counted",
  );
  // Each of the six done was paid once: one provider invoice each.
  const invoices = payments.filter((p) => p.category === "job");
  assertEquals(invoices.length, 6, JSON.stringify(invoices));
  // Beta earned the provider's share; the town's books hold alice's share for it.
  const betaEarned = (await openPaymentLog({ stateDir: net.betaState })).entries()
    .filter((e) => e.direction === "in" && e.event === "fulfilled" && e.category === "job")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
  assertEquals(betaEarned, providerShare, "beta earned the provider's share");
  const townFromAlice = (await openPaymentLog({ stateDir: net.townState })).entries()
    .filter((e) => e.direction === "in" && e.event === "fulfilled" && e.peer === "alice")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
  assertEquals(townFromAlice, townShare, "the town's books: alice's writes and uploads");

  // The close. Alice: cooperative, chain = her payment log.
  const stop = await runCli(["--profile", "alice", "node", "stop"], { env: net.env });
  assertEquals(stop.code, 0, stop.stderr);
  const list = await alice("channel", "list");
  const open = list.lines.find((l) => l.type === "channel" && l.status === "open");
  assert(open !== undefined, list.stdout);
  const close = await alice("channel", "close", String(open.channelId), ...net.secret);
  assertEquals(close.code, 0, close.stderr);
  assertEquals(close.lines.map((l) => [l.type, l.status]), [["channel", "settled"]]);
  const aliceWallet = (await readWalletFile(walletFilePath(net.aliceState))).evmAddress;
  assertEquals(await tokens(aliceWallet), FUNDED - paid, "chain = books for alice");

  // Beta: the town's newest claim covers what beta earned less what it spent on the town's
  // credit for its writes (it has no channel; docs/PROTOCOL.md "Credit without a channel"); beta
  // closes with it and settles.
  let kept: Awaited<ReturnType<typeof listChannels>>[number] | undefined;
  let claimed = 0n;
  for (let i = 0; i < 600 && kept === undefined; i++) {
    claimed = (await openPeerLedger({ stateDir: net.townState })).balance("beta").claimed;
    kept = (await listChannels(net.betaState)).find((c) =>
      c.peerLabel === PAYOUT_CHANNEL_LABEL && claimed > 0n && c.received === claimed
    );
    if (kept === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  assert(kept !== undefined, "hang guard: beta never held the town's newest claim");
  const betaSpent = (await openPaymentLog({ stateDir: net.betaState })).entries()
    .filter((e) => e.direction === "out" && e.event === "fulfilled" && e.category !== "job")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
  assert(
    claimed <= betaEarned && claimed + betaSpent <= betaEarned + 1_000_000n,
    `claimed ${claimed}, spent ${betaSpent}, earned ${betaEarned}`,
  );
  const beta = (...args: string[]) =>
    runCli(["--profile", "beta", "--json", ...args, ...net.secret], { env: net.env });
  const closing = await beta("channel", "close", kept.channelId);
  assertEquals(closing.code, 0, closing.stderr);
  let [record] = (await listChannels(net.betaState)).filter((c) => c.channelId === kept.channelId);
  if (record.status !== "settled") {
    await increaseTime(net.chain.rpcUrl, Number(kept.settleTimeout) + 1);
    const settle = await beta("channel", "close", kept.channelId);
    assertEquals(settle.code, 0, settle.stderr);
    [record] = (await listChannels(net.betaState)).filter((c) => c.channelId === kept.channelId);
  }
  assertEquals(record.status, "settled");
  assertEquals((await tokens(betaWallet)) - betaAtStart, claimed, "chain = books for beta");
  // The town: alice's channel paid it everything; it paid beta its claim, and keeps what beta
  // spent on its writes.
  assertEquals(
    (await tokens(townWallet)) - townAtStart,
    townShare + betaEarned - claimed,
    "chain = books for the town: alice's writes and uploads, and beta's",
  );
});

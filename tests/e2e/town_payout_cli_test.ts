/**
 * The README's processes (`chain up`, `town up`, `node up`, `job submit`) with the town paying
 * its provider on chain (docs/OPERATIONS.md "Paying providers"): alice's paid jobs reach beta
 * through the town; the town's books owe beta what beta's payment log says it earned, and count
 * what beta's log says it paid for its writes on the town's credit; the town pays it with claims
 * past `[town.payouts] threshold`, netted of that spending, which beta's node keeps; `town balances`
 * and beta's `wallet balance` say so; beta closes and settles with `channel close` and the chain
 * pays it exactly what the books say.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { runCli } from "../../harness/run_cli.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { openFilePeerCredit } from "../../state/payments/peer_credit.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../roles/channels/payout_receiver.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";

const JOBS = 20;

async function until<T>(what: () => string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hang guard: timed out waiting for ${what()}`);
}

Deno.test("town up pays node up on chain: books = claims = chain (CLI processes, anvil)", async () => {
  await using net = await startAutoChannelNetwork({
    prefix: "town_payout_cli_",
    provider: true,
    payProvider: { threshold: 1, deposit: 5_000_000 },
  });
  await providerOnline(net.env);
  // The first job starts alice's profile node; the other 19 run at once through it.
  const first = await net.alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:paid job 0",
    "--bid",
    "50000",
    "--wait",
  );
  assertEquals(first.code, 0, first.stderr + first.stdout);
  const rest = await Promise.all(
    Array.from(
      { length: JOBS - 1 },
      (_, i) =>
        net.alice(
          "job",
          "submit",
          "echo",
          "--input",
          `text:paid job ${i + 1}`,
          "--bid",
          "50000",
          "--wait",
        ),
    ),
  );
  for (const job of rest) assertEquals(job.code, 0, job.stderr);
  // Every FULFILL forwarded to beta is owed; at threshold 1 each is claimed at once, less what
  // beta spent on the town's credit (it has no channel: its writes) by then.
  let last = "";
  let previous = "";
  const books = await until(
    () =>
      `the town's books (${last}; ${net.town.stderr.join(" | ")}; ${
        Deno.readTextFileSync(net.townState + "/config.toml")
      })`,
    async () => {
      const b = (await openPeerLedger({ stateDir: net.townState })).balance("beta");
      const credit = await openFilePeerCredit({ stateDir: net.townState });
      const spent = await credit.spent("beta") - await credit.paid("beta");
      const kept = (await listChannels(net.betaState))
        .find((c) => c.peerLabel === PAYOUT_CHANNEL_LABEL);
      const now = JSON.stringify({ ...b, spent }, (_k, v) => typeof v === "bigint" ? String(v) : v);
      // Settled: every job paid, beta keeps the newest claim, nothing moved since the last look.
      const done = b.packets === JOBS && b.claimed > 0n && kept?.received === b.claimed &&
        now === previous;
      [last, previous] = [now, now];
      return done ? { owed: b.owed, claimed: b.claimed, spent, kept } : undefined;
    },
  );
  const { owed, claimed, spent, kept } = books;
  const payments = await openPaymentLog({ stateDir: net.betaState });
  const sum = (f: (e: ReturnType<typeof payments.entries>[number]) => boolean) =>
    payments.entries().filter((e) => e.event === "fulfilled" && f(e))
      .reduce((n, e) => n + BigInt(e.amount), 0n);
  assertEquals(owed, sum((e) => e.direction === "in" && (e.category ?? "job") === "job"));
  // What beta's log says it paid the town for its writes is what the town counted.
  assertEquals(spent, sum((e) => e.direction === "out" && e.category !== "job"));
  // The town never paid out more than it owed beta less what beta spent, beyond beta's grant.
  assert(claimed + spent <= owed + 1_000_000n, `claimed ${claimed} + spent ${spent}, owed ${owed}`);
  const shown = await runCli(["--profile", "town", "--output", "json", "town", "balances"], {
    env: net.env,
  });
  assertEquals(shown.code, 0, shown.stderr);
  const [row] = JSON.parse(shown.stdout).peers;
  assertEquals([row.account, row.owed, row.spent, row.claimed, row.unclaimed], [
    "beta",
    String(owed),
    String(spent),
    String(claimed),
    String(owed - spent - claimed),
  ]);
  const wallet = await runCli(["--profile", "beta", "--output", "json", "wallet", "balance"], {
    env: net.env,
  });
  assertEquals(wallet.code, 0, wallet.stderr);
  const { payouts } = JSON.parse(wallet.stdout);
  assertEquals([payouts.earned, payouts.claimed], [String(owed), String(claimed)]);

  // Beta closes with the town's newest claim, then settles after the timeout.
  const reader = net.chainReader();
  const { evmAddress } = await readWalletFile(walletFilePath(net.betaState));
  const before = await reader.tokenBalance(evmAddress as `0x${string}`);
  const close = await runCli([
    "--profile",
    "beta",
    "channel",
    "close",
    kept.channelId,
    "--unilateral",
    ...net.secret,
  ], { env: net.env });
  assertEquals(close.code, 0, close.stderr);
  await increaseTime(net.chain.rpcUrl, Number(kept.settleTimeout) + 1);
  const settle = await runCli([
    "--profile",
    "beta",
    "channel",
    "close",
    kept.channelId,
    ...net.secret,
  ], { env: net.env });
  assertEquals(settle.code, 0, settle.stderr);
  assert(settle.stderr.includes("Settled") || settle.stdout.includes("settled"), settle.stderr);
  const after = await reader.tokenBalance(evmAddress as `0x${string}`);
  assertEquals(after - before, claimed, "chain = books for the provider");
});

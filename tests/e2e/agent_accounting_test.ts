/**
 * The accounting an agent reads (docs/AGENTS.md "What a job cost"), driven as an agent drives the
 * CLI (every command its own process, stdout parsed line by line, exit codes checked), on real
 * peers: `chain up`, `town up`, a provider with the built-in echo skill, alice's profile with an
 * automatic payment channel (harness/auto_channel_network.ts):
 *
 * - a job with a file input sent as a blob: its `costs[].total` counts the upload's fee, and
 *   equals what `wallet history --job` lists for it;
 * - `wallet history` gives one `payment` line per payment (an intent and its outcome are one):
 *   the `amount`s of the `out` lines sum to the books' spend and to the jobs' costs, no invoice
 *   listed twice;
 * - a job refused payment (a daily cap below the price) has no result: `job results` prints its
 *   result line with its status and costs all the same (exit 1), as `job wait` does;
 * - `wallet balance` gives base units (`token`, a channel's `deposit`/`spent`...), whole tokens
 *   under `whole`; the channel's `spent` is what the payment lines say left the wallet.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { agentCli } from "../../harness/agent_cli.ts";
import { parseUnits } from "viem";

type Costs = { asset: string; provider: string; town: string; total: string }[];

/** The sum of the `amount`s of some lines, base units. */
const sum = (lines: Record<string, unknown>[]) =>
  lines.reduce((n, l) => n + BigInt(String(l.amount)), 0n);

Deno.test("agent: costs count the upload, one wallet history line per payment, job results of an ended job has its costs, base units (anvil)", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "agent_accounting_", provider: true });
  await providerOnline(net.env);
  const alice = agentCli({ profile: "alice", env: net.env, secret: net.secret });

  // A file over the inline limit goes as a blob, paid to the town before the job is posted.
  const file = `${net.home}/notes.txt`;
  await Deno.writeTextFile(file, "a line of notes\n".repeat(2048));
  const done = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:hi",
    "--file",
    file,
    "--bid",
    "100000",
    "--wait",
  );
  assertEquals(done.code, 0, done.stderr);
  const result = done.lines.at(-1)!;
  assertEquals([result.type, result.status], ["result", "done"]);
  const job = String(result.job);
  const costs = result.costs as Costs;
  assertEquals(costs.length, 1);
  assertEquals(BigInt(costs[0].total), BigInt(costs[0].provider) + BigInt(costs[0].town));

  // Every payment once; the upload is one of the job's.
  const history = await alice("wallet", "history");
  assertEquals(history.code, 0, history.stderr);
  const payments = history.lines.filter((l) => l.type === "payment");
  assertEquals(history.lines.map((l) => l.type), [
    ...payments.map(() => "payment"),
    "wallet-history",
  ]);
  const keys = payments.map((p) => `${p.direction} ${p.invoiceId}`);
  assertEquals(new Set(keys).size, keys.length, `a payment listed twice: ${keys}`);
  assert(payments.every((p) => p.state === "paid"), history.stdout);
  const upload = payments.filter((p) => p.category === "town-blob");
  assertEquals(upload.length, 1, history.stdout);
  assert(BigInt(String(upload[0].amount)) > 0n, "the upload was paid");
  const out = payments.filter((p) => p.direction === "out");
  assertEquals(sum(out), BigInt(costs[0].total), "the only job's costs are all that was spent");
  const books = history.lines.at(-1)!.books as { spent: { total: string } }[];
  assertEquals(sum(out), BigInt(books[0].spent.total));
  const forJob = await alice("wallet", "history", "--job", job);
  assertEquals(forJob.code, 0, forJob.stderr);
  const jobLines = forJob.lines.filter((l) => l.type === "payment");
  assertEquals(sum(jobLines), BigInt(costs[0].total));
  assert(jobLines.some((l) => l.category === "town-blob"), forJob.stdout);

  // A daily cap below the price: the invoice is refused, the job ends with no result.
  const refused = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:over the cap",
    "--bid",
    "100000",
    "--daily-cap",
    "1",
    "--wait",
  );
  assertEquals(refused.code, 1, refused.stderr);
  const refusedResult = refused.lines.at(-1)!;
  assertEquals([refusedResult.type, refusedResult.status], ["result", "payment-refused"]);
  const read = await alice("job", "results", String(refusedResult.job));
  assertEquals(read.code, 1, read.stderr);
  assertEquals(read.lines.map((l) => [l.type, l.status]), [["result", "payment-refused"]]);
  const refusedCosts = read.lines[0].costs as Costs;
  assertEquals(refusedCosts, refusedResult.costs);
  assertEquals(refusedCosts[0].provider, "0");
  assert(BigInt(refusedCosts[0].town) > 0n, "the request was a paid write");

  // The wallet and its channel in base units; whole tokens under `whole`.
  const balance = await alice("wallet", "balance");
  assertEquals(balance.code, 0, balance.stderr);
  const [wallet] = balance.lines;
  const [chain] = wallet.onChain as {
    token: string;
    decimals: number;
    whole: { token: string };
  }[];
  assertEquals(BigInt(chain.token), parseUnits(chain.whole.token, chain.decimals));
  const [channel] = wallet.channels as {
    deposit: string;
    spent: string;
    remaining: string;
    decimals: number;
    whole: { deposit: string; spent: string };
  }[];
  assertEquals(BigInt(channel.deposit), parseUnits(channel.whole.deposit, channel.decimals));
  assertEquals(BigInt(channel.spent), parseUnits(channel.whole.spent, channel.decimals));
  const after = await alice("wallet", "history");
  const spent = sum(after.lines.filter((l) => l.type === "payment" && l.direction === "out"));
  assertEquals(BigInt(channel.spent), spent, "the channel paid what the payment lines say");
});

/**
 * `job cancel` as docs/AGENTS.md "Cancelling a job" says, driven as an agent drives the CLI
 * (every command its own process, stdout parsed line by line, exit codes checked), on real
 * peers: `chain up`, `town up`, alice's profile with an automatic payment channel
 * (harness/auto_channel_network.ts). A job is posted to a provider that is not there, so
 * no provider ever starts it; then four `job cancel`s of it run at once while the town is slow
 * (stopped with SIGSTOP until the four reach the profile's node), and a fifth after:
 *
 * - one kind 5 deletion is sent and paid, and one `job` line says `cancelled`: the other cancels
 *   send nothing and print `{"type":"error","code":"no-job","status":"cancelled"}`, exit 2;
 * - the cancel's line states what it cost: `cancelCosts` (the kind 5's fee, the payment log's
 *   payment for the `deletion` event) and `costs` (the job's, that fee among them);
 * - nothing else is paid: no provider invoice, and the job's payments (`wallet history --job`)
 *   are the request's write and the kind 5's, summing to `costs[].total`, which `job wait`
 *   prints too.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { agentCli } from "../../harness/agent_cli.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { callNode } from "../../cli/node_call.ts";

/**
 * Waits until the profile's node has `n` commands connected besides this `hello` (the cancels in
 * their requests), on three `hello`s in a row (a command's own `hello` is over in a moment).
 */
async function nodeServing(stateDir: string, n: number): Promise<void> {
  let seen = 0;
  for (let i = 0; i < 2400 && seen < 3; i++) {
    let clients = 0;
    try {
      for await (const line of callNode(stateDir, { op: "hello" })) {
        if (line.type === "hello") clients = Number(line.clients) - 1;
      }
    } catch {
      // not started yet: the first cancel starts it
    }
    seen = clients >= n ? seen + 1 : 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert(seen >= 3, `hang guard: the node never served ${n} commands at once`);
}

Deno.test("agent: job cancel sends one kind 5, states its fee, pays nothing more (anvil)", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "agent_cancel_" });
  const alice = agentCli({ profile: "alice", env: net.env, secret: net.secret });

  // Addressed to a provider that is not there (--force posts it anyway): nobody starts it.
  const posted = await alice(
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
  assertEquals(posted.code, 0, posted.stderr);
  assertEquals(posted.lines.map((l) => l.type), ["job"]);
  const job = String(posted.lines[0].id);

  // Four cancels at once while the town is slow (stopped: every write waits for it), so that
  // each reaches the node while the first one's deletion is on its way: one sends the
  // deletion, the others nothing.
  net.town.child.kill("SIGSTOP");
  const racing = Array.from({ length: 4 }, () => alice("job", "cancel", job.slice(0, 12)));
  await nodeServing(net.aliceState, 4);
  net.town.child.kill("SIGCONT");
  const cancels = await Promise.all(racing);
  const sent = cancels.filter((c) => c.code === 0);
  assertEquals(sent.length, 1, cancels.map((c) => c.stdout + c.stderr).join("\n"));
  const [line] = sent[0].lines;
  assertEquals(sent[0].lines.length, 1, sent[0].stdout);
  assertEquals([line.type, line.id, line.status], ["job", job, "cancelled"]);
  for (const refused of cancels.filter((c) => c.code !== 0)) {
    assertEquals(refused.code, 2, refused.stderr);
    assertEquals(refused.lines.length, 1, refused.stdout);
    assertEquals(
      [refused.lines[0].type, refused.lines[0].code, refused.lines[0].status],
      ["error", "no-job", "cancelled"],
    );
  }
  const again = await alice("job", "cancel", job);
  assertEquals(again.code, 2, again.stderr);
  assertEquals(
    again.lines.map((l) => [l.type, l.code, l.status]),
    [["error", "no-job", "cancelled"]],
  );

  // The town holds one deletion of the job, the one the cancel's line names.
  const { events } = await queryRelay(`ws://127.0.0.1:${net.townPort}`, [
    { kinds: [5], "#e": [job] },
  ]);
  assertEquals(events.map((e) => e.id), [line.deletion]);

  // What it cost: the kind 5's fee, among the job's costs; no provider was paid.
  type Costs = { asset: string; provider: string; town: string; total: string }[];
  const costs = line.costs as Costs;
  const fee = line.cancelCosts as Costs;
  assertEquals(costs.length, 1, JSON.stringify(line));
  assertEquals(fee.length, 1, JSON.stringify(line));
  assertEquals(costs[0].provider, "0");
  assert(BigInt(fee[0].total) > 0n, "the kind 5 is a paid write");
  assertEquals(fee[0].total, fee[0].town);

  // The job's payments: its request's write and the kind 5, nothing else; they sum to its costs.
  const history = await alice("wallet", "history", "--job", job);
  assertEquals(history.code, 0, history.stderr);
  const payments = history.lines.filter((l) => l.type === "payment");
  assertEquals(history.lines.at(-1)?.type, "wallet-history");
  assertEquals(
    payments.map((p) => [p.category, p.state, p.direction]),
    [["town-write", "paid", "out"], ["town-write", "paid", "out"]],
  );
  assertEquals(payments.map((p) => p.invoiceId), [job, line.deletion]);
  assertEquals(payments[1].amount, fee[0].total);
  const sum = payments.reduce((n, p) => n + BigInt(String(p.amount)), 0n);
  assertEquals(String(sum), costs[0].total);

  // `job wait` reads the same from the record: cancelled, the same costs, exit 1.
  const waited = await alice("job", "wait", job);
  assertEquals(waited.code, 1, waited.stderr);
  assertEquals(waited.lines.map((l) => [l.type, l.status]), [["result", "cancelled"]]);
  assertEquals(waited.lines[0].costs, costs);
});

/**
 * The provider's own failures cost the requester no deposit (docs/PROTOCOL.md "Refunds: the
 * provider's own failures"), end to end: a town, the real provider node (`node up`, its presets
 * from config.toml) with the agent-task skill and scripted agents (shell scripts, no model), the
 * real sandbox and git, and a requester profile driven through its CLI. A provider SIGKILLed
 * mid-agent and restarted gives the deposit back once (and not again after a second restart); a
 * preset whose command the sandbox cannot find costs no deposit either. Both books, the
 * provider's and the requester's, say the same.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { hasProcessWith } from "../support/process_scan.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

/** One payment-log line, as the tests read it. */
interface Line {
  direction: "in" | "out";
  event: string;
  jobId: string;
  invoiceId: string;
  amount: string;
  category?: string;
  fulfillment?: string;
}

async function paymentLines(stateDir: string, jobId: string): Promise<Line[]> {
  return ((await openPaymentLog({ stateDir })).entries()).map((l) => l as unknown as Line)
    .filter((l) => l.jobId === jobId);
}

/** A provider (`node up`, presets from its config.toml) and a requester on one town. */
async function refundNetwork(preset: string, command: string) {
  const apiKey = "sk-provider-refund";
  const api = await startStandInModelApi({ apiKey });
  const skills = await agentSkillsDir({
    // Waits (in the sandbox, which sees the skill's folder as it is) until the test says go.
    "slow.sh": [
      `while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.1; done`,
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
  });
  const net = await startRequesterNetwork({ provider: false });
  const root = `${net.root}/beta`;
  await Deno.mkdir(`${root}/state`, { recursive: true });
  await Deno.writeTextFile(`${root}/pass`, "provider passphrase\n");
  await initWalletWithCli({ stateDir: `${root}/state`, passphraseFile: `${root}/pass` });
  await Deno.writeTextFile(
    `${root}/state/config.toml`,
    [
      `[agents.${preset}]`,
      `command = "${command.replaceAll("$SKILLS", skills)}"`,
      "budget = 1000",
      `upstream = "${api.url}"`,
      'api_key_env = "BETA_MODEL_KEY"',
      "",
    ].join("\n"),
  );
  const up = () =>
    spawnCli([
      "--state-dir",
      `${root}/state`,
      "--output",
      "json",
      "node",
      "up",
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", "btp+ws://beta:b@"),
      "--btp-token",
      "b",
      "--relay-url",
      net.relayUrl,
      "--town-pubkey",
      net.town.pubkey,
      "--skills-dir",
      skills,
      "--passphrase-file",
      `${root}/pass`,
      "--non-interactive",
    ], { env: { BETA_MODEL_KEY: apiKey } });
  const alice = await requesterProfile(net);
  const repo = await tempGitRepo(`${net.root}/repo`);
  await commitAgentSample(repo);
  const submit = (agent: string, provider: string, ...more: string[]) =>
    alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repo.dir,
      "--title",
      "Fix add",
      "--accept",
      "sh test.sh",
      "--agent",
      agent,
      "--bid",
      "1000000",
      "--provider",
      provider,
      ...more,
    );
  return {
    net,
    skills,
    up,
    alice,
    submit,
    providerState: `${root}/state`,
    aliceState: `${net.root}/agent-home/alice`,
    async stop() {
      await net.stop();
      await api[Symbol.asyncDispose]();
      await Deno.remove(skills, { recursive: true }).catch(() => {});
    },
  };
}

type RefundNetwork = Awaited<ReturnType<typeof refundNetwork>>;

/**
 * The job's books on both sides: one deposit paid and given back, the same amount and
 * fulfillment on each; the requester's job record and costs say so, and it paid the provider
 * nothing net.
 */
async function assertRefundedOnce(
  n: RefundNetwork,
  id: string,
  result: Record<string, unknown>,
): Promise<string> {
  const aliceLines = await paymentLines(n.aliceState, id);
  const paid = aliceLines.filter((l) =>
    l.direction === "out" && l.event === "fulfilled" && (l.category ?? "job") === "job"
  );
  assertEquals(paid.length, 1, JSON.stringify(aliceLines));
  const deposit = paid[0].amount;
  const taken = aliceLines.filter((l) => l.direction === "in");
  assertEquals(taken.length, 1, JSON.stringify(aliceLines));
  assertEquals([taken[0].event, taken[0].amount], ["fulfilled", deposit]);
  const providerLines = await paymentLines(n.providerState, id);
  const refunds = providerLines.filter((l) => l.invoiceId === `refund:${id}`);
  assertEquals(refunds.map((l) => [l.direction, l.event, l.amount]), [
    ["out", "intent", deposit],
    ["out", "fulfilled", deposit],
  ]);
  assertEquals(refunds[1].fulfillment, taken[0].fulfillment);
  assertEquals(
    providerLines.filter((l) => l.direction === "in" && l.event === "fulfilled").length,
    1,
  );
  const records = await openJobRepository({ stateDir: n.aliceState, readOnly: true });
  const record = (await records.read(id))!;
  records.close();
  assertEquals(record.refund?.amount, BigInt(deposit));
  const history = await n.alice("wallet", "history", "--job", id);
  assertEquals(history.code, 0, history.stderr);
  const inHistory = history.lines.filter((l) => l.type === "payment" && l.direction === "in");
  assertEquals(inHistory.map((l) => l.amount), [deposit]);
  const costs = (result.costs as Record<string, string>[])[0];
  assertEquals([costs.provider, costs.refunded], ["0", deposit], JSON.stringify(costs));
  // What the requester spent on the job: its writes only.
  assertEquals(costs.total, costs.town);
  return deposit;
}

Deno.test("agent-task: a provider SIGKILLed mid-agent and restarted gives the requester its deposit back, once, on both books; a second restart gives nothing more", async () => {
  const n = await refundNetwork("slow", "sh $SKILLS/agent-task/agents/slow.sh");
  let provider: ReturnType<typeof spawnCli> | undefined;
  try {
    provider = n.up();
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };
    const posted = await n.submit("slow", info.pubkey);
    assertEquals(posted.code, 0, posted.stderr + posted.stdout);
    const id = String(posted.lines.find((l) => l.type === "job")!.id);
    while (!(await hasProcessWith(`${n.providerState}/work/${id}`))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    provider.child.kill("SIGKILL");
    await provider.done;
    await Deno.writeTextFile(`${n.skills}/agent-task/agents/go`, "");
    provider = n.up();
    await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"'));
    const waited = await n.alice("job", "wait", id);
    const end = waited.lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "error", JSON.stringify(end));
    assertEquals((end.receipts as unknown[]).length, 1, JSON.stringify(end.receipts));
    const deposit = await assertRefundedOnce(n, id, end);
    assert(BigInt(deposit) > 0n);
    // A second crash and restart of the provider: the refund is not sent again.
    provider.child.kill("SIGKILL");
    await provider.done;
    provider = n.up();
    await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"'));
    const again = await n.alice("job", "wait", id);
    await assertRefundedOnce(n, id, again.lines.find((l) => l.type === "result")!);
  } finally {
    if (provider) {
      try {
        provider.child.kill("SIGTERM");
      } catch { /* it ended already: its error is the test's */ }
      await provider.done;
    }
    await n.stop();
  }
});

Deno.test("agent-task: a preset whose command the sandbox cannot find costs the requester no deposit", async () => {
  // A program named by a path the shell computes passes node up's check (which refuses a command
  // it can tell is missing: roles/provider/sandbox/sandbox_command.ts); the job finds nothing.
  const n = await refundNetwork("missing", "$TURNPIKE_AGENTS/no-such-agent-command --fix");
  let provider: ReturnType<typeof spawnCli> | undefined;
  try {
    provider = n.up();
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };
    const posted = await n.submit("missing", info.pubkey);
    assertEquals(posted.code, 0, posted.stderr + posted.stdout);
    const id = String(posted.lines.find((l) => l.type === "job")!.id);
    const end = (await n.alice("job", "wait", id)).lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "error", JSON.stringify(end));
    assert(String(end.error).includes("preset-cannot-run"), String(end.error));
    await assertRefundedOnce(n, id, end);
  } finally {
    if (provider) {
      try {
        provider.child.kill("SIGTERM");
      } catch { /* it ended already: its error is the test's */ }
      await provider.done;
    }
    await n.stop();
  }
});

Deno.test("agent-task: a Gas Town worker's job (--worker) that its provider cannot run gets its deposit back too, taken with the worker's key", async () => {
  // The refund's lock is the provider's and the request's author's conversation key: a worker's
  // job is posted by the worker's key (docs/PROTOCOL.md "Gas Town workers").
  const n = await refundNetwork("missing", "$TURNPIKE_AGENTS/no-such-agent-command --fix");
  let provider: ReturnType<typeof spawnCli> | undefined;
  try {
    provider = n.up();
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };
    const posted = await n.submit("missing", info.pubkey, "--worker", "myrig/polecats/p1");
    assertEquals(posted.code, 0, posted.stderr + posted.stdout);
    const id = String(posted.lines.find((l) => l.type === "job")!.id);
    const end = (await n.alice("job", "wait", id)).lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "error", JSON.stringify(end));
    await assertRefundedOnce(n, id, end);
  } finally {
    if (provider) {
      try {
        provider.child.kill("SIGTERM");
      } catch { /* it ended already: its error is the test's */ }
      await provider.done;
    }
    await n.stop();
  }
});

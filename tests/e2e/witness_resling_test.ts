/**
 * The Witness (docs/AGENTS.md "The Witness", docs/PROTOCOL.md "Agent heartbeat"): a bead slung
 * as an agent task to provider beta, whose agent waits; beta stops beating (SIGSTOPped, or
 * SIGKILLed: gone); `turnpike witness` marks the worker stalled after three beats, cancels the
 * job and slings the bead again to gamma, which delivers. The bead is paid once: beta got its
 * deposit only, gamma its deposit and the delivery (job records and payment logs). Beta
 * SIGCONTed afterwards finishes its agent: its late result is not paid.
 *
 * Real processes throughout: a town, two providers (`turnpike node up`, scripted agent presets
 * in their config.toml, a 1 s agent heartbeat), the requester's CLI, its background node and the
 * Witness.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { type RequesterNetwork, startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

/** The providers' agent beat (s): a worker silent for 3 s is stalled. */
const BEAT_S = 1;
/** Fixes add. */
const FIX = [
  "set -e",
  `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
  "git commit -q -am 'add: add, not subtract'",
];

/** A provider `name` with a preset `slow` running `script`; its pubkey once up. */
async function startProvider(
  net: RequesterNetwork,
  name: string,
  skills: string,
): Promise<{ process: CliProcess; pubkey: string; state: string }> {
  const state = `${net.root}/${name}/state`;
  await Deno.mkdir(state, { recursive: true });
  await Deno.writeTextFile(`${net.root}/${name}/pass`, `${name} passphrase\n`);
  await initWalletWithCli({ stateDir: state, passphraseFile: `${net.root}/${name}/pass` });
  await Deno.writeTextFile(
    `${state}/config.toml`,
    [
      "[agents.slow]",
      `command = "sh ${skills}/agent-task/agents/slow.sh"`,
      "budget = 1000",
      'upstream = "http://127.0.0.1:9"',
      'api_key_env = "MODEL_KEY"',
      "",
    ].join("\n"),
  );
  const process = spawnCli([
    "--state-dir",
    state,
    "--output",
    "json",
    "node",
    "up",
    "--connector-btp-url",
    net.btpUrl.replace("btp+ws://", `btp+ws://${name}:${name}@`),
    "--btp-token",
    name,
    "--relay-url",
    net.relayUrl,
    "--town-pubkey",
    net.town.pubkey,
    "--skills-dir",
    skills,
    "--passphrase-file",
    `${net.root}/${name}/pass`,
    "--non-interactive",
    "--agent-heartbeat",
    String(BEAT_S),
  ], { env: { MODEL_KEY: "sk-unused" } });
  const { pubkey } = JSON.parse(
    await process.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
  ) as { pubkey: string };
  return { process, pubkey, state };
}

/** Payments of `job` a provider's log holds coming in. */
async function paymentsIn(state: string, job: string): Promise<number> {
  const lines = (await openPaymentLog({ stateDir: state })).entries();
  return lines.filter((l) => l.jobId === job && l.direction === "in").length;
}

for (const signal of ["SIGSTOP", "SIGKILL"] as const) {
  const how = signal === "SIGSTOP" ? "SIGSTOPped mid-agent" : "that vanishes (SIGKILL)";
  Deno.test(`witness: a provider ${how} is marked stalled, its job cancelled and the bead slung again to a second provider that delivers; the bead is paid once`, async () => {
    // beta's agent waits for `go` beside it, then fixes add; gamma's fixes add at once.
    const slowSkills = await agentSkillsDir({
      "slow.sh": [`while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.1; done`, ...FIX].join("\n"),
    });
    const quickSkills = await agentSkillsDir({ "slow.sh": FIX.join("\n") });
    const go = `${slowSkills}/agent-task/agents/go`;
    const net = await startRequesterNetwork({ provider: false });
    const home = `${net.root}/agent-home`;
    const env = { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" };
    const started: CliProcess[] = [];
    let stopped: CliProcess | undefined;
    try {
      console.log("step: providers");
      const beta = await startProvider(net, "beta", slowSkills);
      started.push(beta.process);
      const gamma = await startProvider(net, "gamma", quickSkills);
      started.push(gamma.process);
      const alice = await requesterProfile(net);
      const secret = ["--passphrase-file", `${home}/pw`, "--non-interactive"];
      const repo = await tempGitRepo(`${net.root}/repo`);
      await commitAgentSample(repo);
      const bead = `${net.root}/bead.json`;
      await Deno.writeTextFile(bead, JSON.stringify([{ id: "gt-7", title: "Fix add" }]));
      const posted = await alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--bead",
        bead,
        "--title",
        "Fix add",
        "--accept",
        "sh test.sh",
        "--agent",
        "slow",
        "--bid",
        "1000000",
        "--provider",
        beta.pubkey,
      );
      assertEquals(posted.code, 0, posted.stderr + posted.stdout);
      const first = String(posted.lines.find((l) => l.type === "job")!.id);
      console.log(`step: posted ${first}`);

      // 1. At work: the Witness sees it alive, beating, its spend said.
      const patrol = async () => {
        const out = await runCli(
          ["--profile", "alice", "--json", "witness", "--once", ...secret],
          { env },
        );
        assertEquals(out.code, 0, out.stderr);
        return out.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
      };
      let seen: Record<string, unknown> | undefined;
      await waitUntil(
        async () => {
          seen = (await patrol()).find((w) => w.job === first);
          return seen?.state === "alive" && seen.spend !== undefined;
        },
        120_000,
        "the worker alive with its spend",
      );
      assertEquals([seen!.type, seen!.key, seen!.provider, seen!.periodS], [
        "worker",
        "bead:gt-7",
        beta.pubkey,
        BEAT_S,
      ]);

      // 2. Beta stops beating: stalled, cancelled, slung again to gamma, which delivers.
      beta.process.child.kill(signal);
      if (signal === "SIGSTOP") stopped = beta.process;
      else await beta.process.done;
      const witness = spawnCli(
        ["--profile", "alice", "--json", "witness", "--every", "1", ...secret],
        { env },
      );
      started.push(witness);
      const reslung = JSON.parse(
        await witness.waitForLine((l) => l.includes(first) && l.includes('"reslung"')),
      );
      const second = String(reslung.reslungTo);
      console.log(`step: slung again as ${second}`);
      assert(second !== first && /^[0-9a-f]{64}$/.test(second), second);
      const waited = await runCli(["--profile", "alice", "--json", "job", "wait", second], {
        env,
      });
      assertEquals(waited.code, 0, waited.stderr + waited.stdout);
      const delivered = JSON.parse(
        await witness.waitForLine((l) => l.includes(second) && l.includes('"delivered"')),
      );
      assertEquals([delivered.provider, delivered.key], [gamma.pubkey, "bead:gt-7"]);

      console.log("step: delivered");
      // The bead paid once: beta got its deposit only, gamma its deposit and the delivery.
      const status = async (id: string) => {
        const out = await alice("job", "status", id);
        return out.lines[0] as { status: string; payments: { status: string }[] };
      };
      const old = await status(first);
      const now = await status(second);
      assertEquals(old.status, "cancelled");
      assertEquals(old.payments.filter((p) => p.status === "paid").length, 1);
      assertEquals(now.status, "done");
      assertEquals(now.payments.filter((p) => p.status === "paid").length, 2);
      assertEquals(await paymentsIn(gamma.state, second), 2);

      // 3. Beta back (SIGCONT) with its agent let go: whatever it publishes is not paid.
      if (stopped) {
        await Deno.writeTextFile(go, "");
        stopped.child.kill("SIGCONT");
        stopped = undefined;
        console.log("step: SIGCONT");
        // Its log (stderr): the kind 5 seen, or its agent's run ended.
        const ended = (l: string) =>
          l.includes(`cancel ${first}`) || l.includes(`agent-task ${first.slice(0, 12)} slow:`);
        await waitUntil(() => beta.process.stderr.some(ended), 120_000, "beta's end of the job");
        console.log("step: beta ended its job");
        assertEquals((await status(first)).status, "cancelled");
        assertEquals((await status(first)).payments.filter((p) => p.status === "paid").length, 1);
        witness.child.kill("SIGTERM");
        await witness.done;
        beta.process.child.kill("SIGTERM");
        await beta.process.done;
      }
      assertEquals(await paymentsIn(beta.state, first), 1);
    } finally {
      await Deno.writeTextFile(go, "").catch(() => {});
      if (stopped) stopped.child.kill("SIGCONT");
      for (const p of started) {
        try {
          p.child.kill("SIGTERM");
        } catch {
          // ended already
        }
        await p.done;
      }
      await runCli(["--profile", "alice", "node", "stop"], { env });
      await net.stop();
      await Deno.remove(slowSkills, { recursive: true }).catch(() => {});
      await Deno.remove(quickSkills, { recursive: true }).catch(() => {});
    }
  });
}

/**
 * What an agent-task costs around the agent (docs/PROTOCOL.md "agent-task (kind 5603)"), end to
 * end on a real repository (this one by default, `--depth 50`): a town and the provider node in
 * this process, the real sandbox and gateway, a stand-in model API (a mock: no model runs here)
 * and a requester profile driven through its CLI. The agent is a script that makes one model
 * call and one commit and stamps its own start and end into that commit, so the time turnpike
 * adds is the job's wall time (from `job submit` to `done`) less the agent's own run; then
 * `job results --apply` (into a local clone of the repository). Prints the repository bundle's size (as sent, sealed), the result
 * bundle's, the phases from the job's progress lines, and what the job cost besides the model
 * (its invoices, and their parts when the provider gives them).
 *
 * `--tasks N` (default 3) submits N tasks in a row, one line of figures each: the first makes and
 * uploads the repository bundle, the second, on the same base, finds it in the profile's cache
 * (roles/agent_work/requester/repository_bundle_cache.ts) and the provider's checkout in its own
 * (roles/agent_work/provider/checkout_cache.ts); from the third on, each on a new base (one commit
 * more in the clone), goes as the first task's blob and a delta of the new commits
 * (roles/agent_work/repository_delta.ts; docs/PROTOCOL.md "A new base as a delta").
 *
 * The requester's node stays up between the tasks (its default idle timeout, 300 s), as it does
 * between a user's commands; `--idle 2` starts one for each command instead.
 *
 * Run: deno run -A bench/agent_task_bench_script.ts [--repo DIR] [--depth 50] [--tasks 3] [--idle 300]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startRequesterNetwork } from "../harness/requester_network.ts";
import { agentSkillsDir, requesterProfile, scriptedPreset } from "../harness/agent_task_kit.ts";
import { agentCli } from "../harness/agent_cli.ts";
import { startStandInModelApi } from "../harness/stand_in_model_api.ts";
import { createRepositoryBundle } from "../roles/agent_work/repository_bundle.ts";
import { runGit } from "../roles/agent_work/git_command.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    repo: { type: "string", default: "." },
    depth: { type: "string", default: "50" },
    tasks: { type: "string", default: "3" },
    // The requester node's idle timeout (s): the default keeps it up between the tasks, as it
    // is between a user's commands; 2 starts one for each command.
    idle: { type: "string", default: "300" },
  },
});
// A local clone (hard links, fast): the branch --apply makes goes there, not into the original.
const source = await Deno.realPath(values.repo);
const repoDir = await Deno.makeTempDir({ prefix: "turnpike-bench-repo-" });
await runGit(["clone", "-q", source, repoDir]);
const depth = values.depth;

const stamp = [
  "s=$(date +%s%N)",
  `curl -sS -o /dev/null -X POST "$ANTHROPIC_BASE_URL/v1/messages" ` +
  `-H 'content-type: application/json' -d '{"model":"m","max_tokens":8,"messages":[]}'`,
  "echo stamped > turnpike-bench-stamp.txt",
  "git add turnpike-bench-stamp.txt && git commit -q -m 'bench: one commit'",
  'echo "$s $(date +%s%N)" > turnpike-bench-time.txt',
  "git add turnpike-bench-time.txt && git commit -q -m 'bench: the agent time'",
].join("\n");

const apiKey = "sk-bench";
await using api = await startStandInModelApi({ apiKey });
const skills = await agentSkillsDir({ "stamp.sh": stamp });
const net = await startRequesterNetwork({
  providerSkillsDir: skills,
  providerOptions: {
    agents: {
      stamp: scriptedPreset(skills, "stamp", {
        upstream: api.url,
        apiKey,
        inputPerMillion: 1000n,
        outputPerMillion: 5000n,
      }),
    },
  },
});
try {
  await requesterProfile(net);
  const home = `${net.root}/agent-home`;
  const alice = agentCli({
    profile: "alice",
    env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: values.idle },
    secret: ["--passphrase-file", `${home}/pw`, "--non-interactive"],
  });
  // The repository bundle as the CLI makes it (the same call): its size, and the time it takes.
  const probe = `${net.root}/probe.bundle`;
  const bundleStart = performance.now();
  const bundle = await createRepositoryBundle({
    repoDir,
    outPath: probe,
    depth: Number(depth),
  });
  const bundleMs = performance.now() - bundleStart;
  // `node status` starts no node: the first task's submit to sent counts the node's start (with
  // the wallet's unlock), the next ones find it up.
  await alice("node", "status");
  for (let task = 1; task <= Number(values.tasks); task++) {
    if (task >= 3) {
      await Deno.writeTextFile(`${repoDir}/turnpike-bench-base.txt`, `base ${task}\n`);
      await runGit(["add", "turnpike-bench-base.txt"], { dir: repoDir });
      await runGit([
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@turnpike.invalid",
        "commit",
        "-q",
        "-m",
        `bench: base ${task}`,
      ], { dir: repoDir });
    }
    const started = Date.now();
    const submitted = await alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repoDir,
      "--depth",
      depth,
      "--title",
      "bench: one commit",
      "--accept",
      "git log -1 --format=%H",
      "--agent",
      "stamp",
      "--bid",
      "10000000",
      "--provider",
      net.providerPubkey!,
      "--timeout",
      "600",
      "--wait",
    );
    const ended = Date.now();
    if (submitted.code !== 0) throw new Error(`submit: ${submitted.stderr}`);
    const result = submitted.lines.find((l) => l.type === "result")!;
    const id = String(result.job);
    const at = (status: string) => {
      const line = submitted.lines.find((l) => l.type === "progress" && l.status === status);
      return line === undefined ? NaN : Date.parse(String(line.at));
    };
    const applyStart = performance.now();
    const applied = await alice(
      "job",
      "results",
      id,
      "--apply",
      repoDir,
      "--branch",
      `bench/${id}`,
    );
    const applyMs = performance.now() - applyStart;
    if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
    const shown = (await alice("job", "results", id)).lines[0];
    const report = shown.report as { bundle: { bytes: number }; model: { cost: string } };
    const times = (await runGit(["show", `bench/${id}:turnpike-bench-time.txt`], { dir: repoDir }))
      .stdout.trim().split(" ").map((n) => Number(BigInt(n) / 1_000_000n));
    const agentMs = times[1] - times[0];
    const jobMs = ended - started;
    const figures = {
      task,
      repo: source,
      depth: Number(depth),
      repositoryBundleBytes: bundle.bytes,
      repositoryBundleCommits: bundle.commits,
      repositoryBundleMs: Math.round(bundleMs),
      resultBundleBytes: report.bundle.bytes,
      jobMs,
      agentMs,
      addedMs: jobMs - agentMs,
      submitToAgentStartMs: times[0] - started,
      agentEndToDoneMs: ended - times[1],
      submitToSentMs: at("sent") - started,
      sentToDepositPaidMs: at("paid") - at("sent"),
      depositPaidToResultMs: at("result") - at("paid"),
      resultToDoneMs: ended - at("result"),
      applyMs: Math.round(applyMs),
      costs: result.costs,
      // The provider's invoices as paid: the deposit, then the delivery.
      invoices: (result.receipts as { amount: string }[]).map((r) => r.amount),
      modelCost: report.model.cost,
    };
    console.log(JSON.stringify(figures));
  }
} finally {
  await agentCli({
    profile: "alice",
    env: { TURNPIKE_HOME: `${net.root}/agent-home` },
    secret: [],
  })("node", "stop").catch(() => {});
  await net.stop();
  await Deno.remove(skills, { recursive: true }).catch(() => {});
  await Deno.remove(repoDir, { recursive: true }).catch(() => {});
}

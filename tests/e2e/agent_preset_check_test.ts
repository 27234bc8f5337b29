/**
 * Agent presets that say what is wrong (docs/OPERATIONS.md "Agent presets"): `turnpike node up`
 * (the real CLI) tells every problem of every preset at once, a command the sandbox cannot run
 * among them, and exits 2 before it connects anywhere; a preset with only `command` (no model)
 * runs its jobs, its gateway refusing every call; an agent that exits non-zero ends its job with
 * its exit code and its last lines. The jobs go through a real town, the real provider node and
 * sandbox, and a requester profile driven through its CLI; the agents are shell scripts.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  modelFreePreset,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";

/** `node up` on `config`, pointed at nothing: a config problem ends it before any connection. */
async function nodeUp(config: string, skills: string) {
  const state = await Deno.makeTempDir({ prefix: "turnpike-preset-check-" });
  try {
    await Deno.writeTextFile(`${state}/config.toml`, config);
    return await runCli([
      "--state-dir",
      state,
      "node",
      "up",
      "--connector-btp-url",
      "btp+ws://p:p@127.0.0.1:1",
      "--btp-token",
      "p",
      "--relay-url",
      "ws://127.0.0.1:1",
      "--town-pubkey",
      "a".repeat(64),
      "--skills-dir",
      skills,
      "--generate-key",
      "--non-interactive",
    ]);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
}

Deno.test("node up with two bad presets and one the sandbox cannot run prints every problem at once, each naming its preset and key, and exits 2", async () => {
  const skills = await agentSkillsDir({ "tool.sh": "true" });
  try {
    const out = await nodeUp(
      [
        "[agents.cheap]",
        `command = "sh ${skills}/agent-task/agents/tool.sh"`,
        "price = -1",
        "[agents.gemini]",
        `command = "sh ${skills}/agent-task/agents/tool.sh"`,
        'flavor = "gemini"',
        'upstream = "http://127.0.0.1:9"',
        "[agents.claude]",
        `command = 'ANTHROPIC_API_KEY=placeholder claude -p "$(cat "$TURNPIKE_TASK")"'`,
        "[agents.tool]",
        `command = "sh ${skills}/agent-task/agents/tool.sh"`,
        "",
      ].join("\n"),
      skills,
    );
    assertEquals(out.code, 2, out.stderr);
    assertStringIncludes(out.stderr, "5 problems in [agents]");
    assertStringIncludes(out.stderr, "[agents.cheap] price: a whole number of base units >= 0");
    assertStringIncludes(out.stderr, '[agents.gemini] flavor: anthropic or openai, not "gemini"');
    assertStringIncludes(out.stderr, "[agents.gemini] budget: a whole number of base units >= 0");
    assertStringIncludes(out.stderr, "[agents.gemini]: give one of api_key_env and api_key_file");
    assertStringIncludes(
      out.stderr,
      '[agents.claude] command: "claude" is not found in the sandbox',
    );
    // The preset with only a command (no model) is fine.
    assert(!out.stderr.includes("[agents.tool]"), out.stderr);
  } finally {
    await Deno.remove(skills, { recursive: true });
  }
});

Deno.test("node up refuses a preset whose program is outside what the sandbox shows", async () => {
  const skills = await agentSkillsDir({});
  // A link on the sandbox's PATH to a program elsewhere on the host: the sandbox has no such file.
  const hidden = await Deno.makeTempDir({ prefix: "turnpike-preset-outside-" });
  try {
    await Deno.writeTextFile(`${hidden}/agent`, "#!/bin/sh\ntrue\n", { mode: 0o755 });
    await Deno.mkdir(`${skills}/agent-task/agents/node_modules/.bin`, { recursive: true });
    await Deno.symlink(`${hidden}/agent`, `${skills}/agent-task/agents/node_modules/.bin/agent`);
    const out = await nodeUp(
      [
        "[agents.linked]",
        'command = "agent --fix"',
        'upstream = "http://127.0.0.1:9"',
        "budget = 1",
        'api_key_env = "HOME"',
        "",
      ].join("\n"),
      skills,
    );
    assertEquals(out.code, 2, out.stderr);
    assertStringIncludes(out.stderr, '[agents.linked] command: "agent" cannot run in the sandbox');
    assertStringIncludes(out.stderr, "is outside what the sandbox shows");
  } finally {
    await Deno.remove(skills, { recursive: true });
    await Deno.remove(hidden, { recursive: true });
  }
});

/** A network whose provider serves `agents`, the sample repository and a submit of it. */
async function agentNetwork(scripts: Record<string, string>, presets: Partial<AgentPreset>[]) {
  const skills = await agentSkillsDir(scripts);
  const agents: Record<string, AgentPreset> = {};
  for (const p of presets) {
    agents[p.name!] = { ...modelFreePreset(skills, p.name!), ...p };
  }
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents },
  });
  const alice = await requesterProfile(net);
  const repo = await tempGitRepo(`${net.root}/repo`);
  await commitAgentSample(repo);
  const submit = (agent: string) =>
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
      net.providerPubkey!,
      "--wait",
    );
  return {
    net,
    alice,
    repo,
    submit,
    async [Symbol.asyncDispose]() {
      await net.stop();
      await Deno.remove(skills, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("agent-task: a preset with only a command (no upstream) runs its job, its gateway refusing every call", async () => {
  await using t = await agentNetwork({
    // Tries the model (refused: no upstream), then does the work as a tool would.
    "tool.sh": [
      "set -e",
      `curl -sS -o /dev/null -w '%{http_code}\\n' -X POST "$ANTHROPIC_BASE_URL/v1/messages" ` +
      `-H 'content-type: application/json' -d '{"model":"m","max_tokens":1,"messages":[]}' ` +
      "> model-call.txt",
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git add add.sh model-call.txt",
      "git commit -q -m 'add: add, not subtract'",
    ].join("\n"),
  }, [{ name: "tool" }]);
  const done = await t.submit("tool");
  assertEquals(done.code, 0, done.stderr + done.stdout);
  const id = String(done.lines.find((l) => l.type === "result")!.job);
  const applied = await t.alice("job", "results", id, "--apply");
  assertEquals([applied.code, applied.lines[0].verdict], [0, "passed"], applied.stderr);
  const dir = `${t.net.root}/applied`;
  await t.repo.git("worktree", "add", "-q", dir, String(applied.lines[0].branch));
  // The gateway answered the model call 403: this preset has no model.
  assertEquals((await Deno.readTextFile(`${dir}/model-call.txt`)).trim(), "403");
});

Deno.test("agent-task: an agent that exits 3 having committed nothing ends its job with exit 3 and its last lines, not no-commits", async () => {
  await using t = await agentNetwork({
    "crash.sh": [
      "echo 'crash: looking at add.sh'",
      "echo 'crash: the first of the last words' >&2",
      "echo 'crash: cannot go on'",
      "exit 3",
    ].join("\n"),
  }, [{ name: "crash", upstream: "http://127.0.0.1:9", apiKey: "sk-unused", budget: 1n }]);
  const crashed = await t.submit("crash");
  assert(crashed.code !== 0, crashed.stderr);
  const end = crashed.lines.find((l) => l.type === "result")!;
  assertEquals(end.status, "error", JSON.stringify(end));
  const error = String(end.error);
  assertStringIncludes(error, "the preset crash exited 3");
  assertStringIncludes(error, "crash: the first of the last words\ncrash: cannot go on");
  assert(!error.includes("no-commits"), error);
});

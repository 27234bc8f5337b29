/**
 * The real coding agents in the sandbox (docs/OPERATIONS.md "Agent presets"): Claude Code and
 * Codex, the pinned binaries `deno task setup:agents` installs into the agent-task skill's folder,
 * run by the documented preset commands ({@linkcode CLAUDE_COMMAND}, {@linkcode CODEX_COMMAND}) on
 * the real provider node, in the real sandbox, through the job's gateway. No real model can be
 * reached from this machine, so each talks to a stand-in model API
 * (tests/support/stand_in_agent_apis.ts) that scripts its answer: one shell tool call that fixes
 * the sample repository's failing test (fixtures/agent-repo) and commits, then a final text.
 *
 * For each agent: the job is done, its branch applies and passes the gate; the spend is metered
 * from the streams' usage fields (1,000 input and 200 output tokens each call); what else the
 * client calls is refused and logged, and the job goes on; the transcript holds the tool call.
 * Then a job stopped at its budget: nothing delivered, its transcript kept on the provider.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { commitAgentSample, requesterProfile } from "../../harness/agent_task_kit.ts";
import { startStandInAgentApi } from "../support/stand_in_agent_apis.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { ensureNpmPrefix } from "../../tools/npm_prefix_install.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";
import { parse as parseToml } from "smol-toml";

const AGENTS = new URL("../../skills/agent-task/agents", import.meta.url).pathname;
/** What the scripted tool call runs in the worktree: the fix, committed. */
const FIX = `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh && git commit -qam 'add: add, not subtract'`;
/** What the agent leaves uncommitted is committed after it (docs/OPERATIONS.md). */
const COMMIT_REST =
  `{ git add -A; git diff --cached --quiet || git commit -qm "agent: the rest of the work"; }`;
/** The documented Claude Code preset's command (docs/OPERATIONS.md "Agent presets"). */
export const CLAUDE_COMMAND = `ANTHROPIC_API_KEY=placeholder IS_SANDBOX=1 claude -p ` +
  `"$(cat "$TURNPIKE_TASK")" --dangerously-skip-permissions --output-format stream-json ` +
  `--verbose && ${COMMIT_REST}`;
/** The documented Codex preset's command (docs/OPERATIONS.md "Agent presets"). */
export const CODEX_COMMAND = `OPENAI_API_KEY=placeholder codex exec --json -m gpt-4.1 ` +
  `--dangerously-bypass-approvals-and-sandbox --skip-git-repo-check -c model_provider=gateway ` +
  `-c "model_providers.gateway={name=\\"gateway\\",base_url=\\"$OPENAI_BASE_URL\\",` +
  `env_key=\\"OPENAI_API_KEY\\",wire_api=\\"responses\\"}" "$(cat "$TURNPIKE_TASK")" ` +
  `&& ${COMMIT_REST}`;

type Report = {
  model: {
    calls: number;
    refused: number;
    inputTokens: number;
    outputTokens: number;
    cost: string;
    refusals: { method: string; target: string; status: number; code: string }[];
  };
};

Deno.test("agent-task: the real Claude Code and Codex fix a failing test in the sandbox through the gateway against stand-in model APIs, metered, other calls refused and logged, the transcript holding the tool call, a failed job's transcript kept", async () => {
  await ensureNpmPrefix(AGENTS);
  const apiKey = `sk-provider-${crypto.randomUUID()}`;
  await using anthropic = await startStandInAgentApi({ flavor: "anthropic", apiKey, command: FIX });
  await using openai = await startStandInAgentApi({ flavor: "openai", apiKey, command: FIX });
  const preset = (
    name: string,
    command: string,
    flavor: "anthropic" | "openai",
    budget: bigint,
  ): AgentPreset => ({
    name,
    command,
    price: 0n,
    budget,
    flavor,
    upstream: flavor === "anthropic" ? anthropic.url : openai.url,
    apiKey,
    // 1,000 input and 200 output tokens a call: 1 + 1 units a call.
    inputPerMillion: 1000n,
    outputPerMillion: 5000n,
    headers: flavor === "anthropic" ? { "anthropic-version": "2023-06-01" } : {},
  });
  const net = await startRequesterNetwork({
    providerOptions: {
      agents: {
        claude: preset("claude", CLAUDE_COMMAND, "anthropic", 1000n),
        codex: preset("codex", CODEX_COMMAND, "openai", 1000n),
        // Stopped at its first call: a failed job.
        "claude-poor": preset("claude-poor", CLAUDE_COMMAND, "anthropic", 1n),
      },
    },
  });
  await using _stop = { [Symbol.asyncDispose]: () => net.stop() };
  const alice = await requesterProfile(net);
  const submit = async (agent: string) => {
    const repo = await tempGitRepo(`${net.root}/repo-${agent}`);
    await commitAgentSample(repo);
    const out = await alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repo.dir,
      "--title",
      "Fix add: add.sh subtracts, sh test.sh fails",
      "--accept",
      "sh test.sh",
      "--agent",
      agent,
      "--bid",
      "1000000",
      "--provider",
      net.providerPubkey!,
      "--timeout",
      "300",
      "--wait",
    );
    return { out, repo };
  };

  for (
    const [agent, api, toolCall] of [
      ["claude", anthropic, '"type":"tool_use"'],
      ["codex", openai, '"type":"command_execution"'],
    ] as const
  ) {
    const before = api.seen.length;
    const { out, repo } = await submit(agent);
    const result = out.lines.find((l) => l.type === "result")!;
    assertEquals(result?.status, "done", `${agent}: ${out.stdout}\n${out.stderr}`);
    const id = String(result.job);
    const applied = await alice("job", "results", id, "--apply");
    assertEquals(applied.code, 0, applied.stderr);
    const line = applied.lines[0];
    assertEquals([line.type, line.verdict], ["applied", "passed"], JSON.stringify(line));
    await repo.git("checkout", "-q", String(line.branch));
    assertStringIncludes(await Deno.readTextFile(`${repo.dir}/add.sh`), "$1 + $2");
    assertEquals(await repo.git("log", "-1", "--format=%s"), "add: add, not subtract");
    // The transcript holds the tool call and the final text.
    const transcript = await Deno.readTextFile(String(line.transcript));
    assertStringIncludes(transcript, toolCall);
    assertStringIncludes(transcript, "add: add, not subtract");
    assertStringIncludes(transcript, "stand-in: the tool ran");
    // Metered from the streams: every answered call, 1,000 + 200 tokens each.
    const saved = await alice("job", "results", id, "--save", `${net.root}/saved-${agent}`);
    const report = saved.lines[0].report as Report;
    const answered = api.seen.slice(before).filter((r) => /^(tool|final|text)$/.test(r.answer));
    assert(answered.some((r) => r.answer === "tool") && answered.some((r) => r.answer === "final"));
    assertEquals(report.model.calls, answered.length, JSON.stringify(report.model));
    assertEquals(
      [report.model.inputTokens, report.model.outputTokens, report.model.cost],
      [1000 * answered.length, 200 * answered.length, String(2 * answered.length)],
    );
    assert(api.seen.slice(before).every((r) => r.answer !== "401"), "the provider's key went");
    // Whatever else it called was refused and logged; the job went on.
    assertEquals(report.model.refused, report.model.refusals.length);
    assert(report.model.refusals.every((r) => r.status === 403), JSON.stringify(report.model));
    console.log(
      `${agent}: ${
        api.seen.slice(before).map((r) =>
          `${r.method} ${r.target} ${r.bytes} B -> ${r.answer} ${r.answeredBytes} B`
        ).join("; ")
      }; refused: ${
        report.model.refusals.map((r) => `${r.method} ${r.target} ${r.status}`).join(", ") || "none"
      }; transcript ${transcript.length} B`,
    );
  }

  // Stopped at its budget: nothing delivered; its transcript kept on the provider.
  const { out } = await submit("claude-poor");
  const failed = out.lines.find((l) => l.type === "result")!;
  assertEquals(failed?.status, "error", out.stdout);
  assertStringIncludes(String(failed.error), "budget");
  const kept = await Deno.readTextFile(
    `${net.root}/provider/agent-transcripts/${failed.job}.log`,
  );
  assertStringIncludes(kept, '"subtype":"init"');
});

Deno.test("agent-task: the Claude Code and Codex presets docs/OPERATIONS.md shows are the commands run here", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/OPERATIONS.md", import.meta.url));
  const tables = [...doc.matchAll(/```toml\n([\s\S]*?)```/g)]
    .map((m) => parseToml(m[1].replace(/^ {2}/gm, "")) as { agents?: Record<string, unknown> })
    .flatMap((t) => Object.entries(t.agents ?? {}));
  const command = (name: string) =>
    (tables.find(([n]) => n === name)?.[1] as { command?: string } | undefined)?.command;
  assertEquals(command("claude"), CLAUDE_COMMAND);
  assertEquals(command("codex"), CODEX_COMMAND);
});

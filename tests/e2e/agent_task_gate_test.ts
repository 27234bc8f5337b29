/**
 * An agent-task whose gate fails, end to end (docs/PROTOCOL.md "agent-task (kind 5603)",
 * docs/AGENTS.md "A coding agent's task"): a town, the real provider node whose preset is a
 * scripted agent (a shell script, no model) committing work that does not pass, the real sandbox
 * and git, and a requester profile driven through its CLI as an agent drives it.
 *
 * A failed gate whose delivery is paid is `done` with the verdict `failed` wherever the CLI shows
 * it, and exits 3.
 */
import { assertEquals } from "../support/assert.ts";
import { startRequesterNetwork } from "../support/requester_network.ts";
import { agentSkillsDir, requesterProfile } from "../support/agent_task_kit.ts";
import { tempGitRepo } from "../support/temp_git_repo.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";

const FIXTURE = new URL("../../fixtures/agent-repo", import.meta.url).pathname;

Deno.test("agent-task: a failed gate paid for shows verdict failed in its result, status and list and exits 3", async () => {
  const skills = await agentSkillsDir({
    // Commits a change that does not fix add: `sh test.sh` fails.
    "broken.sh": [
      "set -e",
      "echo 'agent: AGENT-LOG-LINE'",
      "echo '# looked at it' >> add.sh",
      "git commit -q -am 'add: a comment'",
    ].join("\n"),
  });
  const preset: AgentPreset = {
    name: "broken",
    command: `sh ${skills}/agent-task/agents/broken.sh`,
    price: 0n,
    budget: 1000n,
    flavor: "anthropic",
    upstream: "http://127.0.0.1:9",
    apiKey: "sk-unused",
    inputPerMillion: 0n,
    outputPerMillion: 0n,
    headers: {},
  };
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents: { broken: preset } },
  });
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    const files: Record<string, string> = {};
    for (const name of ["README.md", "add.sh", "test.sh"]) {
      files[name] = await Deno.readTextFile(`${FIXTURE}/${name}`);
    }
    await repo.commit("the sample", files);
    const submit = (accept: string, ...more: string[]) =>
      alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--title",
        "Fix add",
        "--text",
        "add.sh subtracts",
        "--accept",
        accept,
        "--agent",
        "broken",
        "--bid",
        "1000000",
        "--provider",
        net.providerPubkey!,
        "--timeout",
        "240",
        "--wait",
        ...more,
      );

    // 1. Paid for (no --decline-failed): done, the verdict failed everywhere, exit 3.
    const paid = await submit("sh test.sh");
    assertEquals(paid.code, 3, paid.stderr + paid.stdout);
    const result = paid.lines.find((l) => l.type === "result")!;
    assertEquals([result.status, result.verdict], ["done", "failed"], JSON.stringify(result));
    const id = String(result.job);
    const status = await alice("job", "status", id);
    assertEquals([status.code, status.lines[0].status, status.lines[0].verdict], [
      0,
      "done",
      "failed",
    ]);
    const listed = (await alice("job", "list")).lines.find((l) => l.id === id);
    assertEquals(listed?.verdict, "failed", JSON.stringify(listed));
    const waited = await alice("job", "wait", id);
    assertEquals(waited.code, 3, waited.stderr);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

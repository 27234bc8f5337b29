/**
 * A failing host preset's output stays private, end to end (docs/PROTOCOL.md "Errors of an
 * encrypted job", docs/OPERATIONS.md "Host presets"): a town, the real provider node whose host
 * preset prints a line of the requester's repository and fails, and a requester profile driven
 * through its CLI. The job's public `error` feedback (kind 7000), read by a third party with a
 * plain REQ and no AUTH, says only a code; the requester's `job status` shows the whole reason.
 */
import { readPublicFrames } from "../../harness/public_frames.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { agentSkillsDir, agentTaskArgs, requesterProfile } from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";

const SECRET = "SECRET-REPO-LINE-5e1f0c";

Deno.test("agent-task: a host preset that fails printing a line of the repository: the public error feedback has a code only, the requester's job status has the line", async () => {
  const skills = await agentSkillsDir({});
  const scratch = await Deno.makeTempDir({ prefix: "turnpike-private-error-" });
  // The provider's own program: it prints the repository's private line, then fails.
  const program = `${scratch}/leaky-agent`;
  await Deno.writeTextFile(
    program,
    `#!/bin/sh\necho "working"\ncat "$TURNPIKE_WORKTREE/notes.txt"\nexit 4\n`,
    { mode: 0o755 },
  );
  const preset: AgentPreset = {
    name: "leaky",
    command: program,
    host: true,
    args: [],
    env: {},
    price: 0n,
    timeoutMs: 60_000,
    budget: 0n,
    flavor: "anthropic",
    upstream: "",
    apiKey: "",
    inputPerMillion: 0n,
    outputPerMillion: 0n,
    headers: {},
  };
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents: { leaky: preset } },
  });
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await repo.commit("private notes", { "notes.txt": `${SECRET}\n` });
    const run = await alice(
      ...agentTaskArgs({
        repo: repo.dir,
        title: "Tidy the notes",
        accept: "true",
        agent: "leaky",
        provider: net.providerPubkey!,
        timeoutS: 120,
      }),
    );
    assertEquals(run.code, 1, run.stderr + run.stdout);
    const end = run.lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "error", JSON.stringify(end));
    const id = String(end.job);

    // A third party's plain REQ: every frame the town sends about the job.
    const frames = await readPublicFrames(net.relayUrl, { kinds: [7000], "#e": [id] });
    assert(frames.some((f) => f.includes("agent-failed")), frames.join("\n"));
    for (const frame of frames) assert(!frame.includes(SECRET), `public: ${frame}`);

    // The requester reads the reason, decrypted.
    const status = await alice("job", "status", id);
    assertStringIncludes(String(status.lines[0].error), SECRET);
    assertStringIncludes(String(status.lines[0].error), "exited 4");
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

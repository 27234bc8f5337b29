/**
 * An agent that games the gate, end to end (docs/PROTOCOL.md "Protected paths", docs/AGENTS.md
 * "A coding agent's task"): a town, the real provider node whose preset is a scripted agent (a
 * shell script, no model) that rewrites the requester's test to always pass and leaves the bug,
 * the real sandbox and git, and a requester profile driven through its CLI as an agent drives it.
 *
 * The protected test is put back before the gate, so the gate still fails on the bug; the result
 * names the protected path it changed and each path's counts; its delivery is not paid unless
 * the requester passed `--allow-protected`.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, commitAgentSample, scriptedPreset } from "../../harness/agent_task_kit.ts";

interface Change {
  path: string;
  insertions: number;
  deletions: number;
}

Deno.test("agent-task: an agent that rewrites a protected test to pass gets the gate run on the restored test, verdict fail, protected-changed naming it and its delivery unpaid; --allow-protected pays it", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      // The bug stays; test.sh says ok whatever add does, committed, and left in the tree.
      "cheat.sh": [
        "set -e",
        "printf 'echo \"ok - add 2 3 = 5\"\\n' > test.sh",
        "echo '# fixed' >> add.sh",
        "git commit -q -am 'add: fixed, the test says so'",
      ].join("\n"),
    },
    network: (skills) => ({
      providerOptions: { agents: { cheat: scriptedPreset(skills, "cheat") } },
    }),
  });
  const { net, alice, repo } = kit;
  const state = `${net.root}/agent-home/alice`;
  // The profile's default list; --protect adds test.sh below.
  const config = await Deno.readTextFile(`${state}/config.toml`);
  await Deno.writeTextFile(
    `${state}/config.toml`,
    `${config}\n[agents]\nprotect = ["README*"]\n`,
  );
  await commitAgentSample(repo);
  const submit = (...more: string[]) =>
    alice(
      ...agentTaskArgs({
        repo: repo.dir,
        title: "Fix add",
        text: "add.sh subtracts",
        accept: "sh test.sh",
        agent: "cheat",
        protect: "test*.sh",
        provider: net.providerPubkey!,
        timeoutS: 240,
      }),
      ...more,
    );

  // 1. Not allowed: the gate ran the requester's test on the agent's add.sh and failed; the
  // delivery is not paid (the deposit only) and the error names the path.
  const refused = await submit();
  assertEquals(refused.code, 1, refused.stderr + refused.stdout);
  const end = refused.lines.find((l) => l.type === "result")!;
  assertEquals(end.status, "error", JSON.stringify(end));
  assertStringIncludes(String(end.error), "protected-changed");
  assertStringIncludes(String(end.error), "test.sh");
  assertEquals((end.receipts as unknown[]).length, 1, JSON.stringify(end.receipts));
  const seen = end.report as {
    verdict: string;
    gate: { exitCode: number };
    protect: string[];
    protectedChanged: string[];
    changes: Change[];
  };
  assertEquals([seen.verdict, seen.gate.exitCode], ["fail", 1], JSON.stringify(seen));
  assertEquals(seen.protect, ["README*", "test*.sh"]);
  assertEquals(seen.protectedChanged, ["test.sh"]);
  assertEquals(seen.changes, [
    { path: "add.sh", insertions: 1, deletions: 0 },
    { path: "test.sh", insertions: 1, deletions: 10 },
  ]);
  const status = await alice("job", "status", String(end.job));
  assertStringIncludes(String(status.lines[0].error), "protected-changed: ");
  const results = await alice("job", "results", String(end.job));
  const shown = results.lines[0].report as { changes: Change[] };
  assertEquals(shown.changes.map((c) => c.path), ["add.sh", "test.sh"]);

  // 2. Allowed: paid (deposit and delivery), done; the gate still failed on the bug.
  const allowed = await submit("--allow-protected");
  assertEquals(allowed.code, 3, allowed.stderr + allowed.stdout);
  const paid = allowed.lines.find((l) => l.type === "result")!;
  assertEquals([paid.status, paid.verdict], ["done", "failed"], JSON.stringify(paid));
  assertEquals((paid.receipts as unknown[]).length, 2, JSON.stringify(paid.receipts));
  const applied = await alice("job", "results", String(paid.job), "--apply");
  assertEquals(applied.code, 0, applied.stderr);
  const line = applied.lines[0] as { protectedChanged: string[]; changes: Change[] };
  assertEquals(line.protectedChanged, ["test.sh"]);
  assertEquals(line.changes.find((c) => c.path === "test.sh"), {
    path: "test.sh",
    insertions: 1,
    deletions: 10,
  });
});

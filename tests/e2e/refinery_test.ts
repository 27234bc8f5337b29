/**
 * `turnpike refinery` end to end (docs/AGENTS.md "The refinery"): a town, the real provider node
 * with the agent-task skill, the real sandbox and git, and a requester profile driven through its
 * CLI. Three agent tasks are delivered on one repository; two of them append to the same file,
 * so whichever the queue tries second conflicts and goes back to its provider as a new agent task
 * on the new tip, whose result the next run merges.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { agentSkillsDir, requesterProfile, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";

Deno.test("refinery: three delivered agent tasks, two conflicting, end in a green main; the conflict is slung again once on the new tip and merged by the next run", async () => {
  // Each scripted agent appends its line; a and b to the same file.
  const append = (file: string, line: string) =>
    ["set -e", `echo ${line} >> ${file}`, `git commit -q -am 'add ${line}'`].join("\n");
  const skills = await agentSkillsDir({
    "a.sh": append("CHANGES", "a"),
    "b.sh": append("CHANGES", "b"),
    "c.sh": append("other.txt", "c"),
  });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      agents: {
        a: scriptedPreset(skills, "a"),
        b: scriptedPreset(skills, "b"),
        c: scriptedPreset(skills, "c"),
      },
    },
  });
  try {
    const alice = await requesterProfile(net);
    const secret = [
      "--passphrase-file",
      `${net.root}/agent-home/pw`,
      "--non-interactive",
    ];
    const repo = await tempGitRepo(`${net.root}/repo`);
    await repo.commit("start", { "CHANGES": "start\n", "other.txt": "other\n" });
    const accept = "grep -q start CHANGES && grep -q other other.txt";
    const submit = async (agent: string) => {
      const out = await alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--title",
        `Add ${agent}`,
        "--accept",
        accept,
        "--agent",
        agent,
        "--bid",
        "1000000",
        "--provider",
        net.providerPubkey!,
        "--timeout",
        "240",
        "--wait",
      );
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return String(out.lines.find((l) => l.type === "result")!.job);
    };
    const jobs = await Promise.all(["a", "b", "c"].map(submit));
    const refine = () => alice("refinery", "--repo", repo.dir, "--branch", "main", ...secret);

    const first = await refine();
    assertEquals(first.code, 0, first.stderr + first.stdout);
    const outcomes = first.lines.filter((l) => l.type === "outcome");
    assertEquals(outcomes.length, 3, first.stdout);
    const conflict = outcomes.filter((l) => l.outcome === "conflict");
    assertEquals(conflict.length, 1, first.stdout);
    assertEquals(conflict[0]!.conflicts, ["CHANGES"]);
    assert(jobs.indexOf(String(conflict[0]!.job)) !== 2, "c conflicts with nothing");
    const reslung = first.lines.filter((l) => l.type === "reslung");
    assertEquals(reslung.length, 1, first.stdout);
    const summary = first.lines.find((l) => l.type === "refinery")!;
    assertEquals([summary.merged, summary.reslung, summary.rejected], [2, 1, 0]);
    assertEquals(await repo.git("rev-parse", "main"), summary.tip);

    // A second run before the new task is delivered slings nothing again.
    const again = await refine();
    assertEquals(again.code, 0, again.stderr + again.stdout);
    assertEquals(again.lines.filter((l) => l.type === "reslung").length, 0, again.stdout);

    // The re-sling is a real agent task on the new tip, to the same provider.
    const to = String(reslung[0]!.to);
    const waited = await alice("job", "wait", to);
    assertEquals(waited.code, 0, waited.stderr + waited.stdout);
    const third = await refine();
    assertEquals(third.code, 0, third.stderr + third.stdout);
    const merged = third.lines.filter((l) => l.type === "outcome" && l.outcome === "merged");
    assertEquals(merged.map((l) => l.job), [to], third.stdout);
    const lines = (await repo.git("show", "main:CHANGES")).split("\n").sort();
    assertEquals(lines, ["a", "b", "start"]);
    assertEquals(await repo.git("show", "main:other.txt"), "other\nc");
    assertEquals(await repo.git("status", "--porcelain"), "");
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

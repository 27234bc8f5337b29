/**
 * An agent task's result that comes after the requester's timeout (docs/AGENTS.md "A result that
 * came after the timeout"): a town, the real provider node with the agent-task skill and a
 * scripted agent (a shell script, no model) that waits past the job's short `--timeout`, and a
 * requester profile driven through its CLI (its own node process, which stops when idle). The
 * job ends `timed-out` with its deposit paid; the provider finishes and publishes; `job results
 * --apply` then looks the result up on the town, pays its delivery once and applies it, and
 * running it again pays nothing more.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
  scriptedPreset,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { readProviderJobRecord } from "../../state/jobs/provider_job_index.ts";

Deno.test("agent-task: a result published after the requester's timeout is had by job results --apply, its delivery paid once", async () => {
  const skills = await agentSkillsDir({
    // Waits until the test says go (after the job timed out), then fixes add.
    "late.sh": [
      `while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.1; done`,
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git add add.sh",
      "git commit -q -m 'add: add, not subtract'",
    ].join("\n"),
  });
  const skillDir = `${skills}/agent-task`;
  const late = scriptedPreset(skills, "late");
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents: { late } },
  });
  /** The provider's payments in for the job. */
  const paidIn = async (job: string) =>
    ((await openPaymentLog({ stateDir: `${net.root}/provider` })).entries()).filter((l) =>
      l.jobId === job && l.direction === "in"
    ).length;
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    const base = await commitAgentSample(repo);
    const submitted = await alice(
      "job",
      "submit",
      "agent-task",
      ...["--repo", repo.dir, "--title", "Fix add", "--accept", "sh test.sh"],
      ...["--agent", "late", "--bid", "1000000", "--provider", net.providerPubkey!],
      ...["--timeout", "8", "--wait"],
    );
    const ended = submitted.lines.find((l) => l.type === "result")!;
    assertEquals(ended.status, "timed-out", submitted.stderr + submitted.stdout);
    const id = String(ended.job);
    assertEquals(await paidIn(id), 1); // the deposit

    // The agent finishes now; the provider publishes the result with its delivery invoice.
    await Deno.writeTextFile(`${skillDir}/agents/go`, "");
    while (true) {
      const status = (await readProviderJobRecord(`${net.root}/provider`, id))?.status;
      if (status === "delivered") break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const applied = await alice("job", "results", id, "--apply");
    assertEquals(applied.code, 0, applied.stderr + applied.stdout);
    const line = applied.lines[0];
    assertEquals([line.type, line.created, line.verdict, line.base], [
      "applied",
      true,
      "passed",
      base,
    ]);
    assertEquals(await paidIn(id), 2); // the deposit and the delivery
    const status = await alice("job", "status", id);
    assertEquals(status.lines[0].status, "done", status.stdout);

    const again = await alice("job", "results", id, "--apply");
    assertEquals([again.code, again.lines[0].created, again.lines[0].tip], [0, false, line.tip]);
    assertEquals(await paidIn(id), 2);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

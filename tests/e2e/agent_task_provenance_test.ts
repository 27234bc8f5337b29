/**
 * Where an applied agent task's commits came from (docs/AGENTS.md "Where a commit came from"):
 * the real provider node and sandbox, a scripted agent (a shell script, no model: a stand-in
 * model API, harness/stand_in_model_api.ts, backs its preset) that commits with the task's
 * Markdown heading as its subject and a forged `Bead:` trailer; the requester applies the result
 * through its CLI and its branch's commit carries the job, the provider and the bead it sent as
 * trailers, under a plain subject; applied twice it is the same branch; and `wallet history
 * --bead` finds the job's payments.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, commitAgentSample, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";

/** Fixes add.sh and commits it as an agent that pastes the task's heading does. */
const AGENT = [
  "set -e",
  "sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh",
  "git add add.sh",
  "git commit -q -m '# Fix `add` **now**' -m 'The sum, not the difference.' -m 'Bead: gt-forged'",
].join("\n");

Deno.test("agent-task applied: the branch's commit carries Turnpike-Job, Turnpike-Provider and Bead trailers under a subject without Markdown, the same on a second apply; wallet history --bead finds the job's payments", async () => {
  const apiKey = "sk-provider-provenance";
  await using api = await startStandInModelApi({ apiKey });
  await using kit = await startAgentTaskNetwork({
    scripts: { "heading.sh": AGENT },
    network: (skills) => ({
      providerOptions: {
        sandboxMode: "rootless",
        agents: {
          heading: scriptedPreset(skills, "heading", {
            upstream: api.url,
            apiKey,
            inputPerMillion: 1000n,
            outputPerMillion: 5000n,
          }),
        },
      },
    }),
  });
  const { net, alice, repo } = kit;
  await commitAgentSample(repo);
  await Deno.writeTextFile(
    `${net.root}/bead.json`,
    JSON.stringify({ id: "gt-1", title: "Fix add" }),
  );
  const done = await alice(
    ...agentTaskArgs({
      repo: repo.dir,
      bead: `${net.root}/bead.json`,
      accept: "sh test.sh",
      agent: "heading",
      provider: net.providerPubkey!,
    }),
  );
  assertEquals(done.code, 0, done.stderr + done.stdout);
  const id = String(done.lines.find((l) => l.type === "result")!.job);
  const applied = await alice("job", "results", id, "--apply");
  assertEquals([applied.code, applied.lines[0].verdict], [0, "passed"], applied.stderr);
  const branch = String(applied.lines[0].branch);
  const tip = String(applied.lines[0].tip);
  assert(applied.lines[0].bundleTip !== tip, "the branch's commit is the requester's rewrite");

  const subject = (await repo.git("log", "-1", "--format=%s", branch)).trim();
  assertEquals(subject, "Fix add now");
  const trailers = (await repo.git("log", "-1", "--format=%(trailers:only,unfold)", branch))
    .trim().split("\n");
  assertEquals(trailers, [
    `Turnpike-Job: ${id}`,
    `Turnpike-Provider: ${net.providerPubkey}`,
    "Bead: gt-1",
  ]);
  assertEquals(
    (await repo.git("log", "-1", "--format=%b", branch)).split("\n")[0],
    "The sum, not the difference.",
  );

  const again = await alice("job", "results", id, "--apply");
  assertEquals([again.code, again.lines[0].created, again.lines[0].tip], [0, false, tip]);

  const history = await alice("wallet", "history", "--bead", "gt-1");
  assertEquals(history.code, 0, history.stderr);
  const payments = history.lines.filter((l) => l.type === "payment");
  // The job's own (its request's write, deposit, delivery) and its inputs' upload.
  assertEquals(
    payments.map((p) => p.category === "town-blob" ? "upload" : p.jobId === id),
    ["upload", true, true, true],
  );
});

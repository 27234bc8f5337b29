/**
 * A Gas Town as provider end to end (docs/OPERATIONS.md "Gas Town presets"): a requester's
 * agent-task (docs/PROTOCOL.md "agent-task (kind 5603)") goes through a real town to the real
 * provider node, whose preset is a host preset (docs/OPERATIONS.md "Host presets") running
 * integrations/gastown/turnpike-gastown-provider: it pushes the job's base to the rig's
 * repository, files the task as a bead, slings it, waits for the bead to close and fast-forwards
 * the job's worktree to the polecat's branch; the gate and the bundle then run in the sandbox.
 *
 * Gas Town's `gt` and beads' `bd` cannot be installed here: tests/support/stand_in_gt and
 * harness/stand_in_bd stand in for them (mocks, named so), and the polecat is a scripted
 * one (a shell script, no model) that commits the fix in its worktree of the rig's repository
 * and closes the bead. Everything else is real: the town, the provider, the sandbox (the gate),
 * the requester's profile and node, git.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const BRIDGE = root("integrations/gastown/turnpike-gastown-provider");

Deno.test("gastown as provider: a job filed as a bead in the provider's town, worked by its polecat, applied by the requester with its gate passing, the polecat's worktree and branch gone from the rig; a bead that never closes ends the job with an error, the deposit its only payment, and leaves nothing in the rig either", async () => {
  const skills = await agentSkillsDir({});
  const scratch = await Deno.makeTempDir({ prefix: "turnpike-gt-provider-" });
  // The provider's stand-in town: a rig whose repository the polecats' worktrees come from.
  const gtHome = `${scratch}/gt`;
  const rigRepo = `${gtHome}/rigs/myrig`;
  const rig = await tempGitRepo(rigRepo);
  await rig.commit("the rig's own first commit", { "RIG.md": "the rig\n" });
  const beads = `${scratch}/beads`;
  await Deno.mkdir(beads);
  const bin = `${scratch}/bin`;
  await Deno.mkdir(bin);
  await Deno.symlink(root("tests/support/stand_in_gt"), `${bin}/gt`);
  await Deno.symlink(root("harness/stand_in_bd"), `${bin}/bd`);
  const townEnv = {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    STAND_IN_GT_HOME: gtHome,
    STAND_IN_BD_DIR: beads,
  };
  const gastown = (name: string, timeoutMs: number, margin: number): AgentPreset => ({
    name,
    command: BRIDGE,
    host: true,
    args: ["--rig", "myrig", "--rig-repo", rigRepo, "--poll", "1", "--margin", String(margin)],
    env: townEnv,
    price: 0n,
    timeoutMs,
    budget: 0n,
    flavor: "anthropic",
    upstream: "",
    apiKey: "",
    inputPerMillion: 0n,
    outputPerMillion: 0n,
    headers: {},
  });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      agents: { gastown: gastown("gastown", 240_000, 10), stuck: gastown("stuck", 15_000, 12) },
    },
  });
  const setPolecat = async (script: string) => {
    const out = await new Deno.Command("gt", {
      args: ["config", "agent", "set", "default", script],
      env: townEnv,
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  };
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    const base = await commitAgentSample(repo);
    const bead = `${net.root}/bead.json`;
    await Deno.writeTextFile(
      bead,
      JSON.stringify([{
        id: "req-7",
        title: "Fix add",
        description: "add.sh subtracts; test.sh fails.",
        acceptance_criteria: "sh test.sh exits 0",
      }]),
    );
    const submit = (agent: string) =>
      alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--bead",
        bead,
        "--accept",
        "sh test.sh",
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

    // The host presets are announced as such.
    const listed = (await alice("providers")).lines[0].providers as {
      skills: { name: string; agents?: { name: string; host?: boolean }[] }[];
    }[];
    const served = listed.flatMap((p) => p.skills).find((s) => s.name === "agent-task");
    assertEquals(served?.agents?.map((a) => [a.name, a.host]), [
      ["gastown", true],
      ["stuck", true],
    ]);

    // 1. The provider's polecat reads its hooked bead (the task, the branch it starts from),
    // commits the fix in its worktree of the rig's repository and closes the bead.
    await setPolecat([
      "set -e",
      `id=$(gt hook --json | jq -r .pinned_bead.id)`,
      `gt hook --json | jq -r .pinned_bead.description | grep -q 'add.sh subtracts'`,
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
      `bd close "$id"`,
    ].join("\n"));
    const done = await submit("gastown");
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const result = done.lines.find((l) => l.type === "result")!;
    assertEquals(result.status, "done", JSON.stringify(result));
    const id = String(result.job);
    // The bead the bridge filed: the task's title, its text, the gate as its acceptance; closed.
    const filed = JSON.parse(await Deno.readTextFile(`${beads}/gt-1.json`));
    assertEquals([filed.title, filed.status], ["Fix add", "closed"]);
    assertStringIncludes(filed.description, "add.sh subtracts");
    assertStringIncludes(filed.description, `turnpike/${id.slice(0, 12)}`);
    assertStringIncludes(filed.acceptance_criteria, "sh test.sh");
    // Nothing of the job is left in the rig: not the polecat's worktree, not its branch, not the
    // base's branch the bridge pushed.
    assertEquals(
      await rig.git("worktree", "list", "--porcelain").then((l) => l.match(/^worktree /gm)?.length),
      1,
    );
    assertEquals(
      await Deno.stat(`${gtHome}/myrig/polecats/p1`).then(() => true, () => false),
      false,
    );
    assertEquals(await rig.git("branch", "--list", "polecat/*", "turnpike/*"), "");
    // The requester applies the result: the polecat's commit, and its gate passes there.
    const applied = await alice("job", "results", id, "--apply");
    assertEquals(applied.code, 0, applied.stderr);
    const line = applied.lines[0];
    assertEquals([line.type, line.verdict, line.base], ["applied", "passed", base]);
    // The polecat's commit, on the requester's base (not the rig's own history).
    assertEquals(await repo.git("rev-parse", `${line.tip}~1`), base);
    assertEquals(
      await repo.git("log", "-1", "--format=%s", String(line.tip)),
      "add: add, not subtract",
    );
    await repo.git("worktree", "add", "-q", `${net.root}/applied`, String(line.branch));
    const gate = await new Deno.Command("sh", { args: ["test.sh"], cwd: `${net.root}/applied` })
      .output();
    assertEquals(gate.code, 0, new TextDecoder().decode(gate.stdout));

    // 2. A polecat that never closes its bead: the bridge gives up at the job's deadline, the
    // job ends with an error naming it, nothing delivered, only the deposit paid.
    await setPolecat("true");
    const stuck = await submit("stuck");
    assert(stuck.code !== 0, stuck.stderr);
    const failed = stuck.lines.find((l) => l.type === "result")!;
    assertEquals(failed.status, "error", JSON.stringify(failed));
    assertStringIncludes(String(failed.error), "bead gt-2 is not closed at the job's deadline");
    assertEquals((failed.receipts as unknown[]).length, 1, JSON.stringify(failed.receipts));
    const paidIn = ((await openPaymentLog({ stateDir: `${net.root}/provider` })).entries()).filter((
      l,
    ) => l.jobId === String(failed.job) && l.direction === "in");
    assertEquals(paidIn.length, 1);
    // Given up, the bridge still leaves nothing of the job in the rig.
    assertEquals(await rig.git("branch", "--list", "polecat/*", "turnpike/*"), "");
    assertEquals(
      await Deno.stat(`${gtHome}/myrig/polecats/p2`).then(() => true, () => false),
      false,
    );
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

/**
 * What a Gas Town Mayor sees of its remote polecats (docs/OPERATIONS.md "Gas Town presets",
 * docs/AGENTS.md "Following any job"): a polecat (integrations/gastown/turnpike-polecat) names
 * its job, the job's provider and what it has paid as they become known; the job's record keeps
 * the bead (id, title, rig, polecat) and `job list` / `job status` show it; and the polecat runs
 * the gate itself on the applied branch before `gt done`, so a provider that reports `pass` for
 * work that fails ends the polecat with exit 1, the bead still hooked, no `gt done`.
 *
 * Gas Town's `gt` and beads' `bd` cannot be installed here: tests/support/stand_in_gt and
 * harness/stand_in_bd stand in for them (mocks, named so; `gt done` is recorded in a log).
 * The provider lies through its test-only `agentDeliveryForTests` hook
 * (roles/agent_work/provider/agent_task_runner.ts). Everything else is real: the town, the provider,
 * the sandbox, the requester's profile and node, git.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
  scriptedPreset,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import type { AgentDeliveryForTests } from "../../roles/agent_work/provider/agent_task_runner.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const POLECAT = root("integrations/gastown/turnpike-polecat");

/** The lie, test-only: the preset `liar`'s failed gate reported as passed. */
function lyingVerdictForTests(d: AgentDeliveryForTests): Promise<void> {
  if (d.preset === "liar") {
    d.result.verdict = "pass";
    (d.result.gate as { exitCode: number }).exitCode = 0;
  }
  return Promise.resolve();
}

Deno.test("gastown mayor view: a polecat's lines name its job, provider and spend; job list and job status carry the bead; a result whose gate fails here is not gt done", async () => {
  const skills = await agentSkillsDir({
    "fix.sh": [
      "set -e",
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
    "broken.sh": "set -e\necho '# looked at it' >> add.sh\ngit commit -q -am 'add: a comment'",
  });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      agents: {
        fix: scriptedPreset(skills, "fix"),
        liar: scriptedPreset(skills, "broken", { name: "liar" }),
      },
      agentDeliveryForTests: lyingVerdictForTests,
    },
  });
  try {
    const alice = await requesterProfile(net);
    const home = `${net.root}/agent-home`;
    const gtHome = `${net.root}/gt`;
    const rig = await tempGitRepo(`${gtHome}/rigs/myrig`);
    const base = await commitAgentSample(rig);
    const beads = `${net.root}/beads`;
    await Deno.mkdir(beads);
    for (const id of ["gt-1", "gt-2"]) {
      await Deno.writeTextFile(
        `${beads}/${id}.json`,
        JSON.stringify({
          id,
          title: `Fix add (${id})`,
          description: "add.sh subtracts; test.sh fails.",
          status: "open",
          priority: 1,
          issue_type: "bug",
        }),
      );
    }
    const bin = `${net.root}/bin`;
    await Deno.mkdir(bin);
    await Deno.symlink(root("tests/support/stand_in_gt"), `${bin}/gt`);
    await Deno.symlink(root("harness/stand_in_bd"), `${bin}/bd`);
    const env = {
      PATH: `${bin}:${Deno.env.get("PATH")}`,
      STAND_IN_GT_HOME: gtHome,
      STAND_IN_BD_DIR: beads,
      TURNPIKE: `${Deno.execPath()} run -A ${root("cli.ts")}`,
      TURNPIKE_HOME: home,
      TURNPIKE_NODE_IDLE_TIMEOUT: "2",
      NO_COLOR: "1",
    };
    const run = async (cmd: string, args: string[]) => {
      const out = await new Deno.Command(cmd, { args, cwd: net.root, env }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    const doneLog = async () =>
      (await Deno.readTextFile(`${gtHome}/done.log`).catch(() => "")).split("\n")
        .filter((l) => l !== "");
    const agentCommand = (agent: string) =>
      `${POLECAT} --agent ${agent} --accept "sh test.sh" --bid 1000000 ` +
      `--provider ${net.providerPubkey} --timeout 240 --profile alice ` +
      `--passphrase-file ${home}/pw`;

    // 1. The honest agent: every progress line names the job; once known, its provider and what
    // it has paid.
    await run("gt", ["config", "agent", "set", "turnpike-fix", agentCommand("fix")]);
    const slung = await run("gt", ["sling", "gt-1", "myrig", "--agent", "turnpike-fix"]);
    assertEquals(slung.code, 0, slung.stderr);
    const [job] = (await alice("job", "list")).lines;
    const id12 = String(job.id).slice(0, 12);
    const progress = slung.stderr.split("\n").filter((l) => l.includes(` job ${id12} `));
    assert(progress.length > 0, slung.stderr);
    const provider12 = net.providerPubkey!.slice(0, 12);
    assert(progress.some((l) => l.includes(`provider ${provider12}`)), slung.stderr);
    const spent = progress.map((l) => l.match(/ spent (\d+)/)?.[1]).filter((s) => s).map(Number);
    assert(spent.length > 0 && spent.every((s) => s > 0), slung.stderr);
    assertStringIncludes(slung.stderr, "here pass");
    assertEquals((await doneLog()).length, 1);

    // 2. The job's record keeps the bead: `job list` and `job status`, JSON and text.
    const bead = { id: "gt-1", title: "Fix add (gt-1)", rig: "myrig", polecat: "p1" };
    assertEquals(job.bead, bead);
    assertEquals((await alice("job", "status", id12)).lines[0].bead, bead);
    const text = await run(Deno.execPath(), [
      "run",
      "-A",
      root("cli.ts"),
      "--profile",
      "alice",
      "job",
      "list",
    ]);
    assertStringIncludes(text.stdout, 'bead gt-1 myrig/p1 "Fix add (gt-1)"');

    // 3. A provider that says `pass` for work whose gate fails: the gate run here says fail, the
    // polecat exits 1, no gt done, the bead stays hooked.
    await run("gt", ["config", "agent", "set", "turnpike-liar", agentCommand("liar")]);
    const lied = await run("gt", ["sling", "gt-2", "myrig", "--agent", "turnpike-liar"]);
    assertEquals(lied.code, 1, lied.stderr);
    assertStringIncludes(lied.stderr, "its gate failed here (--verify; the provider said pass)");
    assertEquals((await doneLog()).length, 1);
    const hooked = JSON.parse(await Deno.readTextFile(`${beads}/gt-2.json`));
    assertEquals([hooked.status, hooked.assignee], ["hooked", "myrig/p2"]);
    assert((await rig.git("rev-parse", "polecat/p2/gt-2")) !== base);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

/**
 * A remote polecat end to end (docs/OPERATIONS.md "Gas Town presets"): a Gas Town slings a bead
 * to a polecat whose agent command is integrations/gastown/turnpike-polecat; the polecat ships
 * its worktree as an agent-task (docs/PROTOCOL.md "agent-task (kind 5603)") through a real town
 * to the real provider node, whose preset is a scripted agent (a shell script, no model), and
 * fast-forwards its branch to the result, then ends with `gt done`.
 *
 * Gas Town's `gt` and beads' `bd` cannot be installed here: tests/support/stand_in_gt and
 * harness/stand_in_bd stand in for them (mocks, named so), speaking the JSON and exit codes
 * of the real commands the polecat uses. Everything else is real: the town, the provider, the
 * sandbox, the requester's profile and node, git.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
  scriptedPreset,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const POLECAT = root("integrations/gastown/turnpike-polecat");

Deno.test("gastown: a slung bead worked by a remote polecat comes back on the polecat's branch, then gt done; a failed gate, declined or kept, ends without gt done", async () => {
  const skills = await agentSkillsDir({
    "fix.sh": [
      "set -e",
      `grep -q 'add.sh subtracts' "$TURNPIKE_TASK"`,
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
    "broken.sh": "set -e\necho '# looked at it' >> add.sh\ngit commit -q -am 'add: a comment'",
  });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      agents: { fix: scriptedPreset(skills, "fix"), broken: scriptedPreset(skills, "broken") },
    },
  });
  try {
    await requesterProfile(net);
    const home = `${net.root}/agent-home`;
    // The stand-in town: a rig's repository, two beads, gt and bd on PATH.
    const gtHome = `${net.root}/gt`;
    const rig = await tempGitRepo(`${gtHome}/rigs/myrig`);
    const base = await commitAgentSample(rig);
    const beads = `${net.root}/beads`;
    await Deno.mkdir(beads);
    for (const id of ["gt-1", "gt-2", "gt-3"]) {
      await Deno.writeTextFile(
        `${beads}/${id}.json`,
        JSON.stringify({
          id,
          title: "Fix add",
          description: "add.sh subtracts; test.sh fails.",
          acceptance_criteria: "sh test.sh exits 0",
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
    const run = async (cmd: string, args: string[], cwd = net.root) => {
      const out = await new Deno.Command(cmd, { args, cwd, env }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    const doneLog = async () =>
      (await Deno.readTextFile(`${gtHome}/done.log`).catch(() => "")).split("\n")
        .filter((l) => l !== "");
    const agentCommand = (agent: string, more = "") =>
      `${POLECAT} --agent ${agent} --accept "sh test.sh" --bid 1000000 ${more}` +
      `--provider ${net.providerPubkey} --timeout 240 --profile alice ` +
      `--passphrase-file ${home}/pw`;

    // 1. The honest agent: the polecat's checked-out branch fast-forwarded to its commit (files
    // and index with it), then gt done, once.
    assertEquals(
      (await run("gt", ["config", "agent", "set", "turnpike-remote", agentCommand("fix")])).code,
      0,
    );
    const slung = await run("gt", ["sling", "gt-1", "myrig", "--agent", "turnpike-remote"]);
    assertEquals(slung.code, 0, slung.stderr + slung.stdout);
    assertStringIncludes(slung.stderr, "turnpike-polecat: result done");
    assertStringIncludes(slung.stderr, "turnpike-polecat: bead gt-1 on polecat/p1/gt-1");
    const tip = await rig.git("rev-parse", "polecat/p1/gt-1");
    assertEquals(await rig.git("rev-parse", `${tip}~1`), base);
    assertEquals(await rig.git("log", "-1", "--format=%s", tip), "add: add, not subtract");
    const worktree = `${gtHome}/myrig/polecats/p1`;
    assertEquals((await run("git", ["rev-parse", "HEAD"], worktree)).stdout.trim(), tip);
    assertEquals((await run("git", ["status", "--porcelain"], worktree)).stdout, "");
    assertEquals((await run("sh", ["test.sh"], worktree)).code, 0);
    assertEquals(await doneLog(), [`myrig/polecats/p1 polecat/p1/gt-1 ${tip} COMPLETED`]);

    // 2. A failed gate: declined, the polecat's branch unchanged, no gt done, exit 1.
    await run("gt", ["config", "agent", "set", "turnpike-broken", agentCommand("broken")]);
    const failed = await run("gt", ["sling", "gt-2", "myrig", "--agent", "turnpike-broken"]);
    assertEquals(failed.code, 1, failed.stderr);
    assertStringIncludes(failed.stderr, "Error: job ");
    assertStringIncludes(failed.stderr, "declined: the result's verdict is fail");
    assertEquals(await rig.git("rev-parse", "polecat/p2/gt-2"), base);
    assertEquals((await doneLog()).length, 1);

    // 2b. A failed gate kept (--keep-failed): its delivery paid and the work on the polecat's
    // branch, but the polecat fails as for any failure: exit 1, no gt done (no COMPLETED).
    await run("gt", [
      "config",
      "agent",
      "set",
      "turnpike-kept",
      agentCommand("broken", "--keep-failed "),
    ]);
    const kept = await run("gt", ["sling", "gt-3", "myrig", "--agent", "turnpike-kept"]);
    assertEquals(kept.code, 1, kept.stderr);
    assertStringIncludes(kept.stderr, "its gate failed (exit 1)");
    const keptTip = await rig.git("rev-parse", "polecat/p3/gt-3");
    assertEquals(await rig.git("rev-parse", `${keptTip}~1`), base);
    assertEquals(await rig.git("log", "-1", "--format=%s", keptTip), "add: a comment");
    assertEquals((await doneLog()).length, 1);

    // 3. A polecat with nothing on its hook: exit 1 before any job, no gt done.
    const empty = await new Deno.Command(POLECAT, {
      args: ["--agent", "fix", "--accept", "sh test.sh"],
      cwd: worktree,
      env: { ...env, GT_RIG: "myrig", GT_POLECAT: "idle", BD_ACTOR: "myrig/polecats/idle" },
    }).output();
    assertEquals(empty.code, 1);
    assertStringIncludes(new TextDecoder().decode(empty.stderr), "nothing is on the hook");
    assertEquals((await doneLog()).length, 1);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

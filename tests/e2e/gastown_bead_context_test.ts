/**
 * The bounded memory a remote polecat's agent gets (docs/OPERATIONS.md "Gas Town presets"):
 * integrations/gastown/turnpike-polecat sends the hooked bead with its parent, its dependencies
 * and the rig's latest closed beads (`bd list --status=closed --sort closed --json`), at most
 * `--max-context-chars`, inside the agent task's encrypted params; the agent in the provider's
 * sandbox reads it as the last section of its TASK.md.
 *
 * Gas Town's `gt` and beads' `bd` cannot be installed here: tests/support/stand_in_gt and
 * harness/stand_in_bd stand in for them (mocks, named so). Everything else is real: the
 * town, the provider and its sandbox (a scripted agent, a shell script, no model), the
 * requester's profile and node, git.
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
import { queryRelay } from "../../transport/relay_query.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const POLECAT = root("integrations/gastown/turnpike-polecat");
const MAX = 1_500;

Deno.test("gastown bead context: the bead's parent, dependencies and the rig's latest closed beads reach the agent's TASK.md within --max-context-chars, encrypted", async () => {
  // The agent keeps what its TASK.md says under "## Context" as CONTEXT.md, and fixes add.sh.
  const skills = await agentSkillsDir({
    "fix.sh": [
      "set -e",
      `sed -n '/^## Context$/,$p' "$TURNPIKE_TASK" | tail -n +3 > CONTEXT.md`,
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git add CONTEXT.md",
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
  });
  const preset = scriptedPreset(skills, "fix");
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents: { fix: preset } },
  });
  try {
    await requesterProfile(net);
    const home = `${net.root}/agent-home`;
    const gtHome = `${net.root}/gt`;
    const rig = await tempGitRepo(`${gtHome}/rigs/myrig`);
    await commitAgentSample(rig);
    // The rig's beads: an epic, a blocker closed, 60 closed beads of 120 characters each, and
    // the bead to work, whose `bd show --json` names its parent and its blocker.
    const beads = `${net.root}/beads`;
    await Deno.mkdir(beads);
    const put = (bead: Record<string, unknown>) =>
      Deno.writeTextFile(`${beads}/${bead.id}.json`, JSON.stringify(bead));
    await put({ id: "gt-1", title: "The calculator epic", status: "open", issue_type: "epic" });
    const blocker = {
      id: "gt-2",
      title: "Add a test runner",
      status: "closed",
      close_reason: "test.sh runs the checks",
      closed_at: "2026-01-01T00:00:00Z",
    };
    await put(blocker);
    for (let i = 0; i < 60; i++) {
      await put({
        id: `gt-${100 + i}`,
        title: `Closed bead ${i}`,
        description: "x".repeat(120),
        status: "closed",
        closed_at: new Date(Date.UTC(2026, 0, 2) + i * 60_000).toISOString(),
      });
    }
    await put({
      id: "gt-9",
      title: "Fix add",
      description: "add.sh subtracts; test.sh fails.",
      status: "open",
      priority: 1,
      issue_type: "bug",
      dependencies: [
        {
          id: "gt-1",
          title: "The calculator epic",
          status: "open",
          dependency_type: "parent-child",
        },
        { ...blocker, dependency_type: "blocks" },
      ],
    });
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
    const agent = `${POLECAT} --agent fix --accept "sh test.sh" --bid 1000000 ` +
      `--provider ${net.providerPubkey} --timeout 240 --max-context-chars ${MAX} ` +
      `--profile alice --passphrase-file ${home}/pw`;
    assertEquals((await run("gt", ["config", "agent", "set", "remote", agent])).code, 0);
    const slung = await run("gt", ["sling", "gt-9", "myrig", "--agent", "remote"]);
    assertEquals(slung.code, 0, slung.stderr + slung.stdout);

    // What the agent read, back on the polecat's branch: within the bound, its parts in order,
    // the newest closed beads in and the oldest out.
    const context = await rig.git("show", "polecat/p1/gt-9:CONTEXT.md");
    assert(context.length <= MAX, `${context.length} characters`);
    assert(context.length > MAX - 200, `${context.length} characters: the bound is used`);
    assertStringIncludes(context, "### Parent\n\n- gt-1 [open] The calculator epic");
    assertStringIncludes(
      context,
      "### Depends on\n\n- blocks: gt-2 [closed] Add a test runner",
    );
    assertStringIncludes(context, "### Recently closed in the rig\n\n- gt-159 Closed bead 59: x");
    assert(!context.includes("- gt-100 "), "the oldest closed bead is left out");
    assertEquals(
      await rig.git("show", "polecat/p1/gt-9:add.sh").then((s) => s.includes("+")),
      true,
    );

    // Encrypted with the task: the town's copy of the request does not show it.
    const { events } = await queryRelay(net.relayUrl, [{ kinds: [5603] }]);
    assertEquals(events.length, 1);
    assert(!JSON.stringify(events).includes("calculator epic"), "the context is not in clear");
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

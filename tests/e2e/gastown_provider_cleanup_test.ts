/**
 * integrations/gastown/turnpike-gastown-provider leaves nothing of a job in the rig however the
 * job ends (docs/OPERATIONS.md "A Gas Town as provider"): given up at its deadline, or stopped as
 * turnpike stops a host preset when the job is cancelled or times out (SIGTERM, then SIGKILL a
 * grace later: roles/agent_work/provider/host_agent.ts). The bridge runs as the provider runs it:
 * a real process in a git worktree with the job's `TURNPIKE_*` variables; Gas Town's `gt` and
 * beads' `bd` are tests/support/stand_in_gt and harness/stand_in_bd (mocks, named so), the polecat a
 * scripted one that never closes its bead.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const BRIDGE = root("integrations/gastown/turnpike-gastown-provider");
/** host_agent.ts's grace between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** A provider's stand-in town with a rig, and a job's worktree for the bridge to run in. */
async function town(scratch: string) {
  const gtHome = `${scratch}/gt`;
  const rig = await tempGitRepo(`${gtHome}/rigs/myrig`);
  await rig.commit("the rig's own first commit", { "RIG.md": "the rig\n" });
  const beads = `${scratch}/beads`;
  await Deno.mkdir(beads);
  const bin = `${scratch}/bin`;
  await Deno.mkdir(bin);
  await Deno.symlink(root("tests/support/stand_in_gt"), `${bin}/gt`);
  await Deno.symlink(root("harness/stand_in_bd"), `${bin}/bd`);
  const env = {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    STAND_IN_GT_HOME: gtHome,
    STAND_IN_BD_DIR: beads,
  };
  // A polecat that never closes its bead.
  const set = await new Deno.Command("gt", {
    args: ["config", "agent", "set", "default", "true"],
    env,
  }).output();
  assertEquals(set.code, 0, new TextDecoder().decode(set.stderr));
  const job = await tempGitRepo(`${scratch}/job`);
  await job.commit("the sample", { "add.sh": "echo $(($1 - $2))\n" });
  await Deno.writeTextFile(`${scratch}/TASK.md`, "# Fix add\n\nadd.sh subtracts.\n");
  const bridge = (deadline: number, poll: number) =>
    new Deno.Command(BRIDGE, {
      args: ["--rig", "myrig", "--rig-repo", rig.dir, "--poll", String(poll), "--margin", "0"],
      cwd: job.dir,
      env: {
        ...env,
        TURNPIKE_TASK: `${scratch}/TASK.md`,
        TURNPIKE_JOB: "e4beed14ec00aa55",
        TURNPIKE_DEADLINE: String(deadline),
        TURNPIKE_ACCEPT: "sh test.sh",
      },
      stdout: "piped",
      stderr: "piped",
    });
  /** What of the job is in the rig: its worktrees beside the rig's own, and its branches. */
  const leftInRig = async () => ({
    worktrees: (await rig.git("worktree", "list", "--porcelain")).match(/^worktree /gm)!.length -
      1,
    branches: await rig.git("branch", "--list", "polecat/*", "turnpike/*"),
  });
  // The stand-in bd writes the file in place: one read mid-write is empty or cut, so not yet.
  const beadStatus = async () => {
    try {
      return JSON.parse(await Deno.readTextFile(`${beads}/gt-1.json`)).status;
    } catch {
      return undefined;
    }
  };
  return { bridge, leftInRig, beadStatus };
}

Deno.test("gastown provider bridge: a bead not closed at the job's deadline ends the job with an error, and the polecat's worktree and branch and the base's branch are removed from the rig", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "turnpike-gt-cleanup-" });
  try {
    const t = await town(scratch);
    const out = await t.bridge(Math.floor(Date.now() / 1000) + 3, 1).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    assertStringIncludes(stderr, "Error: bead gt-1 is not closed at the job's deadline");
    // The bead is the town operator's to look at; nothing else of the job is left.
    assertEquals(await t.beadStatus(), "hooked");
    assertEquals(await t.leftInRig(), { worktrees: 0, branches: "" });
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

Deno.test("gastown provider bridge: stopped as turnpike stops a cancelled job (SIGTERM, SIGKILL a grace later) while it waits for the bead, it removes the polecat's worktree and branch and the base's branch from the rig", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "turnpike-gt-cancel-" });
  try {
    const t = await town(scratch);
    // A far deadline and a long poll: the bridge is asleep between two looks at the bead.
    const child = t.bridge(Math.floor(Date.now() / 1000) + 3600, 600).spawn();
    while (await t.beadStatus() !== "hooked") await new Promise((r) => setTimeout(r, 100));
    // The stand-in gt hooks the bead before the bridge's first look; let it reach its sleep.
    await new Promise((r) => setTimeout(r, 1_000));
    child.kill("SIGTERM");
    const kill = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    const status = await child.status;
    clearTimeout(kill);
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert(status.signal !== "SIGKILL", "the bridge outlived the grace turnpike gives it");
    assertEquals(await t.leftInRig(), { worktrees: 0, branches: "" });
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

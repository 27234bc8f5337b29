/**
 * The requester's own run of an acceptance command (roles/agent_work/local_gate.ts): the real
 * skill sandbox and git, on a commit of a real repository.
 */
import { assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { tempGitRepo } from "../../../../harness/temp_git_repo.ts";
import { runLocalGate } from "../../../../roles/agent_work/local_gate.ts";

Deno.test("a local gate runs on the commit's files in the sandbox: no network, no .git, the hidden dir absent, its exit the verdict, no worktree left", async () => {
  const root = await Deno.makeTempDir({ prefix: "turnpike-local-gate-" });
  try {
    const repo = await tempGitRepo(`${root}/repo`);
    await Deno.mkdir(`${root}/secret`);
    await Deno.writeTextFile(`${root}/secret/key`, "k");
    // A listener on the host's loopback: a gate outside a network namespace of its own reaches it.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const tip = await repo.commit("a test", { "test.sh": "test -f ok.txt\n" });
    const probe = [
      "ls -A",
      `test -e ${root}/secret/key && echo SEES-SECRET`,
      `bash -c 'echo > /dev/tcp/127.0.0.1/${listener.addr.port}' 2>/dev/null && echo NET-REACHED`,
      "sh test.sh",
    ].join("; ");
    const failed = await runLocalGate({
      repoDir: repo.dir,
      commit: tip,
      accept: probe,
      hiddenPaths: [`${root}/secret`],
    });
    listener.close();
    assertEquals([failed.verdict, failed.exitCode, failed.status], ["fail", 1, "ok"]);
    assertEquals(failed.logTail.trim(), "test.sh", failed.logTail);
    const passed = await runLocalGate({
      repoDir: repo.dir,
      commit: tip,
      accept: "touch ok.txt && sh test.sh && echo PASSED",
      hiddenPaths: [],
    });
    assertEquals([passed.verdict, passed.exitCode], ["pass", 0]);
    assertStringIncludes(passed.logTail, "PASSED");
    const worktrees = await new Deno.Command("git", {
      args: ["-C", repo.dir, "worktree", "list", "--porcelain"],
    }).output();
    const listed = new TextDecoder().decode(worktrees.stdout);
    assertEquals(listed.split("\n").filter((l) => l.startsWith("worktree ")).length, 1, listed);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

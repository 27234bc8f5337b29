/**
 * The one git runner of agent work (roles/agent_work/git_command.ts): an exit code not allowed,
 * a command past its time and output past its bound are each a GitCommandError; allowed codes
 * are answers.
 */
import { GitCommandError } from "../../../../roles/agent_work/agent_work_errors.ts";
import { runGit } from "../../../../roles/agent_work/git_command.ts";
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";

Deno.test("git's answer, and an allowed exit code as an answer", async () => {
  assertEquals((await runGit(["--version"])).stdout.startsWith("git version "), true);
  const dir = await Deno.makeTempDir();
  try {
    const { code } = await runGit(["rev-parse", "--verify", "-q", "HEAD"], {
      dir,
      allowCodes: [1, 128],
    });
    assertEquals(code, 128);
    await assertRejects(() => runGit(["rev-parse", "HEAD"], { dir }), GitCommandError, "exit 128");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command past its time is killed and refused, its children's pipes not waited for", async () => {
  await assertRejects(
    () => runGit(["-c", "alias.wait=!sleep 3", "wait"], { timeoutMs: 100 }),
    GitCommandError,
    "ran past 100 ms",
  );
});

Deno.test("output past its bound is refused", async () => {
  await assertRejects(
    () => runGit(["--version"], { maxOutput: 4 }),
    GitCommandError,
    "printed more than 4 bytes",
  );
});

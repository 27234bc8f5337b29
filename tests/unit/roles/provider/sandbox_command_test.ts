/**
 * roles/provider/sandbox/sandbox_command.ts: whether a preset's command can start in the skill
 * sandbox, on real files: the skill's `agents/node_modules/.bin` and the system dirs on its PATH,
 * a script's `#!` interpreter, what lies outside the sandbox or is hidden.
 */
import { assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { sandboxCommandProblem } from "../../../../roles/provider/sandbox/sandbox_command.ts";

Deno.test("sandbox command: found on the skill's bin or the system PATH passes; missing, outside, hidden or with a missing interpreter is told", async () => {
  const skillDir = await Deno.makeTempDir({ prefix: "turnpike-sandbox-command-" });
  const outside = await Deno.makeTempDir({ prefix: "turnpike-sandbox-outside-" });
  const bin = `${skillDir}/agents/node_modules/.bin`;
  try {
    await Deno.mkdir(bin, { recursive: true });
    await Deno.writeTextFile(`${bin}/fixer`, "#!/usr/bin/env sh\ntrue\n", { mode: 0o755 });
    await Deno.writeTextFile(`${bin}/needs-x`, "#!/usr/bin/env no-such-x\n", { mode: 0o755 });
    await Deno.writeTextFile(`${bin}/plain`, "true\n", { mode: 0o644 });
    await Deno.writeTextFile(`${outside}/agent`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.symlink(`${outside}/agent`, `${bin}/linked`);
    const view = { skillDir };
    const ok = [
      "fixer --task x",
      "A=1 B='x y' fixer",
      `KEY="a b" sh -c true`,
      "deno run x.ts",
      "./in-the-worktree.sh",
      '"$AGENT" run',
      "cd sub && fixer",
    ];
    for (const command of ok) {
      assertEquals(sandboxCommandProblem(command, view), undefined, command);
    }
    const told: [string, string][] = [
      ["claude -p x", '"claude" is not found in the sandbox'],
      ["needs-x", "its interpreter no-such-x is not found"],
      ["plain", "is not a file the sandbox's user may run"],
      ["linked", "is outside what the sandbox shows"],
      [`${outside}/agent`, "is outside what the sandbox shows"],
    ];
    for (const [command, why] of told) {
      assertStringIncludes(sandboxCommandProblem(command, view) ?? "", why, command);
    }
    // A dir the sandbox covers (the state dir) hides what a bound dir would show.
    assertStringIncludes(
      sandboxCommandProblem("fixer", { skillDir, hidden: [`${skillDir}/agents`] }) ?? "",
      "is outside what the sandbox shows",
    );
  } finally {
    await Deno.remove(skillDir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

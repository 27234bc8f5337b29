/**
 * Test helper: the sandbox's hostile tests run again in a child `deno test` with an environment
 * that changes how every sandbox is made (prepared ahead, the shell setup), and asserted green.
 *
 * @module
 */
import { assert, assertEquals } from "../../harness/assert.ts";

/**
 * Runs `tests/unit/roles/provider/<name>_test.ts` for each name with `env` added, and asserts
 * they pass, at least `minPassed` of them.
 *
 * @example
 * ```ts
 * import { rerunSandboxTests } from "./sandbox_test_rerun.ts";
 *
 * await rerunSandboxTests(["sandbox_gateway"], { TURNPIKE_SANDBOX_SETUP: "shell" }, 4);
 * ```
 */
export async function rerunSandboxTests(
  names: string[],
  env: Record<string, string>,
  minPassed: number,
): Promise<void> {
  const files = names.map((f) => `tests/unit/roles/provider/${f}_test.ts`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...files],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text.slice(-4000));
  const summary = /ok \| (\d+) passed/.exec(text);
  assert(summary !== null && Number(summary[1]) >= minPassed, text.slice(-2000));
}

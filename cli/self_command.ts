/**
 * The command line that runs this same turnpike again (the dashboard's `job cancel`, the
 * profile's background node).
 *
 * @module
 */

/**
 * The command line that runs this same turnpike with `args`: `deno run -A <main> ...` under
 * Deno, the binary itself when compiled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selfCommand } from "./self_command.ts";
 *
 * const [cmd, ...rest] = selfCommand(["job", "list"]);
 * assert.equal(cmd, Deno.execPath());
 * assert.deepEqual(rest.slice(-2), ["job", "list"]);
 * ```
 */
export function selfCommand(args: string[]): string[] {
  const exec = Deno.execPath();
  const underDeno = /(^|\/)deno(\.exe)?$/.test(exec);
  return underDeno ? [exec, "run", "-A", Deno.mainModule, ...args] : [exec, ...args];
}

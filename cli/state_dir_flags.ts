/**
 * The state directory a read-only command works on, from the global `--state-dir` /
 * `--profile` flags, refusing to invent one that does not exist.
 *
 * @module
 */
import type { Command } from "commander";
import { resolveStateDir } from "../config/state_dir.ts";
import { CliError } from "./cli_error.ts";
import { explicitProfile } from "./settings_flags.ts";
import type { GlobalOptions } from "./global_options.ts";

/**
 * Resolves the state dir and checks that it exists (read-only commands must not create one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { existingStateDir } from "./state_dir_flags.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const cmd = new Command("turnpike").option("--state-dir <dir>");
 * cmd.parse(["--state-dir", stateDir], { from: "user" });
 * assert.equal(await existingStateDir(cmd.opts(), cmd), stateDir);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function existingStateDir(opts: GlobalOptions, cmd: Command): Promise<string> {
  const stateDir = resolveStateDir({
    stateDir: opts.stateDir,
    profile: explicitProfile(opts, cmd),
  });
  const found = await Deno.stat(stateDir).then((s) => s.isDirectory, () => false);
  if (!found) {
    throw new CliError("no state directory", {
      context: stateDir,
      suggestion: "run `turnpike wallet init` first, or pass --state-dir / --profile",
    });
  }
  return stateDir;
}

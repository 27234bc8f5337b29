/**
 * The `turnpike` command. Run `deno task turnpike --help` (or `deno run -A cli.ts --help`).
 *
 * @module
 */
import { CommanderError } from "commander";
import type { Command } from "commander";
import { CliError, cliErrorJson, exitCodeOf, formatCliError } from "./cli/cli_error.ts";
import { ExitCode } from "./cli/exit_codes.ts";
import { jsonText } from "./cli/json_line.ts";
import { createRootCommand } from "./cli/root_command.ts";
import { commandNeed, registerNeed } from "./cli/command_index.ts";

/**
 * Runs the command line and returns the exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./cli.ts";
 *
 * assert.equal(await main(["--version"]), 0); // prints the version
 * assert.equal(await main(["no-such-command"]), 2); // a usage error, printed by the parser
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await main(["--state-dir", stateDir, "wallet", "show"]), 1); // no wallet there
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const program = await programFor(args);
  try {
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (err) {
    const json = wantsJson(args);
    if (err instanceof CommanderError) {
      // Commander has already printed its message (help, version, or a usage error).
      if (err.exitCode === 0) return ExitCode.Ok;
      if (json) {
        const message = err.message.replace(/^error: /, "");
        console.log(jsonText(cliErrorJson(new CliError(message, { exitCode: 2 }))));
      }
      return ExitCode.Usage;
    }
    console.error(formatCliError(err));
    if (json && !(err instanceof CliError && err.printed)) {
      console.log(jsonText(cliErrorJson(err)));
    }
    return exitCodeOf(err);
  }
}

/**
 * The program for a command line: the root command with only what the command line names
 * registered (cli/command_index.ts), so a command loads its own code and no other's: `--help`
 * and `--version` no group's, `job list` the job repository's readers, a long-running `town up`
 * none of the other commands' (docs/SCALE.md "A command's start", docs/OPERATIONS.md "Memory").
 */
async function programFor(args: readonly string[]): Promise<Command> {
  const program = createRootCommand();
  await registerNeed(program, commandNeed(args));
  return program;
}

/** `--json` or `--output json` anywhere (also when parsing itself failed). */
function wantsJson(args: readonly string[]): boolean {
  return args.some((a, i) =>
    a === "--json" || a === "--output=json" || (a === "--output" && args[i + 1] === "json")
  );
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/**
 * The `turnpike` command. Run `deno task turnpike --help` (or `deno run -A cli.ts --help`).
 *
 * @module
 */
import { CommanderError } from "commander";
import type { Command } from "commander";
import { CliError, cliErrorJson, exitCodeOf, formatCliError } from "./cli/cli_error.ts";
import { ExitCode } from "./cli/exit_codes.ts";

/**
 * Runs the command line and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["wallet", "show"]);
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
        console.log(JSON.stringify(cliErrorJson(new CliError(message, { exitCode: 2 }))));
      }
      return ExitCode.Usage;
    }
    console.error(formatCliError(err));
    if (json && !(err instanceof CliError && err.printed)) {
      console.log(JSON.stringify(cliErrorJson(err)));
    }
    return exitCodeOf(err);
  }
}

/** Global options that take a value (cli/root_command.ts). */
const VALUED_GLOBALS = new Set(["--state-dir", "--profile", "--output"]);

/**
 * The program for a command line: for `town ...` only the town group (a long-running town
 * then holds none of the other commands' code: docs/OPERATIONS.md "Memory"), else every group.
 */
async function programFor(args: readonly string[]): Promise<Command> {
  let group: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (VALUED_GLOBALS.has(args[i])) i++;
    else if (!args[i].startsWith("-")) {
      group = args[i];
      break;
    }
  }
  if (group === "town") {
    const [{ createRootCommand }, { registerTownCommand }] = await Promise.all([
      import("./cli/root_command.ts"),
      import("./cli/town_command.ts"),
    ]);
    const program = createRootCommand();
    registerTownCommand(program);
    return program;
  }
  return (await import("./cli/program.ts")).createProgram();
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

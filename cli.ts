/**
 * The `turnpike` command. Run `deno task turnpike --help` (or `deno run -A cli.ts --help`).
 *
 * @module
 */
import { CommanderError } from "commander";
import { createProgram } from "./cli/program.ts";
import { exitCodeOf, formatCliError } from "./cli/cli_error.ts";
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
  const program = createProgram();
  try {
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (help, version, or a usage error).
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    console.error(formatCliError(err));
    return exitCodeOf(err);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

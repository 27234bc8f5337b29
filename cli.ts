/**
 * The `turnpike` command. Run `deno task turnpike --help` (or `deno run -A cli.ts --help`).
 *
 * @module
 */
import { CommanderError } from "commander";
import { createProgram } from "./cli/program.ts";
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
  const program = createProgram();
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

/** `--json` or `--output json` anywhere (also when parsing itself failed). */
function wantsJson(args: readonly string[]): boolean {
  return args.some((a, i) =>
    a === "--json" || a === "--output=json" || (a === "--output" && args[i + 1] === "json")
  );
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/**
 * A stand-in root program for the wallet command's end-to-end test: the same global options and
 * error printing as `cli.ts`, with only `wallet` registered, so the test does not depend on
 * every other command group being built. `tests/e2e/wallet_cli_test.ts` also runs the real
 * `cli.ts` when it loads.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { registerWalletCommand } from "../../cli/wallet_command.ts";
import { exitCodeOf, formatCliError } from "../../cli/cli_error.ts";
import { ExitCode } from "../../cli/exit_codes.ts";

/**
 * Runs `turnpike wallet ...` with the root options and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await walletCliMain(["--state-dir", "/tmp/x", "wallet", "show"]);
 * ```
 */
export async function walletCliMain(args: readonly string[]): Promise<number> {
  const program = new Command("turnpike")
    .option("--state-dir <dir>", "state directory")
    .option("--profile <name>", "profile name", "default")
    .addOption(
      new Option("--output <format>", "output").choices(["text", "json", "csv"]).default("text"),
    )
    .option("--non-interactive", "never prompt")
    .exitOverride();
  registerWalletCommand(program);
  try {
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    console.error(formatCliError(err));
    return exitCodeOf(err);
  }
}

if (import.meta.main) Deno.exit(await walletCliMain(Deno.args));

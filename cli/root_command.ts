/**
 * The root of the `turnpike` command: its description, version and global options, without
 * any command group (cli/program.ts registers them all; cli.ts registers only the group a
 * command line names, so `town up` does not load the code of every other command:
 * docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { Command, Option } from "commander";

/** The version printed by `turnpike --version`. */
export const TURNPIKE_VERSION = "0.1.0";

/**
 * The root command with the global options and no command group.
 *
 * @example
 * ```ts
 * import { registerTownCommand } from "./town_command.ts";
 *
 * const program = createRootCommand();
 * registerTownCommand(program);
 * ```
 */
export function createRootCommand(): Command {
  const program = new Command("turnpike")
    .description(
      "A node for the Crosstown network: post and serve paid NIP-90 jobs over Nostr,\n" +
        "paying per message with Interledger, events encoded as TOON.",
    )
    .version(TURNPIKE_VERSION)
    .option("--state-dir <dir>", "state directory (default ~/.turnpike/<profile>)")
    .option("--profile <name>", "profile name under ~/.turnpike (or $TURNPIKE_HOME)", "default")
    .addOption(
      new Option("--output <format>", "output format").choices(["text", "json", "csv"]).default(
        "text",
      ),
    )
    .option("--json", "same as --output json (for agents: docs/AGENTS.md)")
    .option("--non-interactive", "never prompt; fail when input would be needed")
    .showSuggestionAfterError()
    .configureHelp({ sortSubcommands: false })
    .exitOverride()
    .hook("preAction", (root) => {
      if (root.opts().json) root.setOptionValue("output", "json");
    });
  return program;
}

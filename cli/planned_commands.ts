/**
 * Command groups of the design (DESIGN.md §8) that are not built yet. They are listed in
 * `turnpike --help` so the shape of the tool is visible, and say plainly that they are not
 * built (exit code 3) instead of pretending to work.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";

/** A command group that is planned, with the issue that builds it. */
export interface PlannedCommand {
  name: string;
  subcommands: string[];
  description: string;
  issue: number;
}

/** The planned groups and the issue each belongs to. */
export const PLANNED_COMMANDS: readonly PlannedCommand[] = [
  { name: "relay", subcommands: ["status"], description: "relay connection status", issue: 3 },
  { name: "stats", subcommands: [], description: "earnings, spend and pipeline metrics", issue: 4 },
  { name: "dash", subcommands: [], description: "interactive dashboard", issue: 4 },
  { name: "export", subcommands: [], description: "export payment log as CSV/JSON", issue: 4 },
];

function notBuilt(what: string, issue: number): never {
  throw new CliError(`\`turnpike ${what}\` is not built yet`, {
    context: `planned in issue #${issue}`,
    suggestion: "run `turnpike --help` for what works today",
    exitCode: ExitCode.NotBuilt,
  });
}

/**
 * Adds every planned group to the program, each failing with exit code 3 when run.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerPlannedCommands(new Command("turnpike"));
 * ```
 */
export function registerPlannedCommands(program: Command): void {
  for (const planned of PLANNED_COMMANDS) {
    const group = program
      .command(planned.name)
      .description(`${planned.description} [not built yet: issue #${planned.issue}]`)
      .allowUnknownOption()
      .allowExcessArguments();
    if (planned.subcommands.length === 0) {
      group.action(() => notBuilt(planned.name, planned.issue));
      continue;
    }
    for (const sub of planned.subcommands) {
      group
        .command(sub)
        .description(`[not built yet: issue #${planned.issue}]`)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => notBuilt(`${planned.name} ${sub}`, planned.issue));
    }
  }
}

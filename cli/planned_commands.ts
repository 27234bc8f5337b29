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

/** A command group that is planned, with the issue that builds it when one is filed. */
export interface PlannedCommand {
  name: string;
  subcommands: string[];
  description: string;
  issue?: number;
}

/** Where a planned command stands: "issue #4", or "no issue filed yet". */
export function plannedIn(planned: PlannedCommand): string {
  return planned.issue === undefined ? "no issue filed yet" : `issue #${planned.issue}`;
}

/** The planned groups. */
export const PLANNED_COMMANDS: readonly PlannedCommand[] = [];

function notBuilt(what: string, planned: PlannedCommand): never {
  throw new CliError(`\`turnpike ${what}\` is not built yet`, {
    context: `planned: ${plannedIn(planned)}`,
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
      .description(`${planned.description} [not built yet: ${plannedIn(planned)}]`)
      .allowUnknownOption()
      .allowExcessArguments();
    if (planned.subcommands.length === 0) {
      group.action(() => notBuilt(planned.name, planned));
      continue;
    }
    for (const sub of planned.subcommands) {
      group
        .command(sub)
        .description(`[not built yet: ${plannedIn(planned)}]`)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => notBuilt(`${planned.name} ${sub}`, planned));
    }
  }
}

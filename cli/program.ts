/**
 * The `turnpike` command tree: global options and the command groups.
 *
 * @module
 */
import type { Command } from "commander";
import { createRootCommand } from "./root_command.ts";

export { TURNPIKE_VERSION } from "./root_command.ts";
import tab from "@bomb.sh/tab/commander";
import { registerDemoCommand } from "./demo_command.ts";
import { registerInitCommand } from "./init_command.ts";
import { registerStageCommand } from "./stage_command.ts";
import { registerWalletCommand } from "./wallet_command.ts";
import { registerWalletBooks } from "./wallet_books_command.ts";
import { registerTownCommand } from "./town_command.ts";
import { registerChannelCommand } from "./channel_command.ts";
import { registerChainCommand } from "./chain_command.ts";
import { registerDbCommand } from "./db_command.ts";
import { registerCompletionsCommand } from "./completions_command.ts";
import { registerExportCommand } from "./export_command.ts";
import { registerReceiptsCommand } from "./receipts_command.ts";
import { registerTrustCommand } from "./trust_command.ts";
import { registerRelayCommand } from "./relay_command.ts";
import { registerStatsCommand } from "./stats_command.ts";
import { registerNodeCommand } from "./node_command.ts";
import { registerDoctorCommand } from "./doctor_command.ts";
import { registerJobCommand } from "./job_command.ts";
import { registerRequesterCommand } from "./requester_command.ts";
import { registerWitnessCommand } from "./witness_command.ts";
import { registerRefineryCommand } from "./refinery_command.ts";
import { registerPruneCommands } from "./prune_command.ts";
import { registerDmCommand } from "./dm_command.ts";
import { registerGtCommand } from "./gt_command.ts";
import { registerBeadsCommand } from "./beads_command.ts";
import { registerSkillCommand } from "./skill_command.ts";
import { registerProvidersCommand } from "./providers_command.ts";
import { registerDashCommand } from "./dash_command.ts";
import { registerTownsCommand } from "./towns_command.ts";

/**
 * Builds the program with every command group. Actions throw `CliError`s; `cli.ts` prints them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createProgram } from "./program.ts";
 *
 * const program = createProgram();
 * assert(program.commands.some((c) => c.name() === "job"));
 * ```
 */
export function createProgram(): Command {
  const program = createRootCommand();
  registerEveryCommand(program);
  return program;
}

/**
 * Registers every command group on a root command (`cli.ts` does for `completions`, which
 * generates its scripts from the whole tree; other command lines register only what they name:
 * cli/command_index.ts).
 *
 * @example
 * ```ts
 * import { createRootCommand } from "./root_command.ts";
 *
 * const program = createRootCommand();
 * registerEveryCommand(program);
 * ```
 */
export function registerEveryCommand(program: Command): void {
  registerInitCommand(program);
  registerDemoCommand(program);
  registerWalletBooks(registerWalletCommand(program));
  registerStageCommand(program);
  registerTownCommand(program);
  registerChannelCommand(program);
  registerChainCommand(program);
  registerDbCommand(program);
  registerJobCommand(program);
  registerWitnessCommand(program);
  registerRefineryCommand(program);
  registerRequesterCommand(program);
  registerDmCommand(program);
  registerGtCommand(program);
  registerBeadsCommand(program);
  registerSkillCommand(program);
  registerNodeCommand(program);
  registerPruneCommands(program);
  registerDoctorCommand(program);
  registerRelayCommand(program);
  registerProvidersCommand(program);
  registerDashCommand(program);
  registerTownsCommand(program);
  registerStatsCommand(program);
  registerExportCommand(program);
  registerReceiptsCommand(program);
  registerTrustCommand(program);
  registerCompletionsCommand(program, tab);
}

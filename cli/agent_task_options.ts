/**
 * `job submit agent-task`'s and `job results --apply`'s flags (docs/AGENTS.md "A coding agent's
 * task"). Light on purpose: `job submit` registers these for every kind; the work is in
 * roles/agent_work/requester/, loaded (through cli/agent_task_command.ts) only for an agent task.
 *
 * @module
 */
import type { Command } from "commander";

/** `job submit agent-task`'s own flags. */
export interface AgentTaskFlags {
  repo?: string;
  bead?: string;
  title?: string;
  text?: string;
  accept?: string;
  agent?: string;
  budget?: string;
  depth?: string;
  base?: string;
  declineFailed?: boolean;
  /** Protected globs, besides the profile's `[agents] protect`. */
  protect?: string[];
  allowProtected?: boolean;
  provider?: string[];
}

/** `job results --apply [repo] [--branch name] [--fast-forward]`. */
export interface ApplyFlags {
  /** The repository (`true`: the one the job was submitted from). */
  apply?: string | true;
  branch?: string;
  /** Move `branch` from the base to the result, even checked out. */
  fastForward?: boolean;
  /** Run the job's acceptance command on the applied branch here, in the sandbox. */
  verify?: boolean;
}

/**
 * Adds the agent-task flags to `job submit`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { addAgentTaskOptions } from "./agent_task_options.ts";
 *
 * const submit = addAgentTaskOptions(new Command("submit"));
 * if (!submit.options.some((o) => o.long === "--repo")) throw new Error("no --repo");
 * ```
 */
export function addAgentTaskOptions(cmd: Command): Command {
  return cmd
    .option("--repo <dir>", "agent-task: the repository (a bundle of its base goes, sealed)")
    .option("--base <rev>", "agent-task: the base commit (default HEAD)")
    .option("--depth <n>", "agent-task: send only the last n commits of history")
    .option("--bead <file|->", "agent-task: the task, as `bd show --json` prints it")
    .option("--title <text>", "agent-task: the task's title (instead of --bead)")
    .option("--text <text>", "agent-task: the task's text, with --title")
    .option("--accept <cmd>", "agent-task: the gate, run in the worktree after the agent")
    .option("--agent <preset>", "agent-task: the provider's agent preset")
    .option("--budget <n>", "agent-task: the most the model calls may cost, base units")
    .option("--decline-failed", "agent-task: do not pay the delivery of a failed gate's result")
    .option(
      "--protect <glob>",
      "agent-task: a path the agent may not change (repeatable; restored before the gate)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--allow-protected",
      "agent-task: pay the delivery even when the result changed a protected path",
    );
}

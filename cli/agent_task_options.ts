/**
 * `job submit agent-task`'s and `job results --apply`'s flags (docs/AGENTS.md "A coding agent's
 * task"). Light on purpose: `job submit` registers these for every kind; the work is in
 * roles/agent_work/requester/, loaded (through cli/agent_task_command.ts) only for an agent task.
 *
 * @module
 */
import type { Command } from "commander";
import { lazyImport } from "./lazy_import.ts";
import type { QuoteFlags } from "./agent_task_quote_print.ts";
import { AGENT_TASK_KIND } from "../roles/agent_work/agent_task_wire.ts";

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
  /** Print what the task would cost, part by part, and post nothing. */
  quote?: boolean;
  /** What `bd list --status=closed --json` printed: the rig's latest closed beads. */
  closedBeads?: string;
  /** The bound of the bead's context, characters (roles/agent_work/bead_context.ts). */
  maxContextChars?: string;
  /** The Gas Town worker (`<rig>/polecats/<name>`...) whose derived key signs the request. */
  worker?: string;
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
    .option(
      "--closed-beads <file>",
      "agent-task: the rig's closed beads (`bd list --status=closed --json`), for --bead's context",
    )
    .option(
      "--max-context-chars <n>",
      "agent-task: the bound of --bead's context (parent, dependencies, closed beads); 0: none",
      "10000",
    )
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
    )
    .option("--quote", "agent-task: print what it would cost, part by part; post and pay nothing")
    .option(
      "--worker <address>",
      "sign the request with this Gas Town worker's key (<rig>/polecats/<name>, <rig>/crew/<name>, " +
        "mayor), derived from the profile's; the profile pays",
    );
}

/**
 * `job submit`'s action: `submit`, or with `--quote` the quote's printer
 * (cli/agent_task_quote_print.ts, loaded only then).
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { submitOrQuote } from "./agent_task_options.ts";
 *
 * new Command("submit").argument("<kind>").action(submitOrQuote(async (kind) => {
 *   console.log(`submit ${kind}`);
 * }));
 * ```
 */
export function submitOrQuote<O extends QuoteFlags>(
  submit: (kind: string, opts: O, cmd: Command) => Promise<void>,
): (kind: string, _o: unknown, cmd: Command) => Promise<void> {
  return async (kind, _o, cmd) => {
    const opts = cmd.optsWithGlobals<O>();
    if (opts.quote !== true) return await submit(kind, opts, cmd);
    const { printAgentTaskQuote } = await lazyImport<
      typeof import("./agent_task_quote_print.ts")
    >(new URL("./agent_task_quote_print.ts", import.meta.url));
    await printAgentTaskQuote(kind, opts, cmd);
  };
}

/**
 * Whether `job submit <kind>` is an agent task to the one provider named with `--provider`: then
 * its repository is bundled (or found in the profile's cache) while the town's directory is read,
 * which it needs only for the preset's timeout (cli/agent_task_command.ts `startAgentTaskParts`).
 * `--provider auto` and `roster` pick the provider from the directory: not before it.
 *
 * @example
 * ```ts
 * import { repositoryFirst } from "./agent_task_options.ts";
 *
 * if (!repositoryFirst("agent-task", { provider: ["ab".repeat(32)] })) throw new Error();
 * if (repositoryFirst("agent-task", { provider: ["auto"] })) throw new Error("auto");
 * if (repositoryFirst("echo", { provider: ["ab".repeat(32)] })) throw new Error("echo");
 * ```
 */
export function repositoryFirst(kind: string, flags: Pick<AgentTaskFlags, "provider">): boolean {
  const named = flags.provider?.length === 1 && /^[0-9a-f]{64}$/.test(flags.provider[0]);
  return named && (kind === "agent-task" || kind === String(AGENT_TASK_KIND));
}

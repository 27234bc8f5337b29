/**
 * `turnpike job prune --older-than 30d` (the requester's job records) and `turnpike node prune
 * --older-than 30d` (the provider's): finished jobs whose last change is older than the age go,
 * in-flight and recent ones stay (roles/job_prune.ts). A dry run by default: it lists what would
 * go; `--yes` removes. Each removal is an audit commit, so git history keeps the records; the
 * payment log is untouched. Takes the state dir's lock: stop `turnpike requester` / `node up`
 * first.
 *
 * @module
 */
import type { Command } from "commander";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { loadSettings } from "../config/settings.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { openProviderJobStore } from "../state/jobs/provider_job_store.ts";
import {
  parseAge,
  PruneAgeError,
  pruneProviderJobs,
  type PruneReport,
  pruneRequesterJobs,
} from "../roles/job_prune.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface PruneOptions extends GlobalOptions {
  olderThan: string;
  yes?: boolean;
}

type Side = "job" | "node";

/**
 * Adds `prune` to the `job` and `node` commands of the program (registered before).
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * registerPruneCommands(program); // after registerJobCommand and registerNodeCommand
 * ```
 */
export function registerPruneCommands(program: Command): void {
  for (const side of ["job", "node"] as const) {
    const parent = program.commands.find((c) => c.name() === side);
    if (parent === undefined) continue;
    parent.command("prune")
      .description(
        side === "job"
          ? "remove finished job records older than an age (dry run unless --yes)"
          : "remove the provider's finished job records older than an age (dry run unless --yes)",
      )
      .requiredOption("--older-than <age>", "e.g. 30d, 12h, 90m")
      .option("--yes", "remove them (default: only list what would go)")
      .action(async (_o: unknown, cmd: Command) => {
        await prune(side, cmd.optsWithGlobals<PruneOptions>());
      });
  }
}

async function prune(side: Side, opts: PruneOptions): Promise<void> {
  let ageMs: number;
  try {
    ageMs = parseAge(opts.olderThan);
  } catch (err) {
    if (!(err instanceof PruneAgeError)) throw err;
    throw CLI_ERRORS.usage(err);
  }
  const { settings } = await loadSettings({
    flags: { stateDir: opts.stateDir, profile: opts.profile },
  });
  const stateDir = settings.stateDir;
  await using _lock = await holdStateDir(stateDir, `${side} prune`);
  const options = { stateDir, beforeMs: Date.now() - ageMs, dryRun: opts.yes !== true };
  const audit = await openAuditLog({ dir: stateDir });
  let report: PruneReport;
  try {
    if (side === "job") {
      const repo = await openJobRepository({ stateDir, audit });
      try {
        report = await pruneRequesterJobs(repo, options);
      } finally {
        repo.close();
      }
    } else {
      report = await pruneProviderJobs(await openProviderJobStore({ stateDir, audit }), options);
    }
  } finally {
    await audit.close();
  }
  print(opts, report);
}

function print(opts: PruneOptions, r: PruneReport): void {
  if (opts.output === "json") {
    printJsonLine("prune", {
      event: "prune",
      dryRun: r.dryRun,
      olderThan: opts.olderThan,
      pruned: r.pruned,
      kept: { inFlight: r.inFlight, recent: r.recent },
    });
    return;
  }
  const verb = r.dryRun ? "would prune" : "pruned";
  console.log(
    `${verb} ${r.pruned.length} finished job(s) older than ${opts.olderThan}; kept ` +
      `${r.inFlight} in flight and ${r.recent} recent`,
  );
  for (const id of r.pruned) console.log(`  ${id}`);
  if (r.dryRun && r.pruned.length > 0) console.log("(dry run: pass --yes to remove them)");
}

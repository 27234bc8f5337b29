/**
 * `turnpike stats`: what this node has spent and earned (from the payment log) and how its
 * jobs stand (requester job records by status), as text or `--output json`.
 *
 * @module
 */
import type { Command } from "commander";
import { openJobRepository } from "../state/job_repository.ts";
import { JOB_STATUSES } from "../state/job_record.ts";
import { openPaymentLog, type PaymentEntry } from "../state/payment_log.ts";
import type { ProfileFlags } from "./settings_flags.ts";
import { existingStateDir } from "./state_dir_flags.ts";

/** Money moved in one direction, in base units per asset. */
export interface PaymentTotals {
  /** Settled (fulfilled) payments. */
  count: number;
  byAsset: Record<string, string>;
}

/** What `turnpike stats` reports. */
export interface NodeStats {
  stateDir: string;
  paid: PaymentTotals;
  earned: PaymentTotals;
  /** Outgoing payments sent but with no recorded outcome (never retried automatically). */
  inDoubt: number;
  rejected: number;
  /** Requester jobs by status. */
  jobs: Record<string, number>;
}

/**
 * Sums fulfilled payments per direction and asset.
 *
 * @example
 * ```ts
 * totals(log.entries(), "out").byAsset; // { USD: "5000" }
 * ```
 */
export function totals(entries: readonly PaymentEntry[], direction: "in" | "out"): PaymentTotals {
  const sums = new Map<string, bigint>();
  let count = 0;
  for (const e of entries) {
    if (e.direction !== direction || e.event !== "fulfilled") continue;
    count++;
    sums.set(e.asset, (sums.get(e.asset) ?? 0n) + BigInt(e.amount));
  }
  return {
    count,
    byAsset: Object.fromEntries([...sums].map(([asset, sum]) => [asset, sum.toString()])),
  };
}

async function jobCounts(stateDir: string): Promise<Record<string, number>> {
  const hasJobs = await Deno.stat(`${stateDir}/jobs`).then((s) => s.isDirectory, () => false);
  if (!hasJobs) return {};
  const repo = await openJobRepository({ stateDir });
  try {
    const counts: Record<string, number> = {};
    for (const status of JOB_STATUSES) {
      const n = repo.count(status);
      if (n > 0) counts[status] = n;
    }
    return counts;
  } finally {
    repo.close();
  }
}

/**
 * Reads the stats of a state dir.
 *
 * @example
 * ```ts
 * const stats = await readNodeStats("/home/me/.turnpike/default");
 * ```
 */
export async function readNodeStats(stateDir: string): Promise<NodeStats> {
  const log = await openPaymentLog({ stateDir });
  const entries = log.entries();
  return {
    stateDir,
    paid: totals(entries, "out"),
    earned: totals(entries, "in"),
    inDoubt: log.inDoubt().length,
    rejected: entries.filter((e) => e.event === "rejected").length,
    jobs: await jobCounts(stateDir),
  };
}

function money(t: PaymentTotals): string {
  const parts = Object.entries(t.byAsset).map(([asset, sum]) => `${sum} ${asset}`);
  return `${t.count} payments${parts.length > 0 ? `: ${parts.join(", ")}` : ""} (base units)`;
}

/**
 * Adds `stats` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerStatsCommand(new Command("turnpike"));
 * ```
 */
export function registerStatsCommand(program: Command): void {
  program
    .command("stats")
    .description("spend, earnings and jobs of this node (from its state dir)")
    .action(async (_opts: ProfileFlags, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ProfileFlags & { output?: string }>();
      const stats = await readNodeStats(await existingStateDir(opts, cmd));
      if (opts.output === "json") return console.log(JSON.stringify(stats));
      const jobs = Object.entries(stats.jobs).map(([s, n]) => `${s} ${n}`).join(", ");
      console.log([
        `state dir   ${stats.stateDir}`,
        `paid        ${money(stats.paid)}`,
        `earned      ${money(stats.earned)}`,
        `in doubt    ${stats.inDoubt} (sent, no outcome recorded: never paid twice)`,
        `rejected    ${stats.rejected}`,
        `jobs        ${jobs === "" ? "none" : jobs}`,
      ].join("\n"));
    });
}

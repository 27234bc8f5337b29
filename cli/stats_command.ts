/**
 * `turnpike stats`: what this node has spent and earned (from the payment log), by category
 * (`job`: provider invoices; `town-write`: paid writes; `town-blob`: blobs), the net, per day and
 * per job, and how its jobs stand (requester job records by status). Text in asset units;
 * `--output json` in base units (decimal strings).
 *
 * @module
 */
import type { Command } from "commander";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { JOB_STATUSES } from "../state/jobs/job_record.ts";
import { openPaymentLog, PAYMENT_CATEGORIES } from "../state/payments/payment_log.ts";
import {
  type AssetBooks,
  type CategoryTotals,
  summarizePayments,
} from "../state/payments/payment_summary.ts";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import type { GlobalOptions } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import { type NetworkStatsFlags, printNetworkStats } from "./network_stats_view.ts";
import { addTownReadOptions } from "./town_read.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

/** What `turnpike stats` reports. */
export interface NodeStats {
  stateDir: string;
  /** The books per asset (one asset in practice). */
  books: AssetBooks[];
  /** Outgoing payments sent but with no recorded outcome (never retried automatically). */
  inDoubt: number;
  rejected: number;
  /** Requester jobs by status. */
  jobs: Record<string, number>;
}

async function jobCounts(stateDir: string): Promise<Record<string, number>> {
  const hasJobs = await Deno.stat(`${stateDir}/jobs`).then((s) => s.isDirectory, () => false);
  if (!hasJobs) return {};
  const repo = await openJobRepository({ stateDir, readOnly: true });
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
 * import assert from "node:assert/strict";
 * import { readNodeStats } from "./stats_command.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // nothing paid yet
 * const stats = await readNodeStats(stateDir);
 * assert.deepEqual(stats.books, []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readNodeStats(stateDir: string): Promise<NodeStats> {
  const log = await openPaymentLog({ stateDir });
  const entries = log.entries();
  return {
    stateDir,
    books: summarizePayments(entries),
    inDoubt: log.inDoubt().length,
    rejected: entries.filter((e) => e.event === "rejected").length,
    jobs: await jobCounts(stateDir),
  };
}

/**
 * JSON form of the books: every amount a decimal string of base units.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booksJson } from "./stats_command.ts";
 *
 * const byCategory = { job: 0n, "town-write": 5n, "town-blob": 0n, transfer: 0n };
 * const books = [{
 *   asset: "USD",
 *   spent: { total: 5n, byCategory },
 *   earned: { total: 0n, byCategory: { ...byCategory, "town-write": 0n } },
 *   net: -5n,
 *   byDay: [],
 *   byJob: [],
 *   payments: 1,
 * }];
 * const json = booksJson(books) as { net: string; spent: { total: string } }[];
 * assert.equal(json[0].net, "-5");
 * assert.equal(json[0].spent.total, "5");
 * ```
 */
export function booksJson(books: readonly AssetBooks[]): unknown {
  return JSON.parse(
    JSON.stringify(books, (_k, v) => typeof v === "bigint" ? v.toString() : v),
  );
}

function categories(t: CategoryTotals, amount: (n: bigint) => string): string {
  const parts = PAYMENT_CATEGORIES.filter((c) => t.byCategory[c] !== 0n)
    .map((c) => `${c} ${amount(t.byCategory[c])}`);
  return `${amount(t.total)}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}

/**
 * The books as text lines, amounts in asset units.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booksText } from "./stats_command.ts";
 *
 * assert.deepEqual(booksText([]), ["payments    none"]);
 * ```
 */
export function booksText(books: readonly AssetBooks[]): string[] {
  if (books.length === 0) return ["payments    none"];
  const lines: string[] = [];
  for (const b of books) {
    const amount = (n: bigint) =>
      b.scale === undefined
        ? `${n} ${b.asset} base units`
        : formatAssetAmount(n, { assetCode: b.asset, assetScale: b.scale });
    const jobs = b.byJob.filter((j) => !j.jobId.startsWith("blob:"));
    lines.push(
      `spent       ${categories(b.spent, amount)}`,
      `earned      ${categories(b.earned, amount)}`,
      `net         ${amount(b.net)} over ${b.payments} payments`,
    );
    if (jobs.length > 0) {
      const n = BigInt(jobs.length);
      const spent = jobs.reduce((s, j) => s + j.spent.total, 0n);
      const earned = jobs.reduce((s, j) => s + j.earned.total, 0n);
      lines.push(
        `per job     ${jobs.length} jobs: spent ${amount(spent / n)}, earned ${
          amount(earned / n)
        } on average`,
      );
    }
    for (const d of b.byDay.slice(-7)) {
      lines.push(`  ${d.day}  spent ${amount(d.spent)}, earned ${amount(d.earned)}`);
    }
  }
  return lines;
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
  addTownReadOptions(
    program
      .command("stats")
      .description("spent, earned and net by category, per day and per job; jobs by status")
      .option("--network", "the town's traffic instead: providers, jobs/min, success, latency")
      .option("--since <duration>", "with --network: the window, e.g. 30m, 1h, 1d (default 1h)"),
  )
    .action(async (_opts: GlobalOptions, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { network?: boolean }>();
      if (opts.network) return await printNetworkStats(opts as NetworkStatsFlags, cmd);
      const stats = await readNodeStats(await existingStateDir(opts, cmd));
      if (opts.output === "json") {
        return printJsonLine("stats", { ...stats, books: booksJson(stats.books) });
      }
      const jobs = Object.entries(stats.jobs).map(([s, n]) => `${s} ${n}`).join(", ");
      console.log(
        [
          `state dir   ${stats.stateDir}`,
          ...booksText(stats.books),
          `in doubt    ${stats.inDoubt} (sent, no outcome recorded: never paid twice)`,
          `rejected    ${stats.rejected}`,
          `jobs        ${jobs === "" ? "none" : jobs}`,
          // Asset codes are the towns' and providers' words.
        ].map((line) => terminalText(line)).join("\n"),
      );
    });
}

/**
 * Graceful overload (docs/SCALE.md "Graceful overload"): the scale harness run at a rate this
 * machine holds and at twice it, one run after the other in the same invocation, with the same
 * flags, and the two compared: done jobs/s (goodput) over the offers' window and with the drain,
 * lost, paid twice, offers refused `busy` at once, other failures. Goodput at twice the rate is
 * expected to stay at least 80% of the run at capacity, with 0 lost and 0 paid twice.
 *
 * Each run is a child process of `bench/network_scale_bench_script.ts` (its report in
 * `--out DIR`, default a temp dir); every flag after `--` goes to both runs as it is (e.g.
 * `-- --max-in-flight 24 --requester-hosts 2`, or `-- --max-in-flight auto`: a bound that finds
 * itself, roles/requester/adaptive_job_limit.ts).
 *
 * Run: deno run -A bench/scale_overload_script.ts --rate 5 [--agents 40] [--towns 1]
 *   [--seconds 20] [--job-timeout 30] [--out DIR] [-- harness flags]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const USAGE = `Usage: deno run -A bench/scale_overload_script.ts --rate 5 [--agents 40] [--towns 1]
  [--seconds 20] [--job-timeout 30] [--out DIR] [-- harness flags]`;

/** What one run's JSON report says, as far as this script reads it. */
interface ScaleReport {
  jobs: {
    offered: number;
    done: number;
    failed: number;
    lost: number;
    paidTwice: number;
    ranTwice: number;
    failedReasons: Record<string, number>;
  };
  jobsPerS: number;
  offerWindow: { perS: number };
  latencyMs: { p50: number; p99: number };
  /** With `--channels`: every requester's channel closed and settled at both sides' books. */
  chainEqualsBooks?: boolean;
  /** With `--channels`: every provider's payout on chain = its town's books = its log. */
  payoutChainEqualsBooks?: boolean;
}

/** One run's figures, as printed. */
export interface OverloadRow {
  /** Offered jobs/s. */
  rate: number;
  offered: number;
  done: number;
  /** Offers refused at once as `busy` (a requester host or a provider over its bound). */
  busy: number;
  /** Other failures (each with its reason in the report). */
  failedOther: number;
  lost: number;
  paidTwice: number;
  ranTwice: number;
  /** Done jobs/s over the offers' window. */
  goodput: number;
  /** Done jobs/s, the drain after the offers included. */
  goodputWithDrain: number;
  p50Ms: number;
  p99Ms: number;
  /** The requesters' channels: chain = books (absent without `--channels`). */
  chainEqualsBooks?: boolean;
  /** The payout channels: chain = books (absent without `--channels`). */
  payoutChainEqualsBooks?: boolean;
}

/**
 * A report's row: `busy` counts the failures whose reason says `busy:`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overloadRow } from "./scale_overload_script.ts";
 *
 * const row = overloadRow(10, {
 *   jobs: { offered: 200, done: 100, failed: 100, lost: 0, paidTwice: 0, ranTwice: 0,
 *     failedReasons: { "submit: busy: 24 jobs in flight": 90, "timed-out": 10 } },
 *   jobsPerS: 4.5, offerWindow: { perS: 5 }, latencyMs: { p50: 4000, p99: 9000 },
 * });
 * assert.deepEqual([row.busy, row.failedOther], [90, 10]);
 * ```
 */
export function overloadRow(rate: number, report: ScaleReport): OverloadRow {
  let busy = 0;
  for (const [reason, n] of Object.entries(report.jobs.failedReasons ?? {})) {
    if (/(^|: )busy:/.test(reason)) busy += n;
  }
  return {
    rate,
    offered: report.jobs.offered,
    done: report.jobs.done,
    busy,
    failedOther: report.jobs.failed - busy,
    lost: report.jobs.lost,
    paidTwice: report.jobs.paidTwice,
    ranTwice: report.jobs.ranTwice,
    goodput: report.offerWindow.perS,
    goodputWithDrain: report.jobsPerS,
    p50Ms: report.latencyMs.p50,
    p99Ms: report.latencyMs.p99,
    chainEqualsBooks: report.chainEqualsBooks,
    payoutChainEqualsBooks: report.payoutChainEqualsBooks,
  };
}

if (import.meta.main) {
  const dash = Deno.args.indexOf("--");
  const own = dash < 0 ? Deno.args : Deno.args.slice(0, dash);
  const passed = dash < 0 ? [] : Deno.args.slice(dash + 1);
  const flags = parseBenchFlags(own, {
    values: ["rate", "agents", "towns", "seconds", "job-timeout", "out"],
    switches: [],
    usage: USAGE,
  });
  const num = (name: "rate" | "agents" | "towns" | "seconds" | "job-timeout", d: number) => {
    const v = flags.values[name];
    return v === undefined ? d : Number(v);
  };
  const rate = num("rate", NaN);
  if (!(rate > 0)) {
    console.error(USAGE);
    Deno.exit(2);
  }
  const out = flags.values.out ?? await Deno.makeTempDir({ prefix: "scale-overload-" });
  await Deno.mkdir(out, { recursive: true });
  const harness = new URL("./network_scale_bench_script.ts", import.meta.url).pathname;
  const rows: OverloadRow[] = [];
  for (const r of [rate, rate * 2]) {
    const report = `${out}/rate${r}.json`;
    const args = [
      "run",
      "-A",
      harness,
      "--agents",
      String(num("agents", 40)),
      "--towns",
      String(num("towns", 1)),
      "--seconds",
      String(num("seconds", 20)),
      "--job-timeout",
      String(num("job-timeout", 30)),
      "--rate",
      String(r),
      "--report",
      report,
      ...passed,
    ];
    console.log(`[overload] ${r} jobs/s: deno ${args.join(" ")}`);
    const child = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "null",
      stderr: "inherit",
    })
      .output();
    if (!child.success) {
      console.error(`[overload] the run at ${r} jobs/s failed (exit ${child.code})`);
      Deno.exit(1);
    }
    rows.push(overloadRow(r, JSON.parse(await Deno.readTextFile(report)) as ScaleReport));
  }
  const [at, twice] = rows;
  const ratio = at.goodput > 0 ? twice.goodput / at.goodput : 0;
  console.log(
    "| offered jobs/s | offered | done | busy | failed (other) | lost | paid twice | ran twice " +
      "| done jobs/s (offers' window; with the drain) | p50 / p99 s | chain = books " +
      "(requesters; payouts) |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const x of rows) {
    console.log(
      `| ${x.rate} | ${x.offered} | ${x.done} | ${x.busy} | ${x.failedOther} | ${x.lost} | ` +
        `${x.paidTwice} | ${x.ranTwice} | ${x.goodput.toFixed(2)}; ` +
        `${x.goodputWithDrain.toFixed(2)} | ${(x.p50Ms / 1000).toFixed(1)} / ` +
        `${(x.p99Ms / 1000).toFixed(1)} | ${x.chainEqualsBooks ?? "-"}; ` +
        `${x.payoutChainEqualsBooks ?? "-"} |`,
    );
  }
  // Without channels the books are not on chain: only with them is chain = books a condition.
  const booksHold = rows.every((x) =>
    x.chainEqualsBooks !== false && x.payoutChainEqualsBooks !== false
  );
  const ok = ratio >= 0.8 && twice.lost === 0 && twice.paidTwice === 0 && at.lost === 0 &&
    at.paidTwice === 0 && booksHold;
  console.log(
    `goodput at 2x / at 1x: ${(ratio * 100).toFixed(0)}% (${ok ? "holds" : "does not hold"}: ` +
      `at least 80%, 0 lost, 0 paid twice, chain = books where channels ran); reports in ${out}`,
  );
}

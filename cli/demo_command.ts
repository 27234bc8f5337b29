/**
 * `turnpike demo`: the embedded default. A local town, a provider and a requester on free
 * loopback ports with a fresh temporary state dir; a paid `ci-run` job on the sample project;
 * progress, the CI report; everything stopped (`roles/demo/paid_job_demo.ts`). It settles on a
 * local anvil (`roles/demo/demo_chain.ts`): a payment channel requester -> town, claims on the
 * requester's packets, close and settle after the job; the demo fails when the on-chain payouts
 * differ from the books. `--no-chain` (or a missing anvil binary) runs it without settlement.
 * SIGINT/SIGTERM stop everything it started (anvil included) and exit 130.
 *
 * `turnpike demo --pipeline` runs the receiving pipeline over the shipped fixtures instead
 * (`roles/demo/fixture_pipeline_demo.ts`).
 *
 * @module
 */
import type { Command } from "commander";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import {
  FixtureDemoStageError,
  formatFixtureDemoReport,
  runFixtureDemo,
} from "../roles/demo/fixture_pipeline_demo.ts";
import {
  DemoInterruptedError,
  PaidJobDemoError,
  type PaidJobDemoReport,
  runPaidJobDemo,
} from "../roles/demo/paid_job_demo.ts";
import { printJsonLine } from "./json_line.ts";

interface DemoOptions {
  pipeline?: boolean;
  inline?: boolean;
  repeat: string;
  malformed: boolean;
  keepState?: boolean;
  chain: boolean;
  unilateral?: boolean;
  anvil?: string;
  project?: string;
  cmd?: string;
  timeout?: string;
  skill?: string;
  jobs?: string;
}

function jobCount(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new CliError(`--jobs must be 1-10000, got ${JSON.stringify(text)}`, {
      exitCode: ExitCode.Usage,
    });
  }
  return n;
}

function demoSkill(name: string | undefined): "ci-run" | "docker-build" {
  if (name === undefined || name === "ci-run" || name === "docker-build") return name ?? "ci-run";
  throw new CliError(`--skill must be ci-run or docker-build, got ${JSON.stringify(name)}`, {
    exitCode: ExitCode.Usage,
  });
}

function timeoutMs(text: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 86_400) {
    throw new CliError(`--timeout must be seconds (0-86400), got ${JSON.stringify(text)}`, {
      exitCode: ExitCode.Usage,
    });
  }
  return Math.round(s * 1000);
}

/**
 * Adds `demo` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerDemoCommand(new Command("turnpike"));
 * ```
 */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run the embedded default: a paid ci-run (or --skill docker-build) job through a local " +
        "town and provider",
    )
    .option("--skill <name>", "the job: ci-run (default) or docker-build (needs a Docker engine)")
    .option("--project <dir>", "run the job on this project (default: a sample project)")
    .option(
      "--cmd <command>",
      "the test command (default: sh test.sh; docker-build: the image's own CMD with --project)",
    )
    .option("--timeout <s>", "give up on the job after this many seconds (default 120)")
    .option("--jobs <n>", "run the job n times, one after the other (default 1); costs are summed")
    .option("--keep-state", "keep the demo's temporary state dir")
    .option("--no-chain", "run without settlement (no local anvil, no payment channel)")
    .option("--unilateral", "close the channel without the town's co-signature (settle timeout)")
    .option("--anvil <path>", "anvil binary (default: tools/node_modules, npm @foundry-rs/anvil)")
    .option("--pipeline", "instead: the receiving pipeline over the shipped fixtures")
    .option("--inline", "with --pipeline: every stage in this thread instead of one Worker each")
    .option("--repeat <n>", "with --pipeline: replay the corpus n times", "1")
    .option("--no-malformed", "with --pipeline: leave out the malformed fixtures")
    .action(async (opts: DemoOptions, cmd: Command) => {
      const json = cmd.optsWithGlobals().output === "json";
      if (opts.pipeline) return await pipelineDemo(opts, json);
      await paidJobDemo(opts, json);
    });
}

async function paidJobDemo(opts: DemoOptions, json: boolean): Promise<void> {
  if (!json) {
    console.log(
      `turnpike demo: a paid ${demoSkill(opts.skill)} job through a local town and provider\n`,
    );
  }
  const report = await runInterruptible((signal) =>
    runPaidJobDemo({
      onLine: json ? undefined : (line) => console.log(line),
      keepStateDir: opts.keepState,
      skill: demoSkill(opts.skill),
      jobs: jobCount(opts.jobs),
      projectDir: opts.project,
      command: opts.cmd,
      timeoutMs: opts.timeout === undefined ? undefined : timeoutMs(opts.timeout),
      chain: opts.chain,
      cooperative: !opts.unilateral,
      anvilBinary: opts.anvil,
      signal,
    })
  );
  if (json) printJsonLine("demo", report);
  else printReport(report, opts);
  if (report.jobs !== undefined && report.jobs.done < report.jobs.count) {
    throw new CliError(
      `${report.jobs.count - report.jobs.done} of ${report.jobs.count} demo jobs did not finish`,
      {
        context: report.jobId,
      },
    );
  }
  if (report.status !== "done") {
    throw new CliError(`the demo job ended ${report.status}`, { context: report.jobId });
  }
  if (report.settlement && !report.settlement.chainEqualsBooks) {
    const s = report.settlement;
    throw new CliError("the on-chain settlement differs from the books", {
      context: `channel ${s.channelId}: paid ${s.paid}, town received ${s.received}, ` +
        `requester got ${s.requesterPayout} of ${s.deposit}, town got ${s.townPayout}` +
        (s.providerPayout === undefined
          ? ""
          : `, provider got ${s.providerPayout} (earned ${report.costs?.provider.earned}), ` +
            `town net ${s.townNet} (fees ${report.costs?.town.from_requester})`),
    });
  }
}

/** Runs the demo; SIGINT/SIGTERM abort it (it stops what it started) and exit 130. */
async function runInterruptible(
  run: (signal: AbortSignal) => Promise<PaidJobDemoReport>,
): Promise<PaidJobDemoReport> {
  const abort = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => abort.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await run(abort.signal);
  } catch (err) {
    if (err instanceof DemoInterruptedError) {
      throw new CliError("the demo was interrupted; everything it started is stopped", {
        exitCode: ExitCode.Interrupted,
      });
    }
    if (err instanceof PaidJobDemoError) {
      throw new CliError(err.message, {
        suggestion: err.suggestion ?? "run `turnpike doctor` to check this machine",
      });
    }
    throw err;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

function printReport(report: PaidJobDemoReport, opts: DemoOptions): void {
  const r = report.result as Record<string, unknown> | undefined;
  console.log("");
  console.log(`job       ${report.jobId} ${report.status}`);
  if (r && typeof r === "object" && "build" in r) {
    const image = r.image as Record<string, unknown> | null;
    const test = r.test as Record<string, unknown> | null;
    console.log(
      `docker    ${r.status}: ${
        image
          ? `image ${image.digest}, ${image.platform}, ${image.size} bytes, ${image.layers} layers`
          : "no image"
      }${test ? `; tests ${JSON.stringify(test.summary ?? {})}` : ""}`,
    );
  } else if (r && typeof r === "object") {
    console.log(
      `ci-run    ${r.status} (exit ${r.exitCode}, ${r.durationMs} ms): ${
        JSON.stringify(r.summary ?? {})
      }`,
    );
  }
  console.log(
    `paid      ${
      formatAssetAmount(BigInt(report.paidToProvider), report.paidAsset)
    } to the provider, receipt ${report.receipt ?? "-"}`,
  );
  const c = report.costs;
  if (c !== undefined) {
    const a = (v: string) => formatAssetAmount(BigInt(v), report.paidAsset);
    console.log(
      `costs     requester ${a(c.requester.total)} (provider ${a(c.requester.provider)}, town ` +
        `${a(c.requester.town_fees)}); provider earned ${a(c.provider.earned)}, town ` +
        `${a(c.provider.town_fees)}, net ${a(c.provider.net)} (periodic writes ` +
        `${a(c.provider.periodicPerDay)}/day); town earned ${a(c.town.earned)}`,
    );
  }
  if (report.jobs !== undefined && report.jobs.count > 1) {
    console.log(`jobs      ${report.jobs.done} of ${report.jobs.count} done`);
  }
  const s = report.settlement;
  console.log(
    s
      ? `settled   channel ${s.channelId} (${s.mode}): ${s.claims} claims, ${s.paid} paid of ` +
        `${s.deposit} base units` +
        (s.providerPayout === undefined
          ? ""
          : `; provider paid ${s.providerPayout} on payout channel ${s.payoutChannelId}, ` +
            `town net ${s.townNet}`) +
        ` (${s.chainEqualsBooks ? "chain = books" : "chain differs from the books"})`
      : `settled   - (no settlement: ${report.noSettlement ?? "no chain"})`,
  );
  console.log(
    `time      ${report.seconds.toFixed(2)} s; everything stopped${
      opts.keepState ? `, state kept in ${report.stateDir}` : ""
    }`,
  );
}

async function pipelineDemo(opts: DemoOptions, json: boolean): Promise<void> {
  const repeat = Number(opts.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100_000) {
    throw new CliError(`--repeat must be an integer from 1 to 100000`, {
      context: `got "${opts.repeat}"`,
      exitCode: ExitCode.Usage,
    });
  }
  try {
    const report = await runFixtureDemo({
      mode: opts.inline ? "inline" : "workers",
      repeat,
      malformed: opts.malformed,
    });
    if (json) printJsonLine("fixture-demo", { ...report });
    else console.log(formatFixtureDemoReport(report));
  } catch (err) {
    if (err instanceof FixtureDemoStageError) throw new CliError(err.message);
    throw err;
  }
}

/**
 * `turnpike demo`: the embedded default. A local town, a provider and a requester on free
 * loopback ports with a fresh temporary state dir; a paid `ci-run` job on the sample project;
 * progress, the CI report; everything stopped (`roles/demo/paid_job_demo.ts`).
 *
 * `turnpike demo --pipeline` runs the receiving pipeline over the shipped fixtures instead
 * (`roles/demo/fixture_pipeline_demo.ts`).
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import {
  FixtureDemoStageError,
  formatFixtureDemoReport,
  runFixtureDemo,
} from "../roles/demo/fixture_pipeline_demo.ts";
import { PaidJobDemoError, runPaidJobDemo } from "../roles/demo/paid_job_demo.ts";

interface DemoOptions {
  pipeline?: boolean;
  inline?: boolean;
  repeat: string;
  malformed: boolean;
  keepState?: boolean;
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
    .description("run the embedded default: a paid ci-run job through a local town and provider")
    .option("--keep-state", "keep the demo's temporary state dir")
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
  if (!json) console.log("turnpike demo: a paid ci-run job through a local town and provider\n");
  let report;
  try {
    report = await runPaidJobDemo({
      onLine: json ? undefined : (line) => console.log(line),
      keepStateDir: opts.keepState,
    });
  } catch (err) {
    if (err instanceof PaidJobDemoError) {
      throw new CliError(err.message, {
        suggestion: "run `turnpike doctor` to check this machine",
      });
    }
    throw err;
  }
  if (json) console.log(JSON.stringify(report));
  else {
    const r = report.result as Record<string, unknown> | undefined;
    console.log("");
    console.log(`job       ${report.jobId} ${report.status}`);
    if (r && typeof r === "object") {
      console.log(
        `ci-run    ${r.status} (exit ${r.exitCode}, ${r.durationMs} ms): ${
          JSON.stringify(r.summary ?? {})
        }`,
      );
    }
    console.log(
      `paid      ${report.paidToProvider} to the provider, receipt ${report.receipt ?? "-"}`,
    );
    console.log(
      `time      ${report.seconds.toFixed(2)} s; everything stopped${
        opts.keepState ? `, state kept in ${report.stateDir}` : ""
      }`,
    );
  }
  if (report.status !== "done") {
    throw new CliError(`the demo job ended ${report.status}`, { context: report.jobId });
  }
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
    console.log(json ? JSON.stringify(report) : formatFixtureDemoReport(report));
  } catch (err) {
    if (err instanceof FixtureDemoStageError) throw new CliError(err.message);
    throw err;
  }
}

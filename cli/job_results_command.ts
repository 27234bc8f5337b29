/**
 * `turnpike job results`: a job's stored result, as a line or its blobs saved, an agent task's
 * branch applied, or the proof its delivery broke its commitment (docs/AGENTS.md).
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import { readPaymentEntries } from "../state/payments/payment_log_reader.ts";
import { buildResultReport, parseReport, paymentKeysOf } from "./job_report.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../state/jobs/job_record.ts";
import { blobOutputsOf } from "../protocol/job_blobs.ts";
import { printJsonLine } from "./json_line.ts";
import { lazyImport } from "./lazy_import.ts";
import type * as agentTask from "./agent_task_options.ts";
import { inlineReportLogs, saveResultBlobs } from "./report_logs.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  openRepo,
  printOutcome,
  readJob,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { terminalText } from "./terminal_text.ts";

// Only `--apply` reads the towns' Blossom servers (transport/relay_info.ts): `job submit`, which
// imports this module, stays off transport/.
const profileBlobServersModule = () =>
  lazyImport<typeof import("./profile_blob_servers.ts")>(
    new URL("./profile_blob_servers.ts", import.meta.url),
  );

const lateResultModule = () =>
  lazyImport<typeof import("../roles/requester/late_result.ts")>(
    new URL("../roles/requester/late_result.ts", import.meta.url),
  );

/**
 * Adds `job results <id>` to the `job` command.
 *
 * @example
 * ```ts
 * import { addJobResultsCommand } from "./job_results_command.ts";
 * import { Command } from "commander";
 *
 * addJobResultsCommand(new Command("turnpike").command("job"));
 * ```
 */
export function addJobResultsCommand(job: Command): void {
  // Connection options: `--apply` of a timed-out agent task asks the node for its late result.
  addRequesterConnectionOptions(
    job.command("results <id>").description(
      "show a job's result (the result report with --output json)",
    ),
  )
    .option("--save <dir>", "download the result's blobs (logs, artifacts) into <dir>, verified")
    .option("--raw", "with --output json: also the result event and its raw TOON")
    .option("--apply [repo]", "agent-task: the result's commits as a branch of the repository")
    .option("--branch <name>", "with --apply: the branch (default turnpike/<job id's first 12>)")
    .option("--fast-forward", "with --apply: fast-forward --branch (at the base) to the result")
    .option("--verify", "with --apply: run the job's --accept on the branch here, sandboxed")
    .option("--proof", "agent-task: the proof that its delivery broke its commitment, as JSON")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await jobResults(id, cmd.optsWithGlobals<JobResultsOptions>(), cmd);
    });
}

/** Asks the profile's node for a timed-out agent task's late result; its record after. */
async function lateResultOf(
  id: string,
  opts: JobResultsOptions,
  cmd: Command,
): Promise<RequesterJobRecord | undefined> {
  const { callRequesterNode } = await lazyImport<typeof import("./job_command.ts")>(
    new URL("./job_command.ts", import.meta.url),
  );
  const config = await loadRequesterConfig(opts, cmd);
  let record: RequesterJobRecord | undefined;
  for await (const line of callRequesterNode(opts, config, cmd, { op: "late-result", id })) {
    if (line.type === "record") record = line.record as RequesterJobRecord;
  }
  return record;
}

/**
 * The agent-task half of the CLI, loaded when a command needs it.
 *
 * @example
 * ```ts
 * import { agentTaskCommand } from "./job_results_command.ts";
 *
 * const { readDeliveryProof } = await agentTaskCommand();
 * console.log(typeof readDeliveryProof); // "function"
 * ```
 */
export const agentTaskCommand = () =>
  lazyImport<typeof import("./agent_task_command.ts")>(
    new URL("./agent_task_command.ts", import.meta.url),
  );

/** The error of a gate that failed on the requester's own run (`--verify`), exit 3. */
function verifiedFailure(id: string, mismatch: boolean): CliError {
  return new CliError(
    mismatch
      ? `job ${id}: the gate fails here but the provider reported it passed`
      : `job ${id}: the gate fails here too`,
    {
      code: mismatch ? "verdict-mismatch" : "verdict-failed",
      exitCode: ExitCode.Verdict,
      suggestion: "the applied line's `verified.logTail` is the gate's output here",
    },
  );
}

/** `job results`'s parsed options. */
export type JobResultsOptions = RequesterCliOptions & agentTask.ApplyFlags & {
  save?: string;
  raw?: boolean;
  proof?: boolean;
};

/**
 * `job results <id>`: the stored result line, its blobs saved (`--save`), an agent task applied
 * as a branch (`--apply`) or its delivery proof (`--proof`); docs/AGENTS.md.
 *
 * It fetches a job's result from the profile's towns, so it has no example that runs here:
 * tests/e2e/job_results_save_fetch_test.ts
 */
export async function jobResults(
  idText: string,
  opts: JobResultsOptions,
  cmd: Command,
): Promise<void> {
  const repo = await openRepo(opts, cmd);
  try {
    let record = await readJob(repo, idText);
    const id = record.id;
    if (opts.apply !== undefined && (await lateResultModule()).wantsLateResult(record)) {
      // Timed out here after its deposit was paid: its provider may have published since. The
      // node looks it up and pays its delivery once (docs/AGENTS.md "A result that came after
      // the timeout").
      record = await lateResultOf(record.id, opts, cmd) ?? record;
    }
    if (opts.proof) {
      // The proof as kept: its own `type` ("turnpike-delivery-proof") is the line's.
      const proof = await (await agentTaskCommand()).readDeliveryProof(repo.stateDir, id);
      return printJsonLine(proof.type, proof);
    }
    const result = await readStoredResult(repo.stateDir, id);
    if (!result && TERMINAL_JOB_STATUSES.includes(record.status)) {
      // Ended without a result (cancelled, payment refused...): its result line all the same,
      // with its costs, and its status as the code, as `job wait` prints it (docs/AGENTS.md).
      return await printOutcome(repo.stateDir, [record], {
        json: opts.output === "json",
        network: undefined,
      });
    }
    if (!result) {
      throw new CliError(`job ${id} has no result yet`, {
        context: `status ${record.status}`,
        code: "no-result",
        suggestion: `\`turnpike job wait ${id.slice(0, 12)}\` follows it to its end`,
      });
    }
    if (opts.apply !== undefined) {
      const applied = await (await agentTaskCommand()).applyAgentResult({
        stateDir: repo.stateDir,
        record,
        result: { tags: result.event.tags, content: result.content },
        towns: await (await profileBlobServersModule()).profileBlobServers(opts, cmd),
        repo: opts.apply === true ? undefined : opts.apply,
        branch: opts.branch,
        fastForward: opts.fastForward,
        verify: opts.verify,
      });
      // A transcript that did not open: said on stderr in either mode, the branch made all the same.
      for (const w of (applied.warnings ?? []) as string[]) {
        console.error(`warning: ${terminalText(w)}`);
      }
      if (applied.proof) console.error(`the delivery broke its commitment: proof ${applied.proof}`);
      const verified = applied.verified as { verdict: string; mismatch: boolean } | undefined;
      if (opts.output === "json") printJsonLine("applied", applied);
      else {
        const log = applied.transcript ? `; transcript ${applied.transcript}` : "";
        const here = verified ? `, here ${verified.verdict}` : "";
        console.log(terminalText(
          `${applied.branch} at ${applied.tip} (verdict ${applied.verdict}${here}${log})`,
        ));
      }
      if (verified?.verdict === "fail") throw verifiedFailure(id, verified.mismatch);
      return;
    }
    const blobs = blobOutputsOf(result.event.tags);
    // A log the report carries whole (ci-run's short ones) is saved with the blobs.
    const inline = opts.save === undefined
      ? []
      : await inlineReportLogs(parseReport(result.content), blobs.map((b) => b.name)).catch(
        (err) => {
          throw new CliError((err as Error).message, { context: `job ${id}`, cause: err });
        },
      );
    // An agent task's sealed blobs are opened in memory: refused before any fetch when over
    // what a provider may seal.
    if (opts.save !== undefined && blobs.some((b) => b.name.endsWith(".sealed"))) {
      (await agentTaskCommand()).refuseOverSealedMax(blobs);
    }
    const saved = opts.save === undefined ? [] : await saveResultBlobs(blobs, {
      dir: opts.save,
      // By hash from the profile's own towns, never from the URL the result names.
      towns: blobs.length === 0
        ? []
        : await (await profileBlobServersModule()).profileBlobServers(opts, cmd),
      quiet: opts.output === "json",
      inline,
    });
    // An agent task's sealed blobs, opened beside them once its delivery is paid.
    if (saved.some((s) => s.name.endsWith(".sealed"))) {
      saved.push(
        ...await (await agentTaskCommand()).openSavedAgentBlobs(record, result.content, saved),
      );
    }
    if (opts.output === "json") {
      const payments = await readPaymentEntries({
        stateDir: repo.stateDir,
        mentioning: paymentKeysOf([record]),
      });
      const report = await buildResultReport({
        stateDir: repo.stateDir,
        chain: [record],
        payments,
      });
      const raw = opts.raw ? { event: result.event, toon: result.toon } : {};
      printJsonLine("result", { ...report, saved, ...raw });
    } else {
      console.log(terminalText(result.content, { multiline: true }));
      for (const b of blobs) {
        const where = saved.find((s) => s.name === b.name)?.path ?? b.url;
        console.error(terminalText(
          `  blob ${b.name}: ${b.size} bytes, sha256 ${b.sha256.slice(0, 12)}, ${where}`,
        ));
      }
      for (const s of saved) {
        if (s.from === "report") {
          console.error(terminalText(`  log ${s.name}: from the report, ${s.path}`));
        }
      }
    }
  } finally {
    repo.close();
  }
}

/**
 * `turnpike job status|wait|list`, the job commands that read the state dir, and what they share
 * with the others (the town connection options, the requester's settings, a job's record and
 * outcome as printed). Kept apart from cli/job_command.ts so that a command that only reads loads
 * no role's code and no transport (docs/SCALE.md "A command's start"): `job wait` of a job that
 * has ended prints it from its record; one still in flight is handed to job_follow.ts's
 * `followJob`, loaded then.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings } from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { settingsFlagsFrom, TOWN_CONNECTION_FLAGS } from "./settings_flags.ts";
import { jobKindLabel } from "../protocol/job_kind_names.ts";
import {
  JobIdPrefixError,
  type JobRepository,
  openJobRepository,
} from "../state/jobs/job_repository.ts";
import { readPaymentEntries } from "../state/payments/payment_log_reader.ts";
import { formatRecordedAmount } from "../protocol/asset_amount.ts";
import { buildResultReport, paymentKeysOf } from "./job_report.ts";
import { type NetworkField, networkField } from "./network_line.ts";
import {
  JOB_STATUSES,
  type JobStatus,
  NO_CALLBACK,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../state/jobs/job_record.ts";
import { isErrorCode } from "./error_codes.ts";
import {
  type RequesterFlags,
  type RequesterSettings,
  resolveRequesterSettings,
} from "../config/requester_settings.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import { printJsonLine } from "./json_line.ts";
import { jobLineFields, jobVerdict } from "./job_line.ts";
import { type JobVerdict, verdictSource } from "../protocol/job_verdict.ts";
import type { GlobalOptions } from "./global_options.ts";
import { lazyImport } from "./lazy_import.ts";
import { terminalText } from "./terminal_text.ts";
import { printJobList } from "./job_list_print.ts";
import { beadText } from "./job_bead.ts";
import { agentTranscriptFile } from "../state/jobs/agent_task_record.ts";
import { DEPOSIT_OVER_BOUND } from "../protocol/deposit_bound.ts";

/** Options shared by the commands that connect to the town. */
export interface RequesterCliOptions extends RequesterFlags, GlobalOptions {
  relayUrl?: string;
  connectorBtpUrl?: string;
  pricePerByte?: string;
  priceCeiling?: string;
  allowInsecure?: boolean;
  btpToken?: string;
  passphraseFile?: string;
  passphraseFd?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Adds the town connection options to a command.
 *
 * @example
 * ```ts
 * import { addRequesterConnectionOptions } from "./job_read_command.ts";
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * addRequesterConnectionOptions(program.command("requester"));
 * ```
 */
export function addRequesterConnectionOptions(cmd: Command): Command {
  return cmd
    .option("--relay-url <url>", "the town's NIP-01 URL (default ws://127.0.0.1:7100)")
    .option("--connector-btp-url <url>", "BTP URL of the town or a connector")
    .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)")
    .option("--town-pubkey <hex>", "the town's Nostr pubkey (default: its NIP-11 self)")
    .option("--town-address <address>", "the town's ILP address (default: from NIP-11)")
    .option("--price-per-byte <n>", "price per TOON byte (default: the town's NIP-11 fee)")
    .option("--price-ceiling <n>", "refuse a town asking more per byte (default 100)")
    .option("--accept-price", "pay a town price per byte above the ceiling anyway")
    .option("--alert-webhook <url>", "POST alerts (low channel balance, top-ups...) as JSON")
    .option("--skills-dir <dir>", "where callback skills live (default <state dir>/skills)")
    .option("--max-per-job <n>", "spend policy: most paid for one job")
    .option("--provider-daily-cap <n>", "spend policy: most paid to one provider per day")
    .option("--daily-cap <n>", "spend policy: most paid per day")
    .option(
      "--allow-provider <hex>",
      "spend policy: pay only these providers (repeatable)",
      collect,
    )
    .option(
      "--max-jobs <n|auto>",
      "jobs the profile's node follows at once; past it a submit is refused busy (auto: found " +
        "from the jobs' latency; default none)",
    )
    .option("--allow-insecure", "allow non-loopback ws:// and btp+ws:// URLs")
    .option("--channel <id>", "pay the town with claims on this payment channel")
    .option(
      "--channel-prepay <n>",
      "let each claim cover this much ahead (base units; fewer claims, default 0)",
    )
    .option("--passphrase-file <file>", "read the wallet passphrase from this file")
    .option("--passphrase-fd <n>", "read the wallet passphrase from this file descriptor")
    .option("--non-interactive", "never prompt");
}

/**
 * Adds `job status <id>` to the `job` command.
 *
 * @example
 * ```ts
 * import { addJobStatusCommand } from "./job_read_command.ts";
 * import { Command } from "commander";
 *
 * addJobStatusCommand(new Command("turnpike").command("job"));
 * ```
 */
export function addJobStatusCommand(job: Command): void {
  job.command("status <id>").description("show a job's record")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await status(id, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
    });
}

/**
 * Adds `job wait <id>` to the `job` command.
 *
 * @example
 * ```ts
 * import { addJobWaitCommand } from "./job_read_command.ts";
 * import { Command } from "commander";
 *
 * addJobWaitCommand(new Command("turnpike").command("job"));
 * ```
 */
export function addJobWaitCommand(job: Command): void {
  addRequesterConnectionOptions(
    job.command("wait <id>").description(
      "follow a job (any, by id or unique prefix) until it ends; NDJSON with --output json",
    ).option("--ignore-verdict", "exit 0 when the job is done even if its report says failed"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await wait(id, cmd.optsWithGlobals<RequesterCliOptions & { ignoreVerdict?: boolean }>(), cmd);
  });
}

/**
 * Adds `job list` to the `job` command.
 *
 * @example
 * ```ts
 * import { addJobListCommand } from "./job_read_command.ts";
 * import { Command } from "commander";
 *
 * addJobListCommand(new Command("turnpike").command("job"));
 * ```
 */
export function addJobListCommand(job: Command): void {
  job.command("list").description("list jobs, newest first")
    .option("--status <status>", "only this status (repeatable)", collect)
    .option("--kind <kind>", "only this kind")
    .option("--limit <n>", "at most n jobs (default 100)")
    .action(async (_o: unknown, cmd: Command) => {
      await list(cmd.optsWithGlobals(), cmd);
    });
}

/**
 * Resolves settings + requester config, or fails with exit code 2.
 *
 * It reads the profile's settings and town, so it has no example that runs here:
 * tests/e2e/requester_cli_test.ts
 */
export async function loadRequesterConfig(
  opts: RequesterCliOptions,
  cmd: Command,
): Promise<RequesterSettings> {
  try {
    return resolveRequesterSettings({
      loaded: await loadSettings({ flags: settingsFlagsFrom(opts, cmd, TOWN_CONNECTION_FLAGS) }),
      flags: opts,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw CLI_ERRORS.badSetting(err);
    }
    throw err;
  }
}

/**
 * Prints a chain's outcome: the result report (json) or the result's content (text, on stdout;
 * the chain's lines on stderr). A job that did not end `done` fails the command after its
 * outcome is printed.
 *
 * @example
 * ```ts
 * import { printOutcome } from "./job_read_command.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ended = {
 *   id: "ab".repeat(32), kind: 5600, skill: "none", status: "done" as const, createdAtMs: 0,
 *   updatedAtMs: 0, payments: [],
 * };
 * await printOutcome(stateDir, [ended], { json: true, network: undefined });
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function printOutcome(
  stateDir: string,
  chain: RequesterJobRecord[],
  o: {
    json: boolean;
    /** The result line's `network` (left out by `job results`, which never had it). */
    network: NetworkField | undefined;
    links?: number;
    ignoreVerdict?: boolean;
  },
): Promise<void> {
  const last = chain[chain.length - 1];
  const payments = await readPaymentEntries({ stateDir, mentioning: paymentKeysOf(chain) });
  const report = await buildResultReport({ stateDir, chain, payments });
  if (o.json) {
    printJsonLine("result", o.network === undefined ? report : { ...report, network: o.network });
  } else {
    for (const link of chain) {
      console.error(
        `job ${link.id} ${link.status}${link.error ? `: ${terminalText(link.error)}` : ""}`,
      );
    }
    const result = await readStoredResult(stateDir, last.id);
    if (result !== undefined) console.log(terminalText(result.content, { multiline: true }));
    if (report.verdict !== null) {
      console.error(terminalText(`verdict: ${report.verdict} (${verdictSource(report.report)})`));
    }
  }
  if (last.status !== "done" || chain.length < (o.links ?? 1)) {
    throw new CliError(`job ${last.id} ended ${last.status}`, {
      context: last.error,
      code: last.error?.includes(`${DEPOSIT_OVER_BOUND}:`)
        ? DEPOSIT_OVER_BOUND
        : isErrorCode(last.status)
        ? last.status
        : "failed",
      printed: o.json,
      suggestion: last.error?.includes(`${DEPOSIT_OVER_BOUND}:`)
        ? "pick a provider whose deposit is lower (`job submit --quote`), or raise [requester] " +
          "deposit_share if its trust is enough"
        : last.status === "payment-refused"
        ? "raise --bid or the spend policy caps if the price is acceptable"
        : last.status === "timed-out"
        ? "raise --timeout or pick another --provider (`turnpike providers` lists them)"
        : undefined,
    });
  }
  if (report.verdict === "failed" && !o.ignoreVerdict) {
    throw new CliError(`job ${last.id} is done but its report says the work failed`, {
      context: verdictSource(report.report),
      code: "verdict-failed",
      exitCode: ExitCode.Verdict,
      printed: o.json,
      suggestion: "read the report's logs (`turnpike job results <id> --save <dir>`); " +
        "--ignore-verdict exits 0 whenever the job completed",
    });
  }
}

/**
 * `job wait`: a job that has ended (and ends its chain) is read from its record, with no node
 * and no passphrase; else the profile's node follows it (job_follow.ts `followJob`).
 */
async function wait(
  idText: string,
  opts: RequesterCliOptions & { ignoreVerdict?: boolean },
  cmd: Command,
): Promise<void> {
  const config = await loadRequesterConfig(opts, cmd);
  const record = await withRepo(config.stateDir, (repo) => readJob(repo, idText));
  if (TERMINAL_JOB_STATUSES.includes(record.status) && record.chain?.next === undefined) {
    return await printOutcome(config.stateDir, [record], {
      json: opts.output === "json",
      network: networkField(config.network),
      ignoreVerdict: opts.ignoreVerdict,
    });
  }
  const { followJob } = await lazyImport<typeof import("./job_follow.ts")>(
    new URL("./job_follow.ts", import.meta.url),
  );
  await followJob(record.id, opts, config, cmd);
}

/**
 * The profile's job repository, read-only, in the state dir the options name (a bad setting:
 * exit 2). The caller closes it.
 *
 * It opens the profile the command's flags name, so it has no example that runs here:
 * tests/e2e/requester_cli_test.ts
 */
export async function openRepo(opts: RequesterCliOptions, cmd: Command): Promise<JobRepository> {
  const loaded = await loadSettings({
    flags: settingsFlagsFrom(opts, cmd, TOWN_CONNECTION_FLAGS),
  }).catch((err) => {
    throw CLI_ERRORS.usage(err as Error);
  });
  return await openJobRepository({ stateDir: loaded.settings.stateDir, readOnly: true });
}

/**
 * Runs `fn` with the job repository of `stateDir` opened read-only, and closes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withRepo } from "./job_read_command.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await withRepo(stateDir, async (repo) => repo.count()), 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function withRepo<T>(
  stateDir: string,
  fn: (repo: JobRepository) => Promise<T>,
): Promise<T> {
  const repo = await openJobRepository({ stateDir, readOnly: true });
  try {
    return await fn(repo);
  } finally {
    repo.close();
  }
}

/**
 * The full id of the job `text` names (a full id or a unique prefix of one), or exit 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveJobId } from "./job_read_command.ts";
 * import { CliError } from "./cli_error.ts";
 * import { openJobRepository } from "../state/jobs/job_repository.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const repo = await openJobRepository({ stateDir });
 * assert.throws(() => resolveJobId(repo, "c1c254bf"), CliError); // no such job: exit 2
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function resolveJobId(repo: JobRepository, text: string): string {
  try {
    return repo.resolveId(text);
  } catch (err) {
    if (!(err instanceof JobIdPrefixError)) throw err;
    const ambiguous = err.matches.length > 1;
    throw new CliError(err.message, {
      context: ambiguous
        ? `matches ${err.matches.map((m) => m.slice(0, 16)).join(", ")}`
        : repo.stateDir,
      code: ambiguous ? "ambiguous-id" : "no-job",
      suggestion: ambiguous
        ? "give more characters of the id"
        : "`turnpike job list` shows the jobs",
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
}

/**
 * The record of the job `text` names (a full id or a unique prefix), or exit 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJob } from "./job_read_command.ts";
 * import { CliError } from "./cli_error.ts";
 * import { openJobRepository } from "../state/jobs/job_repository.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const repo = await openJobRepository({ stateDir });
 * await assert.rejects(readJob(repo, "c1c254bf"), CliError); // no such job: exit 2
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readJob(repo: JobRepository, text: string): Promise<RequesterJobRecord> {
  const id = resolveJobId(repo, text);
  const record = await repo.read(id);
  if (!record) {
    throw new CliError(`no job ${text}`, {
      context: repo.stateDir,
      code: "no-job",
      exitCode: ExitCode.Usage,
    });
  }
  return record;
}

async function status(id: string, opts: RequesterCliOptions, cmd: Command): Promise<void> {
  const repo = await openRepo(opts, cmd);
  try {
    const record = await readJob(repo, id);
    // An agent task's transcript in the profile: a delivered one's, or a failed or cancelled one's.
    const transcript = agentTranscriptFile(repo.stateDir, record.id);
    const kept = await Deno.stat(transcript).then(() => transcript, () => undefined);
    printRecord(record, opts.output, await jobVerdict(repo.stateDir, record), kept);
  } finally {
    repo.close();
  }
}

async function list(
  opts: RequesterCliOptions & { status?: string[]; kind?: string; limit?: string },
  cmd: Command,
) {
  for (const s of opts.status ?? []) {
    if (!(JOB_STATUSES as readonly string[]).includes(s)) {
      throw new CliError(`unknown status "${s}"`, {
        context: JOB_STATUSES.join(", "),
        exitCode: ExitCode.Usage,
      });
    }
  }
  let kind: number | undefined;
  if (opts.kind !== undefined) {
    // Loaded only for --kind: the job spec's kind rule (a number 5000-5999 or a name).
    const { resolveJobKind } = await lazyImport<typeof import("../roles/requester/job_spec.ts")>(
      new URL("../roles/requester/job_spec.ts", import.meta.url),
    );
    try {
      kind = resolveJobKind(opts.kind);
    } catch (err) {
      throw CLI_ERRORS.usage(err as Error);
    }
  }
  const repo = await openRepo(opts, cmd);
  try {
    const rows = repo.list({
      status: opts.status as JobStatus[] | undefined,
      kind,
      limit: opts.limit === undefined ? 100 : Number(opts.limit),
    });
    await printJobList(repo, rows, opts.output);
  } finally {
    repo.close();
  }
}

/**
 * Prints a job's record: its `job` line (json), else one field a line.
 *
 * @example
 * ```ts
 * import { printRecord } from "./job_read_command.ts";
 *
 * printRecord({
 *   id: "ab".repeat(32), kind: 5600, skill: "none", status: "done", createdAtMs: 0,
 *   updatedAtMs: 0, payments: [],
 * }, "text");
 * ```
 */
export function printRecord(
  r: RequesterJobRecord,
  output: string | undefined,
  verdict?: JobVerdict,
  transcript?: string,
): void {
  if (output === "json") {
    printJsonLine("job", { ...jobLineFields(r, verdict), ...(transcript ? { transcript } : {}) });
    return;
  }
  console.log(`job      ${r.id}`);
  console.log(`kind     ${jobKindLabel(r.kind)}`);
  console.log(`status   ${r.status}${r.error ? ` (${terminalText(r.error)})` : ""}`);
  if (verdict !== undefined) console.log(`verdict  ${verdict}`);
  if (r.skill !== NO_CALLBACK) console.log(`callback ${r.skill}`);
  if (r.bid !== undefined) console.log(`bid      ${r.bid}`);
  if (r.provider) console.log(`provider ${terminalText(r.provider)}`);
  if (r.bead) console.log(terminalText(`bead     ${beadText(r.bead)}`));
  if (r.chain?.prev) console.log(`after    ${r.chain.prev}`);
  if (r.chain?.next) console.log(`then     ${r.chain.next}`);
  if (transcript) console.log(terminalText(`transcript ${transcript}`));
  for (const p of r.payments) {
    console.log(terminalText(
      `payment  ${formatRecordedAmount(p.amount, p)} ${p.status}${
        p.fulfillment ? ` receipt ${p.fulfillment}` : ""
      }`,
    ));
  }
}

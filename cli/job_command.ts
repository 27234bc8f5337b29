/**
 * `turnpike job submit|status|results|list|cancel`: post paid NIP-90 jobs and follow them.
 * `submit --wait` (and `cancel`) connect to the town and resume the profile's in-flight jobs
 * first; `status`, `results` and `list` only read the state dir.
 *
 * Exit codes: 0 done; 1 the job or the town failed (rejected, timed out, refused payment,
 * unreachable town); 2 bad usage (unknown kind name, unreadable input file, bad option value).
 *
 * @module
 */
import { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings } from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { loadNodeSigner } from "./node_identity.ts";
import { settingsFlagsFrom, TOWN_CONNECTION_FLAGS } from "./settings_flags.ts";
import { jobKindLabel, jobNameFromKind, UnknownJobKindError } from "../protocol/job_kind_names.ts";
import type { JobInput, JobInputType, JobParam } from "../protocol/nip90_job.ts";
import { readStoredResult } from "../roles/requester/result_content.ts";
import {
  JobIdPrefixError,
  type JobRepository,
  openJobRepository,
} from "../state/job_repository.ts";
import { openPaymentLog } from "../state/payment_log.ts";
import { formatAssetAmount, formatRecordedAmount } from "../protocol/asset_amount.ts";
import { buildResultReport, costsOf, parseReport, progressLine } from "./job_report.ts";
import {
  fetchProviderDirectory,
  kindOfSkill,
  type ProviderListing,
} from "../roles/requester/provider_directory.ts";
import { precheckJob } from "../roles/requester/job_precheck.ts";
import { type NetworkField, networkField, printNetworkLine } from "./network_line.ts";
import {
  JOB_STATUSES,
  type JobStatus,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../state/job_record.ts";
import { callNode, ensureProfileNode } from "./profile_node.ts";
import { isErrorCode } from "./error_codes.ts";
import {
  checkPubkey,
  checkSkill,
  DEFAULT_JOB_TIMEOUT_MS,
  type JobSpec,
  JobSpecError,
  NO_CALLBACK,
  parseAmount,
  parseThenSpec,
  resolveJobKind,
} from "../roles/requester/job_spec.ts";
import {
  type RequesterFlags,
  type RequesterSettings,
  resolveRequesterSettings,
} from "../config/requester_settings.ts";
import {
  JobEndedError,
  type JobProgress,
  type Requester,
  RequesterJobError,
  startRequester,
} from "../roles/requester/requester_node.ts";
import { PriceAboveCeilingError, TownUnreachableError } from "../roles/requester/town_link.ts";
import { JobNotPostedError } from "../roles/requester/town_down.ts";
import { BtpConnectionError, BtpTimeoutError } from "../transport/btp_client.ts";
import { RelayQueryError } from "../transport/relay_query.ts";
import { TownRejectedError } from "../roles/town_client/town_rejection.ts";
import { AutoChannelError } from "../roles/channels/channel_auto_open.ts";
import { ClaimBeyondDepositError } from "../chain/claim_signer.ts";
import { ChannelSenderError } from "../roles/channels/channel_sender.ts";
import { BlobPublishError } from "../roles/blob_publisher.ts";
import { archiveProject, ProjectArchiveError } from "../roles/requester/project_archive.ts";
import { stagedUploadPath, stageUpload } from "../roles/requester/node_uploads.ts";
import { blobOutputsOf, type JobBlobOutput } from "../protocol/job_blobs.ts";
import { BlossomError, downloadBlob } from "../transport/blossom_client.ts";
import { transferProgressPrinter } from "./transfer_progress.ts";
import { csvRow } from "../protocol/csv_row.ts";
import { printJsonLine } from "./json_line.ts";
import { jobLineFields, jobVerdict } from "./job_line.ts";
import { type InlineLog, inlineReportLogs } from "./report_logs.ts";
import type { JobVerdict } from "../protocol/job_verdict.ts";
import type { GlobalOptions } from "./global_options.ts";

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

interface SubmitOptions extends RequesterCliOptions {
  input?: string[];
  file?: string[];
  dir?: string;
  param?: string[];
  outputMime?: string;
  bid?: string;
  provider?: string[];
  skill?: string;
  timeout?: string;
  wait?: boolean;
  then?: string[];
  encrypt?: boolean;
  force?: boolean;
  ignoreVerdict?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Largest file sent inline in the event: an event rides one ILP packet (32,767 bytes of TOON),
 * so anything larger goes as a blob.
 */
const MAX_INLINE_FILE_BYTES = 16 * 1024;

/**
 * Adds the town connection options to a command.
 *
 * @example
 * ```ts
 * import { addRequesterConnectionOptions } from "./job_command.ts";
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
 * The requester connection options' attribute names (`relayUrl`...), handed on to a profile
 * node a command starts (`profile_node.ts` leaves out the passphrase ones).
 */
export const REQUESTER_CONNECTION_OPTIONS: readonly string[] = addRequesterConnectionOptions(
  new Command("connection"),
).options.map((o) => o.attributeName());

/**
 * Registers `turnpike job ...`.
 *
 * @example
 * ```ts
 * import { registerJobCommand } from "./job_command.ts";
 * import { Command } from "commander";
 *
 * registerJobCommand(new Command("turnpike"));
 * ```
 */
export function registerJobCommand(program: Command): void {
  const job = program.command("job").description("post paid NIP-90 jobs and follow them");
  addRequesterConnectionOptions(
    job.command("submit <kind>")
      .description(
        "post a job (kind number 5000-5999 or a name: ci-run, echo, docker-build, " +
          "text-generation..., or a skill a provider announces)",
      )
      .option("--input <type:data>", "an input: text:<t>, url:<u>, event:<id>, job:<id>", collect)
      .option(
        "--file <path>",
        "a file as input: inline text up to 16 KiB, else uploaded to the town as a blob",
        collect,
      )
      .option("--dir <path>", "a project dir as a tar.gz blob input (honours .gitignore)")
      .option("--param <name=value>", "a job parameter (repeatable)", collect)
      .option("--output-mime <mime>", "the output format asked for")
      .option("--bid <n>", "most paid to the provider, base units")
      .option("--provider <hex>", "target provider pubkey (repeatable)", collect)
      .option("--skill <name>", "callback skill run with the result (default none)")
      .option("--timeout <s>", "give up after this many seconds (default 300)")
      .option("--wait", "follow the job (and its chain) until it ends (NDJSON with --output json)")
      .option("--then <spec>", "next job in a chain: <kind>[,bid=n][,skill=s][,param=k=v]", collect)
      .option("--encrypt", "NIP-44 encrypt inputs and params to the (single) provider")
      .option("--force", "post even when no provider serving the kind is online")
      .option("--ignore-verdict", "exit 0 when the job is done even if its report says failed"),
  ).action(async (kind: string, _o: unknown, cmd: Command) => {
    await submit(kind, cmd.optsWithGlobals<SubmitOptions>(), cmd);
  });
  job.command("status <id>").description("show a job's record")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await status(id, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
    });
  job.command("results <id>").description(
    "show a job's result (the result report with --output json)",
  )
    .option("--save <dir>", "download the result's blobs (logs, artifacts) into <dir>, verified")
    .option("--raw", "with --output json: also the result event and its raw TOON")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await results(id, cmd.optsWithGlobals<RequesterCliOptions & { save?: string }>(), cmd);
    });
  addRequesterConnectionOptions(
    job.command("wait <id>").description(
      "follow a job (any, by id or unique prefix) until it ends; NDJSON with --output json",
    ).option("--ignore-verdict", "exit 0 when the job is done even if its report says failed"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await wait(id, cmd.optsWithGlobals<RequesterCliOptions & { ignoreVerdict?: boolean }>(), cmd);
  });
  job.command("list").description("list jobs, newest first")
    .option("--status <status>", "only this status (repeatable)", collect)
    .option("--kind <kind>", "only this kind")
    .option("--limit <n>", "at most n jobs (default 100)")
    .action(async (_o: unknown, cmd: Command) => {
      await list(cmd.optsWithGlobals(), cmd);
    });
  addRequesterConnectionOptions(
    job.command("cancel <id>").description("cancel a job (kind 5 deletion; payments stop)"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<RequesterCliOptions>();
    const config = await loadRequesterConfig(opts, cmd);
    const record = await withRepo(config.stateDir, (repo) => readJob(repo, id));
    const full = record.id;
    if (TERMINAL_JOB_STATUSES.includes(record.status)) {
      // Read from its record: no node, no passphrase to refuse it; nothing sent or paid.
      throw asCliError(new JobEndedError(full, record.status));
    }
    await ensureRequesterNode(opts, config, cmd);
    for await (const line of callNode(config.stateDir, { op: "cancel", id: full })) {
      if (line.type !== "record") continue;
      const cancelled = line.record as RequesterJobRecord;
      const deletion = line.deletion as string | undefined;
      await printCancel(config.stateDir, cancelled, deletion, opts.output);
    }
  });
}

/**
 * Makes sure the profile's node serves this command (`profile_node.ts`): the one running with
 * these settings, or one started in the background.
 *
 * @example
 * ```ts
 * import {
 *   ensureRequesterNode,
 *   loadRequesterConfig,
 *   type RequesterCliOptions,
 * } from "./job_command.ts";
 * import type { Command } from "commander";
 *
 * declare const opts: RequesterCliOptions; // a subcommand's parsed options
 * declare const cmd: Command; // the subcommand
 * await ensureRequesterNode(opts, await loadRequesterConfig(opts, cmd), cmd);
 * ```
 */
export async function ensureRequesterNode(
  opts: RequesterCliOptions,
  config: RequesterSettings,
  cmd: Command,
): Promise<void> {
  await ensureProfileNode({
    ...opts,
    config,
    cmd,
    connectionOptions: REQUESTER_CONNECTION_OPTIONS,
  });
}

/**
 * Resolves settings + requester config, or fails with exit code 2.
 *
 * @example
 * ```ts
 * import { loadRequesterConfig, type RequesterCliOptions } from "./job_command.ts";
 * import type { Command } from "commander";
 *
 * declare const opts: RequesterCliOptions; // a subcommand's parsed options
 * declare const cmd: Command; // the subcommand
 * const config = await loadRequesterConfig(opts, cmd);
 * console.log(config.stateDir, config.relayUrl);
 * ```
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
      throw new CliError(err.message, { context: err.name, exitCode: ExitCode.Usage, cause: err });
    }
    throw err;
  }
}

/**
 * Unlocks the wallet and starts a requester (resuming in-flight jobs unless told not to).
 *
 * @example
 * ```ts
 * import { openRequester, type RequesterCliOptions } from "./job_command.ts";
 * import type { Command } from "commander";
 *
 * declare const opts: RequesterCliOptions; // a subcommand's parsed options
 * declare const cmd: Command; // the subcommand
 * const req = await openRequester(opts, cmd, { onProgress: console.log });
 * await req.close();
 * ```
 */
export async function openRequester(
  opts: RequesterCliOptions,
  cmd: Command,
  extra: {
    resume?: boolean;
    onProgress?: (p: JobProgress) => void;
    /** Already resolved by the caller (with {@linkcode loadRequesterConfig}). */
    config?: RequesterSettings;
    /** The caller printed the network line already. */
    networkShown?: boolean;
    /** Warnings and alerts (default: stderr). */
    warn?: (line: string) => void;
  } = {},
): Promise<Requester> {
  const config = extra.config ?? await loadRequesterConfig(opts, cmd);
  if (!extra.networkShown) printNetworkLine(config.network);
  const signer = await loadNodeSigner({
    ...opts,
    // `job` has no --generate-key: the requester always signs with its wallet.
    generateKey: false,
    stateDir: config.stateDir,
    who: "the requester",
  });
  try {
    return await startRequester({
      ...config,
      signer,
      onClosed: () => signer.close(),
      resume: extra.resume,
      onProgress: extra.onProgress,
      warn: extra.warn ?? ((line) => console.error(line)),
    });
  } catch (err) {
    signer.close();
    throw asCliError(err);
  }
}

/**
 * Maps requester errors to CLI errors (town rejects with their code and a suggestion).
 *
 * @example
 * ```ts
 * import { asCliError } from "./job_command.ts";
 *
 * declare function cancelJob(): Promise<void>; // the action's work
 * async function action(): Promise<void> {
 *   try {
 *     await cancelJob();
 *   } catch (err) {
 *     throw asCliError(err); // a CliError with its exit code, or err as it was
 *   }
 * }
 * ```
 */
export function asCliError(err: unknown): unknown {
  return toCliError(err, JOB_ERROR_CASES);
}

/** What the job commands meet, first match first, each said as CLI_ERRORS says. */
const JOB_ERROR_CASES = [
  errorCase(JobEndedError, CLI_ERRORS.jobEnded),
  errorCase(RequesterJobError, CLI_ERRORS.noJob),
  errorCase(TownRejectedError, CLI_ERRORS.townRejected),
  errorCase(ChannelSenderError, CLI_ERRORS.channelCannotPay),
  errorCase(PriceAboveCeilingError, CLI_ERRORS.priceAboveCeiling),
  errorCase(ClaimBeyondDepositError, CLI_ERRORS.channelUsedUp),
  errorCase(AutoChannelError, CLI_ERRORS.autoChannelFailed),
  errorCase(BlobPublishError, CLI_ERRORS.blobNotPublished),
  errorCase(BlossomError, CLI_ERRORS.blobUploadRefused),
  errorCase([BtpConnectionError, BtpTimeoutError], CLI_ERRORS.townSilent),
  errorCase(
    TownUnreachableError,
    (e) => CLI_ERRORS.townUnreachable(e, e instanceof JobNotPostedError ? e.jobId : undefined),
  ),
];

/** A file to publish as a blob input before the job is posted. */
interface PendingUpload {
  path: string;
  /** A temporary file (a `--dir` archive), removed once published. */
  temporary?: boolean;
  /** Its copy in the profile's `uploads/`, which the node reads (removed once published). */
  staged?: string;
}

async function buildSpec(
  kindText: string,
  opts: SubmitOptions,
  directory: readonly ProviderListing[] = [],
): Promise<{ spec: JobSpec; uploads: PendingUpload[] }> {
  const uploads: PendingUpload[] = [];
  try {
    const inputs: JobInput[] = (opts.input ?? []).map(parseInput);
    for (const path of opts.file ?? []) {
      const input = await fileInput(path);
      if (input === undefined) uploads.push({ path });
      else inputs.push(input);
    }
    if (opts.dir !== undefined) uploads.push(await dirUpload(opts.dir));
    const params: JobParam[] = (opts.param ?? []).map((p) => {
      const eq = p.indexOf("=");
      if (eq < 1) throw new JobSpecError(`--param "${p}" is not name=value`);
      return { name: p.slice(0, eq), values: [p.slice(eq + 1)] };
    });
    const providers = (opts.provider ?? []).map(checkPubkey);
    if (opts.encrypt && providers.length !== 1) {
      throw new JobSpecError("--encrypt needs exactly one --provider");
    }
    const skill = checkSkill(opts.skill ?? NO_CALLBACK);
    const timeoutMs = opts.timeout === undefined ? DEFAULT_JOB_TIMEOUT_MS : seconds(opts.timeout);
    const defaults = { skill, timeoutMs, providers };
    const spec: JobSpec = {
      kind: resolveJobKind(kindText, (name) => kindOfSkill(directory, name)),
      inputs,
      params,
      output: opts.outputMime,
      bid: opts.bid === undefined ? undefined : parseAmount(opts.bid, "--bid"),
      providers,
      skill,
      timeoutMs,
      encrypt: opts.encrypt ?? false,
      then: (opts.then ?? []).map((t) => parseThenSpec(t, defaults)),
    };
    return { spec, uploads };
  } catch (err) {
    for (const u of uploads) if (u.temporary) await Deno.remove(u.path).catch(() => {});
    if (err instanceof UnknownJobKindError || err instanceof JobSpecError) {
      throw new CliError(err.message, {
        exitCode: ExitCode.Usage,
        suggestion: err instanceof UnknownJobKindError
          ? "use a kind number 5000-5999, a documented name (ci-run, echo, docker-build) or a skill name " +
            "a provider announces (`turnpike providers`)"
          : undefined,
        cause: err,
      });
    }
    throw err;
  }
}

async function dirUpload(dir: string): Promise<PendingUpload> {
  const path = await Deno.makeTempFile({ prefix: "turnpike-context-", suffix: ".tar.gz" });
  try {
    await archiveProject(dir, path);
  } catch (err) {
    await Deno.remove(path).catch(() => {});
    if (err instanceof ProjectArchiveError) {
      throw new CliError(err.message, { context: "--dir", exitCode: ExitCode.Usage, cause: err });
    }
    throw err;
  }
  return { path, temporary: true };
}

function parseInput(text: string): JobInput {
  const colon = text.indexOf(":");
  const type = text.slice(0, colon) as JobInputType;
  if (colon < 1 || !["text", "url", "event", "job"].includes(type)) {
    throw new JobSpecError(`--input "${text.slice(0, 40)}" is not text:|url:|event:|job:<data>`);
  }
  return { type, data: text.slice(colon + 1) };
}

/** A small file as an inline input; undefined for a file to send as a blob. */
async function fileInput(path: string): Promise<JobInput | undefined> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Error(`${path} is not a file`);
    if (info.size > MAX_INLINE_FILE_BYTES) return undefined;
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new CliError(`cannot read input file: ${(err as Error).message.split(":")[0]}`, {
      context: path,
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (!text.includes("\0")) return { type: "text", data: text };
  } catch {
    // binary: base64 below
  }
  return { type: "text", data: btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")) };
}

function seconds(text: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 604_800) {
    throw new JobSpecError(`--timeout "${text}" is not 0-604800 seconds`);
  }
  return Math.round(s * 1000);
}

async function submit(kindText: string, opts: SubmitOptions, cmd: Command): Promise<void> {
  const json = opts.output === "json";
  const config = await loadRequesterConfig(opts, cmd);
  printNetworkLine(config.network);
  const directory = await readDirectory(config.relayUrl);
  const { spec, uploads } = await buildSpec(kindText, opts, directory ?? []);
  const network = networkField(config.network);
  try {
    precheck(directory, spec, opts.force === true, config.spendPolicy.perJobMax);
    await stageUploads(config.stateDir, uploads);
    await ensureRequesterNode(opts, config, cmd);
    const progress = progressPrinter(json);
    const transfers = new Map<string, ReturnType<typeof transferProgressPrinter>>();
    const request = {
      op: "submit" as const,
      spec,
      uploads: uploads.map((u) => ({
        path: u.staged!,
        name: u.temporary ? "context.tar.gz" : u.path.slice(u.path.lastIndexOf("/") + 1),
      })),
      wait: opts.wait === true,
      priceCeiling: config.priceCeiling,
      acceptPrice: config.acceptPrice,
    };
    let jobId: string | undefined;
    const onLine = async (line: Record<string, unknown>) => {
      if (line.type === "log") console.error(line.line);
      else if (line.type === "transfer") {
        const name = String(line.name);
        if (!transfers.has(name)) {
          transfers.set(name, transferProgressPrinter({ label: `upload ${name}`, quiet: json }));
        }
        transfers.get(name)?.(Number(line.done), Number(line.total));
      } else if (line.type === "upload" && !json) {
        const paid = line.paid as bigint;
        console.error(
          `  ${line.name}: ${line.size} bytes as blob ${String(line.sha256).slice(0, 12)}, ` +
            (paid === 0n ? "stored already (free)" : `paid ${
              formatAssetAmount(paid, {
                assetCode: String(line.assetCode),
                assetScale: Number(line.assetScale),
              })
            }`),
        );
      } else if (line.type === "record") {
        const record = line.record as RequesterJobRecord;
        jobId ??= record.id;
        if (!opts.wait) {
          // The job's id is this command's output; the profile's node follows and pays it.
          if (json) printJsonLine("job", { ...recordJson(record), network });
          else console.log(`job ${record.id} ${record.status}`);
        } else if (!json) console.error(`job ${record.id} ${record.status}`);
      } else if (line.type === "progress") {
        const p = line.progress as JobProgress;
        jobId ??= p.jobId;
        progress(p);
      } else if (line.type === "waiting") {
        printWaiting(line, json);
      } else if (line.type === "chain") {
        await printOutcome(config.stateDir, line.records as RequesterJobRecord[], {
          json,
          network,
          links: 1 + spec.then.length,
          ignoreVerdict: opts.ignoreVerdict,
        });
      }
    };
    try {
      for await (const line of callNode(config.stateDir, request)) await onLine(line);
    } catch (err) {
      if (!(err instanceof CliError && err.code === "node-unreachable")) throw err;
      // The node went away mid-request. A job it had posted is on record and the next node
      // resumes it: follow it there rather than post it again (which would pay twice).
      if (jobId === undefined || !opts.wait) {
        throw new CliError(err.message, {
          context: err.context,
          code: "node-unreachable",
          suggestion: jobId === undefined
            ? "`turnpike job list` shows whether the job was posted before you submit it again"
            : `the job is on record: \`turnpike job wait ${jobId}\` follows it`,
          fields: jobId === undefined ? undefined : { job: jobId },
          cause: err,
        });
      }
      console.error(`node: the profile's node went away; following job ${jobId} in a new one`);
      await ensureRequesterNode(opts, config, cmd);
      for await (const line of callNode(config.stateDir, { op: "wait", id: jobId })) {
        if (line.type !== "record") await onLine(line);
      }
    }
  } finally {
    for (const u of uploads) {
      if (u.temporary) await Deno.remove(u.path).catch(() => {});
      if (u.staged !== undefined) await Deno.remove(u.staged).catch(() => {});
    }
  }
}

/**
 * Stages each upload in the profile's `uploads/` (roles/requester/node_uploads.ts): the command
 * reads the file with its own rights; the node reads nothing else. An archive made here is moved.
 */
async function stageUploads(stateDir: string, uploads: PendingUpload[]): Promise<void> {
  for (const u of uploads) {
    if (u.temporary) {
      const staged = await stagedUploadPath(stateDir, ".tar.gz");
      const moved = await Deno.rename(u.path, staged).then(() => true, () => false);
      u.staged = moved ? staged : await stageUpload({ stateDir, path: u.path });
    } else {
      try {
        u.staged = await stageUpload({ stateDir, path: u.path });
      } catch (err) {
        throw new CliError(`cannot read ${u.path}: ${(err as Error).message}`, {
          exitCode: ExitCode.Usage,
          cause: err,
        });
      }
    }
  }
}

/**
 * The town's providers, or undefined (with a warning) when they cannot be read for now (a busy
 * town). A town whose relay does not answer at all fails the command `town-unreachable` before
 * anything is posted or paid, whether or not the profile's node runs (docs/AGENTS.md).
 */
async function readDirectory(relayUrl: string): Promise<ProviderListing[] | undefined> {
  try {
    return await fetchProviderDirectory({ relayUrl });
  } catch (err) {
    if (err instanceof RelayQueryError && err.reason === "unreachable") {
      throw new CliError(`relay ${relayUrl}: ${err.message}`, {
        context: "town unreachable",
        code: "town-unreachable",
        suggestion: "nothing was posted or paid: check that the town is up and --relay-url " +
          "points at it, then submit again",
        cause: err,
      });
    }
    console.error(`warning: cannot list the town's providers: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Refuses a job nobody would take (see roles/requester/job_precheck.ts). `--force` posts it
 * when no provider is online (one may come), never when every provider's price is above the
 * bid: providers drop such a request, so it could only time out.
 */
function precheck(
  directory: readonly ProviderListing[] | undefined,
  spec: JobSpec,
  force: boolean,
  maxPerJob: bigint | undefined,
): void {
  if (directory === undefined) return;
  const check = precheckJob(directory, { ...spec, maxPerJob });
  if (check.ok || (force && check.code !== "bid-below-price")) return;
  throw new CliError(check.message, {
    code: check.code,
    suggestion: check.suggestion,
    exitCode: ExitCode.Failure,
    fields: check.fields,
  });
}

/**
 * Progress lines: NDJSON on stdout in json mode, else human lines on stderr. A job's end is left
 * to `follow`, which prints it once with its error (text mode said "done" twice).
 */
function progressPrinter(json: boolean): (p: JobProgress) => void {
  const ends: readonly string[] = TERMINAL_JOB_STATUSES;
  return json ? (p) => printJsonLine("progress", { ...progressLine(p) }) : (p) => {
    if (ends.includes(p.status)) return;
    console.error(`  ${p.jobId.slice(0, 12)} ${p.status}${p.detail ? `  ${p.detail}` : ""}`);
  };
}

/**
 * A `waiting` line of the profile's node (roles/requester/job_heartbeat.ts): as it is in json
 * mode, else a human line on stderr.
 */
function printWaiting(line: Record<string, unknown>, json: boolean): void {
  if (json) return printJsonLine("waiting", line);
  const since = Math.round((Date.now() - Date.parse(String(line.since))) / 1000);
  console.error(
    `  ${String(line.job).slice(0, 12)} waiting for the ${line.for} ` +
      `(${line.status}, nothing new for ${since} s)`,
  );
}

/**
 * Prints a chain's outcome: the result report (json) or the result's content (text, on stdout;
 * the chain's lines on stderr). A job that did not end `done` fails the command after its
 * outcome is printed.
 */
async function printOutcome(
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
  const payments = await openPaymentLog({ stateDir });
  const report = await buildResultReport({ stateDir, chain, payments: payments.entries() });
  if (o.json) {
    printJsonLine("result", o.network === undefined ? report : { ...report, network: o.network });
  } else {
    for (const link of chain) {
      console.error(`job ${link.id} ${link.status}${link.error ? `: ${link.error}` : ""}`);
    }
    const result = await readStoredResult(stateDir, last.id);
    if (result !== undefined) console.log(result.content);
    if (report.verdict !== null) {
      const status = (report.report as { status: string }).status;
      console.error(`verdict: ${report.verdict} (report status ${status})`);
    }
  }
  if (last.status !== "done" || chain.length < (o.links ?? 1)) {
    throw new CliError(`job ${last.id} ended ${last.status}`, {
      context: last.error,
      code: isErrorCode(last.status) ? last.status : "failed",
      printed: o.json,
      suggestion: last.status === "payment-refused"
        ? "raise --bid or the spend policy caps if the price is acceptable"
        : last.status === "timed-out"
        ? "raise --timeout or pick another --provider (`turnpike providers` lists them)"
        : undefined,
    });
  }
  if (report.verdict === "failed" && !o.ignoreVerdict) {
    throw new CliError(`job ${last.id} is done but its report says the work failed`, {
      context: `report status ${(report.report as { status: string }).status}`,
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
 * and no passphrase; else the profile's node follows it and this command prints its lines.
 */
async function wait(
  idText: string,
  opts: RequesterCliOptions & { ignoreVerdict?: boolean },
  cmd: Command,
): Promise<void> {
  const json = opts.output === "json";
  const config = await loadRequesterConfig(opts, cmd);
  const network = networkField(config.network);
  const record = await withRepo(config.stateDir, (repo) => readJob(repo, idText));
  if (TERMINAL_JOB_STATUSES.includes(record.status) && record.chain?.next === undefined) {
    return await printOutcome(config.stateDir, [record], {
      json,
      network,
      ignoreVerdict: opts.ignoreVerdict,
    });
  }
  await ensureRequesterNode(opts, config, cmd);
  const progress = progressPrinter(json);
  for await (const line of callNode(config.stateDir, { op: "wait", id: record.id })) {
    if (line.type === "record" && !json) {
      console.error(`job ${record.id} ${(line.record as RequesterJobRecord | null)?.status}`);
    } else if (line.type === "progress") progress(line.progress as JobProgress);
    else if (line.type === "waiting") printWaiting(line, json);
    else if (line.type === "chain") {
      await printOutcome(config.stateDir, line.records as RequesterJobRecord[], {
        json,
        network,
        ignoreVerdict: opts.ignoreVerdict,
      });
    }
  }
}

async function openRepo(opts: RequesterCliOptions, cmd: Command) {
  const loaded = await loadSettings({
    flags: settingsFlagsFrom(opts, cmd, TOWN_CONNECTION_FLAGS),
  }).catch((err) => {
    throw new CliError((err as Error).message, { exitCode: ExitCode.Usage, cause: err });
  });
  return await openJobRepository({ stateDir: loaded.settings.stateDir, readOnly: true });
}

async function withRepo<T>(stateDir: string, fn: (repo: JobRepository) => Promise<T>): Promise<T> {
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
 * import { resolveJobId } from "./job_command.ts";
 * import type { JobRepository } from "../state/job_repository.ts";
 *
 * declare const repo: JobRepository;
 * const id = resolveJobId(repo, "c1c254bf"); // the full id, or exit 2
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

async function readJob(repo: JobRepository, text: string): Promise<RequesterJobRecord> {
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
    printRecord(record, opts.output, await jobVerdict(repo.stateDir, record));
  } finally {
    repo.close();
  }
}

async function results(
  idText: string,
  opts: RequesterCliOptions & { save?: string; raw?: boolean },
  cmd: Command,
): Promise<void> {
  const repo = await openRepo(opts, cmd);
  try {
    const record = await readJob(repo, idText);
    const id = record.id;
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
    const blobs = blobOutputsOf(result.event.tags);
    // A log the report carries whole (ci-run's short ones) is saved with the blobs.
    const inline = opts.save === undefined
      ? []
      : await inlineReportLogs(parseReport(result.content), blobs.map((b) => b.name)).catch(
        (err) => {
          throw new CliError((err as Error).message, { context: `job ${id}`, cause: err });
        },
      );
    const saved = opts.save === undefined
      ? []
      : await saveResultBlobs(blobs, opts.save, opts.output === "json", inline);
    if (opts.output === "json") {
      const payments = await openPaymentLog({ stateDir: repo.stateDir });
      const report = await buildResultReport({
        stateDir: repo.stateDir,
        chain: [record],
        payments: payments.entries(),
      });
      const raw = opts.raw ? { event: result.event, toon: result.toon } : {};
      printJsonLine("result", { ...report, saved, ...raw });
    } else {
      console.log(result.content);
      for (const b of blobs) {
        const where = saved.find((s) => s.name === b.name)?.path ?? b.url;
        console.error(
          `  blob ${b.name}: ${b.size} bytes, sha256 ${b.sha256.slice(0, 12)}, ${where}`,
        );
      }
      for (const s of saved) {
        if (s.from === "report") console.error(`  log ${s.name}: from the report, ${s.path}`);
      }
    }
  } finally {
    repo.close();
  }
}

/** Largest result blob fetched by `job results --save`. */
const MAX_SAVED_BLOB_BYTES = 4 * 1024 * 1024 * 1024;

async function saveResultBlobs(
  blobs: readonly JobBlobOutput[],
  dir: string,
  quiet: boolean,
  inline: readonly InlineLog[] = [],
): Promise<{ name: string; path: string; from?: "report" }[]> {
  if (blobs.length === 0 && inline.length === 0) {
    // Nothing to fetch: no empty directory left behind, and the user is told why.
    console.error(`no blobs to save: the result names no logs or artifacts (${dir} not created)`);
    return [];
  }
  await Deno.mkdir(dir, { recursive: true });
  const saved: { name: string; path: string; from?: "report" }[] = [];
  for (const log of inline) {
    const path = `${dir}/${log.name}`;
    await Deno.writeFile(path, log.bytes);
    saved.push({ name: log.name, path, from: "report" });
  }
  for (const b of blobs) {
    const path = `${dir}/${b.name}`;
    try {
      await downloadBlob({
        url: b.url,
        sha256: b.sha256,
        maxBytes: Math.min(b.size, MAX_SAVED_BLOB_BYTES),
        to: path,
        onProgress: transferProgressPrinter({ label: `download ${b.name}`, quiet }),
      });
    } catch (err) {
      throw new CliError(`cannot fetch the result's blob ${b.name}: ${(err as Error).message}`, {
        context: b.url,
        suggestion: "the town may have dropped it (blobs are kept for its retention period)",
        cause: err,
      });
    }
    saved.push({ name: b.name, path });
  }
  return saved;
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
  try {
    kind = opts.kind === undefined ? undefined : resolveJobKind(opts.kind);
  } catch (err) {
    throw new CliError((err as Error).message, { exitCode: ExitCode.Usage, cause: err });
  }
  const repo = await openRepo(opts, cmd);
  try {
    const rows = repo.list({
      status: opts.status as JobStatus[] | undefined,
      kind,
      limit: opts.limit === undefined ? 100 : Number(opts.limit),
    });
    // A done job's verdict (its report's), as `job wait` exits by (cli/job_line.ts).
    const verdicts = await Promise.all(rows.map((r) => jobVerdict(repo.stateDir, r)));
    // One line per job, newest first (docs/AGENTS.md): no array to read whole.
    if (opts.output === "json") {
      for (const [i, r] of rows.entries()) printJsonLine("job", recordJson(r, verdicts[i]));
    } else if (opts.output === "csv") {
      console.log("id,kind,name,callback,status,provider,created_at_ms,updated_at_ms,verdict");
      for (const [i, r] of rows.entries()) {
        const name = jobNameFromKind(r.kind);
        const row = [r.id, r.kind, name, r.skill, r.status, r.provider];
        console.log(csvRow([...row, r.createdAtMs, r.updatedAtMs, verdicts[i]]));
      }
    } else {
      for (const [i, r] of rows.entries()) {
        console.log(
          `${r.id}  ${jobKindLabel(r.kind).padEnd(19)} ${r.status.padEnd(15)} ` +
            new Date(r.createdAtMs).toISOString() +
            (verdicts[i] === undefined ? "" : `  verdict ${verdicts[i]}`),
        );
      }
    }
  } finally {
    repo.close();
  }
}

function recordJson(
  r: Parameters<typeof jobLineFields>[0],
  verdict?: JobVerdict,
): Record<string, unknown> {
  return jobLineFields(r, verdict);
}

/**
 * `job cancel`'s line: the job's record, its `costs` (the kind 5's fee among them) and
 * `cancelCosts`, the kind 5's fee alone (docs/AGENTS.md "Cancelling a job").
 */
async function printCancel(
  stateDir: string,
  record: RequesterJobRecord,
  deletion: string | undefined,
  output: string | undefined,
): Promise<void> {
  const entries = (await openPaymentLog({ stateDir })).entries();
  const costs = costsOf([record], entries);
  const fee = deletion === undefined
    ? []
    : costsOf([record], entries.filter((e) => e.invoiceId === deletion));
  if (output === "json") {
    printJsonLine("job", { ...recordJson(record), costs, cancelCosts: fee, deletion });
    return;
  }
  printRecord(record, output);
  for (const c of fee) {
    const total = costs.find((t) => t.asset === c.asset)?.total ?? "0";
    const unit = { assetCode: c.asset, assetScale: c.scale ?? 0 };
    console.log(
      `cancel   ${formatAssetAmount(BigInt(c.total), unit)} to the town for the kind 5; ` +
        `the job cost ${formatAssetAmount(BigInt(total), unit)} in all, nothing refunded`,
    );
  }
}

function printRecord(
  r: RequesterJobRecord,
  output: string | undefined,
  verdict?: JobVerdict,
): void {
  if (output === "json") {
    printJsonLine("job", recordJson(r, verdict));
    return;
  }
  console.log(`job      ${r.id}`);
  console.log(`kind     ${jobKindLabel(r.kind)}`);
  console.log(`status   ${r.status}${r.error ? ` (${r.error})` : ""}`);
  if (verdict !== undefined) console.log(`verdict  ${verdict}`);
  if (r.skill !== NO_CALLBACK) console.log(`callback ${r.skill}`);
  if (r.bid !== undefined) console.log(`bid      ${r.bid}`);
  if (r.provider) console.log(`provider ${r.provider}`);
  if (r.chain?.prev) console.log(`after    ${r.chain.prev}`);
  if (r.chain?.next) console.log(`then     ${r.chain.next}`);
  for (const p of r.payments) {
    console.log(
      `payment  ${formatRecordedAmount(p.amount, p)} ${p.status}${
        p.fulfillment ? ` receipt ${p.fulfillment}` : ""
      }`,
    );
  }
}

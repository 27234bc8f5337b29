/**
 * `turnpike job submit|status|results|list|cancel`: post paid NIP-90 jobs and follow them.
 * `submit --wait` (and `cancel`) connect to the town and resume the profile's in-flight jobs
 * first; `status`, `results` and `list` only read the state dir (`status`, `list` and `wait`
 * are defined in job_read_command.ts, which a command that only reads loads alone: docs/SCALE.md
 * "A command's start").
 *
 * Exit codes: 0 done; 1 the job or the town failed (rejected, timed out, refused payment,
 * unreachable town); 2 bad usage (unknown kind name, unreadable input file, bad option value).
 *
 * @module
 */
import { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { untrusted } from "./cli_error_map.ts";
import { asCliError } from "./job_errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { UnknownJobKindError } from "../protocol/job_kind_names.ts";
import type { JobInput, JobInputType, JobParam } from "../protocol/nip90_job.ts";
import { readPaymentEntries } from "../state/payments/payment_log_reader.ts";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import { costsOf, paymentKeysOf } from "./job_report.ts";
import {
  fetchProviderDirectory,
  kindOfSkill,
  type ProviderListing,
} from "../roles/requester/provider_directory.ts";
import { precheckJob } from "../roles/requester/job_precheck.ts";
import { networkField, printNetworkLine } from "./network_line.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../state/jobs/job_record.ts";
import { provePassphrase, requestUnanswered } from "./node_call.ts";
import { callProfileNode } from "./profile_node.ts";
import type { NodeRequest } from "../roles/requester/node_server.ts";
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
import type { RequesterSettings } from "../config/requester_settings.ts";
import type { JobProgress, Requester } from "../roles/requester/requester_node.ts";
import { RelayQueryError } from "../transport/relay_query.ts";
import { stagedUploadPath, stageUpload } from "../roles/requester/node_uploads.ts";
import { transferProgressPrinter } from "./transfer_progress.ts";
import { printJsonLine } from "./json_line.ts";
import { lazyImport } from "./lazy_import.ts";
import { specFromProfile } from "./spec_from_profile.ts";
import {
  addAgentTaskOptions,
  type AgentTaskFlags,
  repositoryFirst,
  submitOrQuote,
} from "./agent_task_options.ts";
import type { AgentTaskParts } from "../roles/agent_work/requester/agent_task_out.ts";
import * as agentRecord from "../state/jobs/agent_task_record.ts";
import { AGENT_TASK_KIND, agentPresetOf } from "../roles/agent_work/agent_task_wire.ts";
import { jobLineFields } from "./job_line.ts";
import { jobBeadOf } from "./job_bead.ts";
import {
  addJobListCommand,
  addJobStatusCommand,
  addJobWaitCommand,
  addRequesterConnectionOptions,
  loadRequesterConfig,
  printOutcome,
  printRecord,
  readJob,
  type RequesterCliOptions,
  withRepo,
} from "./job_read_command.ts";
import { printWaiting, progressPrinter } from "./job_progress_print.ts";
import { addJobResultsCommand, agentTaskCommand } from "./job_results_command.ts";
import { terminalText } from "./terminal_text.ts";

// Where the requester's users (requester_command.ts) have always found it.
export { asCliError };

interface SubmitOptions extends RequesterCliOptions, AgentTaskFlags {
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
  addRequesterConnectionOptions(addAgentTaskOptions(
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
      .option(
        "--provider <hex>",
        "target provider pubkey (repeatable); roster: the roster's; auto: best by trust and price",
        collect,
      )
      .option("--skill <name>", "callback skill run with the result (default none)")
      .option(
        "--timeout <s>",
        "give up after this many seconds (default 300; an agent task: its preset's timeout as " +
          "the provider announces it, plus 120, else 300)",
      )
      .option("--wait", "follow the job (and its chain) until it ends (NDJSON with --output json)")
      .option("--then <spec>", "next job in a chain: <kind>[,bid=n][,skill=s][,param=k=v]", collect)
      .option("--encrypt", "NIP-44 encrypt inputs and params to the (single) provider")
      .option("--force", "post even when no provider serving the kind is online")
      .option("--ignore-verdict", "exit 0 when the job is done even if its report says failed"),
  )).action(submitOrQuote<SubmitOptions>(submit));
  addJobStatusCommand(job);
  addJobResultsCommand(job);
  addJobWaitCommand(job);
  addJobListCommand(job);
  addRequesterConnectionOptions(
    job.command("cancel <id>").description("cancel a job (kind 5 deletion; payments stop)"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<RequesterCliOptions>();
    const config = await loadRequesterConfig(opts, cmd);
    const record = await withRepo(config.stateDir, (repo) => readJob(repo, id));
    const full = record.id;
    if (TERMINAL_JOB_STATUSES.includes(record.status)) {
      // Read from its record: no node, no passphrase to refuse it; nothing sent or paid.
      const { JobEndedError } = await lazyImport<
        typeof import("../roles/requester/requester_job_error.ts")
      >(new URL("../roles/requester/requester_job_error.ts", import.meta.url));
      throw asCliError(new JobEndedError(full, record.status));
    }
    const request = { op: "cancel" as const, id: full };
    for await (const line of callRequesterNode(opts, config, cmd, request)) {
      if (line.type !== "record") continue;
      const cancelled = line.record as RequesterJobRecord;
      const deletion = line.deletion as string | undefined;
      await printCancel(config.stateDir, cancelled, deletion, opts.output);
    }
  });
}

/**
 * Sends a request to the profile's node (`profile_node.ts` {@linkcode callProfileNode}): the one
 * running with these settings, or one started in the background; a node that was stopping hands
 * the request to the next.
 *
 * It asks the profile's node (a process) reached through a town, so it has no example that runs
 * here: tests/e2e/requester_cli_test.ts
 */
export function callRequesterNode(
  opts: RequesterCliOptions,
  config: RequesterSettings,
  cmd: Command,
  request: NodeRequest,
): AsyncGenerator<Record<string, unknown>> {
  return callProfileNode(
    { ...opts, config, cmd, connectionOptions: REQUESTER_CONNECTION_OPTIONS },
    request,
  );
}

/**
 * Unlocks the wallet and starts a requester (resuming in-flight jobs unless told not to).
 *
 * It opens the profile's requester on its town, so it has no example that runs here:
 * tests/e2e/requester_cli_test.ts
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
  // Loaded here, as the requester below: `job submit` signs nothing in its own process.
  const { loadNodeSigner } = await lazyImport<typeof import("./node_identity.ts")>(
    new URL("./node_identity.ts", import.meta.url),
  );
  const signer = await loadNodeSigner({
    ...opts,
    // `job` has no --generate-key: the requester always signs with its wallet.
    generateKey: false,
    stateDir: config.stateDir,
    who: "the requester",
  });
  try {
    // Loaded here: the commands that only call the profile's node never start a requester.
    const { startRequester } = await lazyImport<
      typeof import("../roles/requester/requester_node.ts")
    >(new URL("../roles/requester/requester_node.ts", import.meta.url));
    return await startRequester({
      ...config,
      signer,
      onClosed: () => signer.close(),
      resume: extra.resume,
      onProgress: extra.onProgress,
      warn: extra.warn ?? ((line) => console.error(terminalText(line))),
    });
  } catch (err) {
    signer.close();
    throw asCliError(err);
  }
}

/** A file to publish as a blob input before the job is posted. */
interface PendingUpload {
  path: string;
  /** A temporary file (a `--dir` archive, a sealed bundle), removed once published. */
  temporary?: boolean;
  name?: string;
  /** Its copy in the profile's `uploads/`, which the node reads (removed once published). */
  staged?: string;
}

async function buildSpec(
  kindText: string,
  opts: SubmitOptions,
  directory: readonly ProviderListing[] = [],
  stateDir?: string,
  /** The agent task's parts, begun before the directory was read. */
  early?: Promise<AgentTaskParts>,
): Promise<{ spec: JobSpec; uploads: PendingUpload[]; local?: agentRecord.AgentTaskLocal }> {
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
    if (spec.kind !== AGENT_TASK_KIND) return { spec, uploads };
    const parts = await (early ??
      (await agentTaskCommand()).agentTaskParts(opts, directory, stateDir));
    uploads.push({ path: parts.sealedPath, temporary: true, name: parts.sealedName });
    if (parts.delta) uploads.push({ ...parts.delta, temporary: true });
    spec.inputs.push(...parts.inputs), spec.params.push(...parts.params);
    // The bead (its id, title, rig and polecat) kept on the job's record (cli/job_bead.ts).
    Object.assign(spec, {
      providers: [parts.provider],
      encrypt: true,
      bead: jobBeadOf(parts.inputs),
    });
    // The preset's announced wall time and the delivery's, unless --timeout says otherwise.
    if (opts.timeout === undefined && parts.timeoutMs !== undefined) {
      spec.timeoutMs = parts.timeoutMs;
    }
    Object.assign(spec, { declineFailed: opts.declineFailed, allowProtected: opts.allowProtected });
    return { spec, uploads, local: parts.local };
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
  const { archiveProject, ProjectArchiveError } = await lazyImport<
    typeof import("../roles/requester/project_archive.ts")
  >(new URL("../roles/requester/project_archive.ts", import.meta.url));
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
  if (Number.isFinite(s) && s > 0 && s <= 604_800) return Math.round(s * 1000);
  throw new JobSpecError(`--timeout "${text}" is not 0-604800 seconds`);
}

async function submit(kindText: string, opts: SubmitOptions, cmd: Command): Promise<void> {
  const json = opts.output === "json";
  const config = await loadRequesterConfig(opts, cmd);
  printNetworkLine(config.network);
  const reading = readDirectory(config.relayUrl);
  // A passphrase no prompt asks for is proven while the relay answers; its error comes in turn.
  const noPrompt = opts.passphraseFd !== undefined || opts.passphraseFile !== undefined ||
    opts.nonInteractive === true || !!Deno.env.get("TURNPIKE_PASSPHRASE_FILE");
  if (noPrompt) provePassphrase(config.stateDir, opts).catch(() => {});
  const protect = [...config.agentProtect, ...opts.protect ?? []]; // [agents] protect, then flags
  // An agent task to a named provider: its repository is bundled while the directory is read.
  const early = repositoryFirst(kindText, opts)
    ? (await agentTaskCommand()).startAgentTaskParts({ ...opts, protect }, reading, config.stateDir)
    : undefined;
  let directory = await reading.catch(async (err) => {
    await early?.discard();
    throw err;
  });
  const relays = [config.relayUrl, ...(config.moreTowns ?? []).map((t) => t.relayUrl)];
  const auto = opts.provider?.includes("auto");
  if (opts.provider?.includes("roster")) {
    // The Mayor's roster (cli/gt_roster_flag.ts), loaded only for `--provider roster`.
    const onIt = await (await lazyImport<typeof import("./gt_roster_flag.ts")>(
      new URL("./gt_roster_flag.ts", import.meta.url),
    )).rosterProviders(kindText, directory ?? [], { ...config, relays });
    ({ directory, provider: opts.provider } = onIt);
  }
  if (auto) {
    opts.provider = await (await lazyImport<typeof import("./provider_auto.ts")>(
      new URL("./provider_auto.ts", import.meta.url),
    )).autoProvider(kindText, directory ?? [], {
      stateDir: config.stateDir,
      relays,
      bid: opts.bid,
      perJobMax: config.spendPolicy.perJobMax,
      agent: opts.agent,
      json,
    });
  }
  const { spec, uploads, local } = await buildSpec(
    kindText,
    { ...opts, protect },
    directory ?? [],
    config.stateDir,
    early?.parts,
  ).catch(async (err) => {
    await early?.discard();
    throw err;
  });
  await specFromProfile(spec, { ...config, relays, worker: opts.worker, json });
  const network = networkField(config.network);
  try {
    precheck(directory, spec, opts.force === true, config.spendPolicy.perJobMax);
    await stageUploads(config.stateDir, uploads);
    const progress = progressPrinter(json);
    const transfers = new Map<string, ReturnType<typeof transferProgressPrinter>>();
    const request = {
      op: "submit" as const,
      spec,
      uploads: uploads.map((u) => ({
        path: u.staged!,
        name: u.name ??
          (u.temporary ? "context.tar.gz" : u.path.slice(u.path.lastIndexOf("/") + 1)),
      })),
      wait: opts.wait === true,
      priceCeiling: config.priceCeiling,
      acceptPrice: config.acceptPrice,
    };
    let jobId: string | undefined;
    const onLine = async (line: Record<string, unknown>) => {
      if (line.type === "log") console.error(terminalText(String(line.line)));
      else if (line.type === "transfer") {
        const name = String(line.name);
        if (!transfers.has(name)) {
          transfers.set(name, transferProgressPrinter({ label: `upload ${name}`, quiet: json }));
        }
        transfers.get(name)?.(Number(line.done), Number(line.total));
      } else if (line.type === "upload" && !json) {
        const paid = line.paid as bigint;
        const unit = { assetCode: String(line.assetCode), assetScale: Number(line.assetScale) };
        const cost = paid === 0n
          ? "stored already (free)"
          : `paid ${formatAssetAmount(paid, unit)}`;
        console.error(terminalText(
          `  ${line.name}: ${line.size} bytes as blob ${String(line.sha256).slice(0, 12)}, ${cost}`,
        ));
      } else if (line.type === "record") {
        const record = line.record as RequesterJobRecord;
        jobId ??= record.id;
        if (local) await agentRecord.rememberAgentTask(config.stateDir, record.id, local);
        if (!opts.wait) {
          // The job's id is this command's output; the profile's node follows and pays it.
          if (json) printJsonLine("job", { ...jobLineFields(record), network });
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
      for await (const line of callRequesterNode(opts, config, cmd, request)) await onLine(line);
    } catch (err) {
      // Only a node gone mid-request (an unread request was resent, profile_node.ts): a job it
      // had posted is on record and the next node resumes it: follow it there rather than post
      // it again (which would pay twice).
      if (!(err instanceof CliError && requestUnanswered(err))) throw err;
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
      const follow = { op: "wait" as const, id: jobId };
      for await (const line of callRequesterNode(opts, config, cmd, follow)) {
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
        suggestion: "nothing was posted or paid: " + (untrusted(err) ??
          "check that the town is up and --relay-url points at it, then submit again"),
        cause: err,
      });
    }
    console.error(
      `warning: cannot list the town's providers: ${terminalText((err as Error).message)}`,
    );
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
  const agent = agentPresetOf(spec); // an agent task's preset is priced on top of the skill
  const check = precheckJob(directory, { ...spec, maxPerJob, agent });
  if (check.ok || (force && check.code !== "bid-below-price")) return;
  throw new CliError(check.message, {
    code: check.code,
    suggestion: check.suggestion,
    exitCode: ExitCode.Failure,
    fields: check.fields,
  });
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
  const entries = await readPaymentEntries({ stateDir, mentioning: paymentKeysOf([record]) });
  const costs = costsOf([record], entries);
  const fee = deletion === undefined
    ? []
    : costsOf([record], entries.filter((e) => e.invoiceId === deletion));
  if (output === "json") {
    printJsonLine("job", { ...jobLineFields(record), costs, cancelCosts: fee, deletion });
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

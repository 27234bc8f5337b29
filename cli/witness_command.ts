/**
 * `turnpike witness`: the Witness of the profile's remote workers (docs/AGENTS.md "The
 * Witness"), a patrol every `--every` seconds (one with `--once`) over its agent tasks at work:
 * one silent past three beats is stalled, cancelled and slung again to another provider under
 * its sling's idempotency key (roles/requester/witness.ts). Each patrol prints a line per worker
 * (`worker` NDJSON lines with `--output json`) and keeps them in the profile's `witness.json`,
 * which `node status` and the dashboard read.
 *
 * A command beside the profile's node rather than inside it: the node follows and pays jobs and
 * answers commands; the Witness decides to cancel and post, which are the node's own `cancel`
 * and `submit` requests, as `job cancel` and `job submit` send them. A Witness that stops leaves
 * the node as it was, and one runs per profile (a lock beside its book).
 *
 * @module
 */
import type { Command } from "commander";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
  withRepo,
} from "./job_read_command.ts";
import { callRequesterNode } from "./job_command.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { CliError } from "./cli_error.ts";
import { stopSignal } from "./stop_signal.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";
import { readJobSidecar } from "../roles/requester/job_sidecar.ts";
import { Witness } from "../roles/requester/witness.ts";
import type { WitnessWorker } from "../roles/requester/witness_book.ts";
import { workerText } from "./witness_worker_text.ts";
import { fetchProviderDirectory, offersFor } from "../roles/requester/provider_directory.ts";
import {
  agentTranscriptFile,
  readAgentTask,
  rememberAgentTask,
} from "../state/jobs/agent_task_record.ts";
import { lockProcessFile, ProcessLockedError } from "../state/process_lock.ts";

/** `witness`'s own options. */
interface WitnessCliOptions extends RequesterCliOptions {
  once?: boolean;
  every?: string;
  period?: string;
  to?: string[];
  transcript?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Adds `witness` to the program.
 *
 * @example
 * ```ts
 * import { registerWitnessCommand } from "./witness_command.ts";
 * import { Command } from "commander";
 *
 * registerWitnessCommand(new Command("turnpike"));
 * ```
 */
export function registerWitnessCommand(program: Command): void {
  addRequesterConnectionOptions(
    program.command("witness")
      .description("follow the profile's remote agent workers; sling a stalled one's task again")
      .option("--once", "one patrol, then exit")
      .option("--every <seconds>", "patrol period (default 10)")
      .option("--period <seconds>", "beat period of a job whose provider says none (default 60)")
      .option("--to <pubkey>", "sling again to these providers, in order (repeatable)", collect)
      .option("--transcript", "show the last line of a delivered worker's transcript"),
  ).action(async (_o: unknown, cmd: Command) => {
    await witness(cmd.optsWithGlobals<WitnessCliOptions>(), cmd);
  });
}

async function witness(opts: WitnessCliOptions, cmd: Command): Promise<void> {
  const config = await loadRequesterConfig(opts, cmd);
  const stateDir = config.stateDir;
  const json = opts.output === "json";
  await using _lock = await lockProcessFile(`${stateDir}/witness.lock`, { label: "witness" })
    .catch((err) => {
      if (!(err instanceof ProcessLockedError)) throw err;
      throw new CliError("a Witness already runs for this profile", {
        context: err.message,
        code: "node-busy",
        cause: err,
      });
    });
  const node = async (request: Parameters<typeof callRequesterNode>[3]) => {
    let record: RequesterJobRecord | undefined;
    for await (const line of callRequesterNode(opts, config, cmd, request)) {
      if (line.type === "record") record = line.record as RequesterJobRecord;
    }
    if (!record) throw new CliError("the profile's node answered no record");
    return record;
  };
  const relays = [config.relayUrl, ...(config.moreTowns ?? []).map((t) => t.relayUrl)];
  const w = new Witness({
    stateDir,
    relays,
    inFlight: () =>
      withRepo(stateDir, (repo) => Promise.resolve(repo.listInFlight().map((s) => s.id))),
    postedSince: (ms) =>
      withRepo(stateDir, (repo) => Promise.resolve(repo.list({ sinceMs: ms }).map((s) => s.id))),
    read: (id) => withRepo(stateDir, (repo) => repo.read(id)),
    specOf: async (id) => (await readJobSidecar(stateDir, id))?.spec,
    cancel: (id) => node({ op: "cancel", id }),
    submit: async (spec: JobSpec, from: string) => {
      const record = await node({
        op: "submit",
        spec,
        uploads: [],
        wait: false,
        priceCeiling: config.priceCeiling,
        acceptPrice: config.acceptPrice,
      });
      // `job results --apply` of the new job applies to the same repository.
      const local = await readAgentTask(stateDir, from).catch(() => undefined);
      if (local) await rememberAgentTask(stateDir, record.id, local);
      return record;
    },
    providers: async (kind) =>
      opts.to ?? offersFor(await fetchProviderDirectory({ relayUrl: config.relayUrl }), kind)
        .map((o) => o.provider.pubkey),
    transcript: opts.transcript ? (id) => lastLine(agentTranscriptFile(stateDir, id)) : undefined,
    periodS: opts.period === undefined ? undefined : seconds(opts.period, "--period"),
    log: (line) => console.error(terminalText(line)),
  });
  const everyMs = 1000 * (opts.every === undefined ? 10 : seconds(opts.every, "--every"));
  const stop = opts.once ? undefined : stopSignal();
  let stopped = false;
  stop?.then(() => stopped = true);
  while (true) {
    for (const worker of await w.patrol()) printWorker(worker, json);
    if (opts.once || stopped) return;
    await Promise.race([new Promise((r) => setTimeout(r, everyMs)), stop]);
    if (stopped) return;
  }
}

function printWorker(w: WitnessWorker, json: boolean): void {
  if (json) return printJsonLine("worker", w);
  console.log(terminalText(workerText(w)));
}

async function lastLine(path: string): Promise<string | undefined> {
  const text = await Deno.readTextFile(path).catch(() => undefined);
  return text?.trimEnd().split("\n").pop();
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new CliError(`${flag}: not a number of seconds: ${text}`, { code: "usage", exitCode: 2 });
  }
  return n;
}

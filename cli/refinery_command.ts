/**
 * `turnpike refinery`: the Mayor's merge queue over the profile's delivered agent tasks
 * (docs/AGENTS.md "The refinery"). Flags and printing here; the queue, its book and its
 * re-slings are roles/agent_work/refinery/.
 *
 * The results: the jobs named, else every agent task of the profile that is `done`, was sent
 * from `--repo` and that the refinery's book has not decided. Each is applied as its branch
 * (`turnpike/<id's first 12>`, as `job results --apply` makes it, once), then ordered, checked,
 * merged and gated on `--branch`. A conflict is sent back as a new agent task on the new tip
 * through the profile's node (as `job submit`), once per sling.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { agentTaskCommand } from "./job_results_command.ts";
import { profileBlobServers } from "./profile_blob_servers.ts";
import { refineryTrust } from "./refinery_trust.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  readJob,
  type RequesterCliOptions,
  withRepo,
} from "./job_read_command.ts";
import { callRequesterNode } from "./job_command.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import { readAgentTask, rememberAgentTask } from "../state/jobs/agent_task_record.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { readJobSidecar } from "../roles/requester/job_sidecar.ts";
import { stagedUploadPath } from "../roles/requester/node_uploads.ts";
import { AGENT_TASK_KIND } from "../roles/agent_work/agent_task_wire.ts";
import { readRefineryBook } from "../roles/agent_work/refinery/refinery_book.ts";
import {
  reslingParts,
  slingKeyOf,
  taskOfSpec,
} from "../roles/agent_work/refinery/refinery_inputs.ts";
import {
  type PatrolEvent,
  type PatrolResult,
  refineryPatrol,
} from "../roles/agent_work/refinery/refinery_patrol.ts";

/** `refinery`'s own options. */
interface RefineryCliOptions extends RequesterCliOptions {
  repo: string;
  branch?: string;
  maxWait?: string;
  batch?: string;
  limit?: string;
  newestFirst?: boolean;
  resling: boolean;
}

/**
 * Adds `refinery` to the program.
 *
 * @example
 * ```ts
 * import { registerRefineryCommand } from "./refinery_command.ts";
 * import { Command } from "commander";
 *
 * registerRefineryCommand(new Command("turnpike"));
 * ```
 */
export function registerRefineryCommand(program: Command): void {
  addRequesterConnectionOptions(
    program.command("refinery [jobs...]")
      .description(
        "merge the profile's delivered agent tasks into a branch: ordered, checked, gated; " +
          "a conflict slung again once",
      )
      .requiredOption("--repo <dir>", "the repository the tasks were sent from")
      .option("--branch <name>", "the integration branch (default main)")
      .option("--max-wait <seconds>", "a result waiting this long goes first (default 1800)")
      .option("--batch <n>", "the most results gated together (default 8; 1: one at a time)")
      .option("--limit <n>", "the most results tried in this run (default all)")
      .option("--newest-first", "newest first, one at a time (the baseline order)")
      .option("--no-resling", "reject a conflicting result instead of slinging it again"),
  ).action(async (jobs: string[], _o: unknown, cmd: Command) => {
    await refinery(jobs, cmd.optsWithGlobals<RefineryCliOptions>(), cmd);
  });
}

async function refinery(ids: string[], opts: RefineryCliOptions, cmd: Command): Promise<void> {
  const config = await loadRequesterConfig(opts, cmd);
  const stateDir = config.stateDir;
  const json = opts.output === "json";
  const repoDir = await Deno.realPath(opts.repo).catch((err) => {
    throw new CliError(`--repo ${opts.repo}: ${(err as Error).message}`, {
      code: "usage",
      exitCode: ExitCode.Usage,
    });
  });
  const branch = opts.branch ?? "main";
  const book = await readRefineryBook(stateDir);
  const records = await candidates(stateDir, repoDir, ids);
  const open = records.filter((r) => book.jobs[r.id] === undefined);
  const trust = await refineryTrust({
    stateDir,
    relays: [config.relayUrl, ...(config.moreTowns ?? []).map((t) => t.relayUrl)],
    providers: open.flatMap((r) => r.provider ? [r.provider] : []),
  });
  const towns = open.length === 0 ? [] : await profileBlobServers(opts, cmd);
  const results: PatrolResult[] = [];
  for (const record of open) {
    const r = await resultOf(stateDir, repoDir, record, { book, trust, towns }).catch((err) =>
      err as Error
    );
    if (r instanceof Error) print(json, { type: "skipped", job: record.id, reason: r.message });
    else results.push(r);
  }
  const node = async (request: Parameters<typeof callRequesterNode>[3]) => {
    let record: RequesterJobRecord | undefined;
    for await (const line of callRequesterNode(opts, config, cmd, request)) {
      if (line.type === "record") record = line.record as RequesterJobRecord;
    }
    if (!record) throw new CliError("the profile's node answered no record");
    return record;
  };
  const summary = await refineryPatrol({
    stateDir,
    repoDir,
    branch,
    results,
    maxWaitMs: opts.maxWait === undefined ? undefined : 1000 * count(opts.maxWait, "--max-wait"),
    maxBatch: opts.batch === undefined ? undefined : count(opts.batch, "--batch"),
    limit: opts.limit === undefined ? undefined : count(opts.limit, "--limit"),
    newestFirst: opts.newestFirst,
    hiddenPaths: [stateDir],
    onEvent: (e) => print(json, e),
    resend: opts.resling === false ? undefined : async (r, tip, conflicts) => {
      const sidecar = await readJobSidecar(stateDir, r.job);
      const provider = (await withRepo(stateDir, (repo) => repo.read(r.job)))?.provider;
      if (!sidecar || !provider) throw new CliError(`job ${r.job}: its spec is not kept here`);
      const { spec, parts } = await reslingParts({
        spec: sidecar.spec,
        repo: repoDir,
        tip,
        branch,
        conflicts,
        provider,
      });
      const staged = await stagedUploadPath(stateDir, ".tar.gz");
      await Deno.rename(parts.sealedPath, staged);
      try {
        const posted = await node({
          op: "submit",
          spec,
          uploads: [{ path: staged, name: parts.sealedName }],
          wait: false,
          priceCeiling: config.priceCeiling,
          acceptPrice: config.acceptPrice,
        });
        await rememberAgentTask(stateDir, posted.id, parts.local);
        return posted.id;
      } finally {
        await Deno.remove(staged).catch(() => {});
      }
    },
    postedSince: (key, sinceMs) =>
      withRepo(stateDir, async (repo) => {
        for (const s of repo.list({ sinceMs })) {
          const r = await repo.read(s.id);
          if (r && r.kind === AGENT_TASK_KIND && slingKeyOf(book, r) === key) return r.id;
        }
        return undefined;
      }),
  });
  print(json, { type: "refinery", ...summary });
  if (summary.rejected > 0) {
    throw new CliError(`${summary.rejected} result(s) rejected`, {
      code: "results-rejected",
      exitCode: ExitCode.Verdict,
      suggestion: "each `outcome` line with `rejected` says why",
    });
  }
}

/** The records named, else the profile's `done` agent tasks sent from `repoDir`. */
async function candidates(
  stateDir: string,
  repoDir: string,
  ids: string[],
): Promise<RequesterJobRecord[]> {
  const repo = await openJobRepository({ stateDir, readOnly: true });
  try {
    if (ids.length > 0) return await Promise.all(ids.map((id) => readJob(repo, id)));
    const out: RequesterJobRecord[] = [];
    for (const s of repo.list({ status: ["done"], limit: Number.MAX_SAFE_INTEGER })) {
      const r = await repo.read(s.id).catch(() => undefined);
      if (r?.kind !== AGENT_TASK_KIND) continue;
      const local = await readAgentTask(stateDir, r.id).catch(() => undefined);
      const from = local && await Deno.realPath(local.repo).catch(() => undefined);
      if (from === repoDir) out.push(r);
    }
    return out;
  } finally {
    repo.close();
  }
}

/** A record's result applied as its branch, and what the queue reads of it. */
async function resultOf(
  stateDir: string,
  repoDir: string,
  record: RequesterJobRecord,
  ctx: {
    book: Awaited<ReturnType<typeof readRefineryBook>>;
    trust: Map<string, number>;
    towns: string[];
  },
): Promise<PatrolResult> {
  const stored = await readStoredResult(stateDir, record.id);
  const local = await readAgentTask(stateDir, record.id);
  if (!stored || local?.accept === undefined) {
    throw new Error("no result, or no acceptance command kept for it");
  }
  const applied = await (await agentTaskCommand()).applyAgentResult({
    stateDir,
    record,
    result: { tags: stored.event.tags, content: stored.content },
    towns: ctx.towns,
    repo: repoDir,
  });
  const key = slingKeyOf(ctx.book, record);
  // A re-sling's result keeps the age of its sling's first delivery.
  const first = ctx.book.slings[key]?.from;
  const firstAt = first && first !== record.id
    ? (await readStoredResult(stateDir, first))?.event.created_at
    : undefined;
  const spec = (await readJobSidecar(stateDir, record.id))?.spec;
  const diffstat = applied.diffstat as { insertions: number; deletions: number };
  const verified = (local.verified as { verdict?: string } | undefined)?.verdict;
  return {
    job: record.id,
    key,
    tip: String(applied.tip),
    accept: local.accept,
    label: record.bead ? `${record.bead.id} (turnpike job ${record.id.slice(0, 12)})` : undefined,
    priority: spec ? taskOfSpec(spec)?.priority : undefined,
    deliveredAtMs: 1000 * (firstAt ?? stored.event.created_at),
    trust: record.provider ? ctx.trust.get(record.provider) : undefined,
    verdict: typeof applied.verdict === "string" ? applied.verdict : null,
    verified: verified === "pass" || verified === "fail" ? verified : undefined,
    lines: diffstat.insertions + diffstat.deletions,
  };
}

/** A progress line: NDJSON with `--json`, a sentence otherwise. */
function print(
  json: boolean,
  e: PatrolEvent | { type: "skipped"; job: string; reason: string } | {
    type: "refinery";
    [k: string]: unknown;
  },
): void {
  const { type: _type, ...fields } = e;
  if (json) {
    switch (e.type) {
      case "queued":
        return printJsonLine("queued", fields);
      case "gate":
        return printJsonLine("gate", fields);
      case "outcome":
        return printJsonLine("outcome", fields);
      case "reslung":
        return printJsonLine("reslung", fields);
      case "skipped":
        return printJsonLine("skipped", fields);
      case "refinery":
        return printJsonLine("refinery", fields);
    }
  }
  const f = fields as Record<string, unknown>;
  const job = typeof f.job === "string" ? f.job.slice(0, 12) : "";
  const line = e.type === "queued"
    ? `${f.position}. ${job} ${JSON.stringify(f.score)}`
    : e.type === "gate"
    ? `gate ${f.verdict} on ${String(f.commit).slice(0, 12)} (${
      (f.jobs as string[]).length
    } results)`
    : e.type === "outcome"
    ? `${job} ${f.outcome}${f.reason ? `: ${f.reason}` : ""}${
      Array.isArray(f.conflicts) ? `: ${f.conflicts.join(", ")}` : ""
    }`
    : e.type === "reslung"
    ? `${job} slung again as ${String(f.to).slice(0, 12)} (${f.key})`
    : e.type === "skipped"
    ? `${job} skipped: ${f.reason}`
    : `${f.branch} ${String(f.from).slice(0, 12)} -> ${String(f.tip).slice(0, 12)}: ` +
      `${f.merged} merged, ${f.reslung} slung again, ${f.rejected} rejected, ${f.waiting} waiting`;
  console.log(terminalText(line));
}

function count(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    throw new CliError(`${flag}: not a whole number above 0: ${text}`, {
      code: "usage",
      exitCode: ExitCode.Usage,
    });
  }
  return n;
}

/**
 * Pruning finished job records (`turnpike job prune`, `turnpike node prune`): a job is removed
 * only when it is finished (a terminal status) and its last change is older than the cut-off;
 * jobs in flight and recent ones always stay. Its record, the requester's sidecar, callback and
 * agent-task files (`agent-tasks/<id>.*`), and its stored result go; the deletion is one audit change per job, so git history
 * still holds every record the audit trail needs. The payment log is never touched.
 *
 * @module
 */
import { RoleError } from "./role_error.ts";
import type { JobRepository } from "../state/jobs/job_repository.ts";
import { TERMINAL_JOB_STATUSES } from "../state/jobs/job_record.ts";
import type { ProviderJobStore } from "../state/jobs/provider_job_store.ts";
import { isTerminalProviderJob } from "../state/jobs/provider_job_record.ts";

/** What a prune found (and, unless a dry run, removed). */
export interface PruneReport {
  /** Ids of the jobs pruned (or that would be, on a dry run). */
  pruned: string[];
  /** Jobs kept because they are not finished. */
  inFlight: number;
  /** Finished jobs kept because they changed after the cut-off. */
  recent: number;
  dryRun: boolean;
}

/** Options for {@linkcode pruneRequesterJobs} and {@linkcode pruneProviderJobs}. */
export interface PruneJobsOptions {
  stateDir: string;
  /** Jobs whose last change is before this time (unix ms) may go. */
  beforeMs: number;
  /** List only, remove nothing. */
  dryRun: boolean;
}

/** A duration such as `30d` cannot be read. */
export class PruneAgeError extends RoleError {
  override name = "PruneAgeError";
}

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/**
 * Parses an age (`30d`, `12h`, `90m`, `45s`, `2w`) into milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAge, PruneAgeError } from "./job_prune.ts";
 *
 * assert.equal(parseAge("30d"), 2_592_000_000);
 * assert.equal(parseAge("90m"), 5_400_000);
 * assert.throws(() => parseAge("a month"), PruneAgeError);
 * ```
 * @throws {PruneAgeError} for anything else.
 */
export function parseAge(text: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (m === null) {
    throw new PruneAgeError(`"${text}" is not an age such as 30d, 12h, 90m or 45s`);
  }
  return Number(m[1]) * UNIT_MS[m[2]];
}

/**
 * Prunes the requester's finished jobs older than the cut-off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openJobRepository } from "../state/jobs/job_repository.ts";
 * import { parseAge, pruneRequesterJobs } from "./job_prune.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const repo = await openJobRepository({ stateDir });
 * const job = (n: number, status: "done" | "sent", atMs: number) => ({ id: String(n).repeat(64),
 *   kind: 5100, skill: "echo", status, createdAtMs: atMs, updatedAtMs: atMs, payments: [] });
 * const old = Date.now() - parseAge("40d");
 * await repo.create(job(1, "done", old));
 * await repo.create(job(2, "sent", old)); // in flight: kept however old
 * await repo.create(job(3, "done", Date.now())); // recent: kept
 * const beforeMs = Date.now() - parseAge("30d");
 * const report = await pruneRequesterJobs(repo, { stateDir, beforeMs, dryRun: false });
 * assert.deepEqual(report, { pruned: ["1".repeat(64)], inFlight: 1, recent: 1, dryRun: false });
 * assert.equal(await repo.read("1".repeat(64)), undefined);
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function pruneRequesterJobs(
  repo: JobRepository,
  options: PruneJobsOptions,
): Promise<PruneReport> {
  const { old, report } = sortOut(
    repo.list({ limit: 1e9 }),
    (j) => TERMINAL_JOB_STATUSES.includes(j.status),
    (j) => j.updatedAtMs,
    options,
  );
  if (options.dryRun) return report;
  for (const job of old) {
    const paths = await removeJobFiles(options.stateDir, [
      `requester/${job.id}.json`,
      `results/${job.id}`,
    ]);
    await removeByPrefix(`${options.stateDir}/callbacks`, `${job.id}.`);
    // An agent task's files (state/jobs/agent_task_record.ts): what `--apply` needs, its transcript.
    await removeByPrefix(`${options.stateDir}/agent-tasks`, `${job.id}.`);
    await repo.remove(job.id, { paths, fields: { Status: job.status } });
  }
  return report;
}

/**
 * Prunes the provider's finished jobs older than the cut-off (run it while the provider is
 * stopped: a running one holds its records in memory).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProviderJobRecord } from "../state/jobs/provider_job_record.ts";
 * import { openProviderJobStore, PROVIDER_JOBS_DIR } from "../state/jobs/provider_job_store.ts";
 * import { parseAge, pruneProviderJobs } from "./job_prune.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const at = new Date(Date.now() - parseAge("40d")).toISOString();
 * const id = "ab".repeat(32);
 * await Deno.mkdir(`${stateDir}/${PROVIDER_JOBS_DIR}`);
 * await Deno.writeTextFile(`${stateDir}/${PROVIDER_JOBS_DIR}/${id}.toml`, formatProviderJobRecord({
 *   id, kind: 5100, customer: "cd".repeat(32), skill: "echo", status: "published", price: "1000",
 *   requestToon: "", encrypted: false, admittedAt: at, updatedAt: at, attempts: 1,
 * }));
 * const store = await openProviderJobStore({ stateDir });
 * const beforeMs = Date.now() - parseAge("30d");
 * const listed = await pruneProviderJobs(store, { stateDir, beforeMs, dryRun: true });
 * assert.deepEqual([listed.pruned, store.all().length], [[id], 1]); // a dry run removes nothing
 * await pruneProviderJobs(store, { stateDir, beforeMs, dryRun: false });
 * assert.deepEqual(store.all(), []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function pruneProviderJobs(
  store: ProviderJobStore,
  options: PruneJobsOptions,
): Promise<PruneReport> {
  const { old, report } = sortOut(
    store.all(),
    isTerminalProviderJob,
    (j) => Date.parse(j.updatedAt),
    options,
  );
  if (options.dryRun) return report;
  for (const job of old) {
    const paths = await removeJobFiles(options.stateDir, [`results/${job.id}`]);
    await store.remove(job.id, { paths, fields: { Status: job.status } });
  }
  return report;
}

/**
 * Removes the job's other files that exist; returns the paths git can know (for the audit
 * change): an empty directory is not in git, and naming it would fail the commit.
 */
async function removeJobFiles(stateDir: string, paths: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const path of paths) {
    const full = `${stateDir}/${path}`;
    const info = await Deno.stat(full).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    });
    if (info === undefined) continue;
    const tracked = info.isFile || await hasEntries(full);
    await Deno.remove(full, { recursive: true });
    if (tracked) removed.push(path);
  }
  return removed;
}

async function hasEntries(dir: string): Promise<boolean> {
  for await (const _ of Deno.readDir(dir)) return true;
  return false;
}

/** Callback files are kept out of git (they are per-run markers): removed, not recorded. */
async function removeByPrefix(dir: string, prefix: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(prefix)) {
        await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** The finished jobs older than the cut-off, and the report that counts the rest. */
function sortOut<J extends { id: string }>(
  all: J[],
  finished: (job: J) => boolean,
  updatedAtMs: (job: J) => number,
  options: PruneJobsOptions,
): { old: J[]; report: PruneReport } {
  const done = all.filter(finished);
  const old = done.filter((j) => updatedAtMs(j) < options.beforeMs);
  return {
    old,
    report: {
      pruned: old.map((j) => j.id),
      inFlight: all.length - done.length,
      recent: done.length - old.length,
      dryRun: options.dryRun,
    },
  };
}

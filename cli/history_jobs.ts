/**
 * Which jobs `wallet history --job <prefix>` and `--bead <id>` mean (docs/AGENTS.md "What a job
 * cost"): a job named as every job command names it (a full id or a unique prefix), a bead through
 * the job records that keep it (`state/jobs/job_record.ts` `JobBead`), and the blob uploads those
 * records name (paid before the job had an id, so the payment log's lines do not carry it).
 *
 * @module
 */
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { JobIdPrefixError } from "../state/jobs/job_repository_errors.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";

/** Options of {@linkcode historyJobs}. */
export interface HistoryJobsOptions {
  /** The profile's state dir. */
  stateDir: string;
  /** `--job`: a full job id or a unique prefix of one. */
  job?: string;
  /** `--bead`: a bead id (`gt-abc12`). */
  bead?: string;
  /**
   * The job ids the payment log names: a provider keeps no job records, so a prefix is resolved
   * against these when the records do not know it.
   */
  loggedJobIds: Iterable<string>;
}

/** The jobs a history is filtered to, and the uploads their records name. */
export interface HistoryJobs {
  /** Full job ids. */
  jobs: Set<string>;
  /** Invoice ids of the blob uploads the jobs' records name. */
  uploads: Set<string>;
}

/**
 * The jobs `--job` and `--bead` name (both given: the jobs both name); undefined when neither is
 * given. Throws a usage {@linkcode CliError} (exit 2) for a prefix that is not hex or matches
 * several jobs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyJobs } from "./history_jobs.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const found = await historyJobs({ stateDir, bead: "gt-1", loggedJobIds: [] });
 * assert.equal(found?.jobs.size ?? 0, 0); // no job record keeps that bead
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function historyJobs(o: HistoryJobsOptions): Promise<HistoryJobs | undefined> {
  if (o.job === undefined && o.bead === undefined) return undefined;
  const repo = await openJobRepository({ stateDir: o.stateDir, readOnly: true });
  try {
    let ids: string[];
    if (o.job !== undefined) {
      ids = [resolveRecorded(o.job, (p) => repo.resolveId(p), o.loggedJobIds)]
        .filter((id) => id !== "");
    } else {
      ids = repo.list({ limit: Number.MAX_SAFE_INTEGER }).map((s) => s.id);
    }
    const jobs = new Set<string>();
    const uploads = new Set<string>();
    for (const id of ids) {
      const record = await repo.read(id).catch(() => undefined);
      if (o.bead !== undefined && record?.bead?.id !== o.bead) continue;
      jobs.add(id);
      for (const invoice of record?.uploadInvoices ?? []) uploads.add(invoice);
    }
    return { jobs, uploads };
  } finally {
    repo.close();
  }
}

/**
 * The full id `text` names: from the job records, else the one logged job id it starts (a
 * provider's payments), else "" (no payment is that job's).
 */
function resolveRecorded(
  text: string,
  fromRecords: (prefix: string) => string,
  logged: Iterable<string>,
): string {
  let matches: string[];
  try {
    return fromRecords(text);
  } catch (err) {
    if (!(err instanceof JobIdPrefixError)) throw err;
    const p = text.toLowerCase();
    matches = err.matches.length > 1 || !/^[0-9a-f]{4,64}$/.test(p)
      ? err.matches
      : [...new Set([...logged].filter((id) => id.startsWith(p)))];
    if (matches.length === 0 && !/^[0-9a-f]{4,64}$/.test(p)) {
      throw new CliError(err.message, { exitCode: ExitCode.Usage, cause: err });
    }
  }
  if (matches.length > 1) {
    throw new CliError(`job id ${text} is ambiguous`, {
      context: `matches ${matches.slice(0, 5).map((m) => m.slice(0, 16)).join(", ")}`,
      code: "ambiguous-id",
      suggestion: "give more characters of the id",
      exitCode: ExitCode.Usage,
    });
  }
  return matches[0] ?? "";
}

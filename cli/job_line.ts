/**
 * The `job` line of the job commands' `--json` output (`job submit` without `--wait`, `job
 * status`, `job list`, `job cancel`; docs/AGENTS.md "Reading a job's line"): the job's record
 * (`state/jobs/job_record.ts`) with two fields named for what an agent reads in them:
 *
 * - `callback`: the local skill this profile routes the job's result to (`job submit --skill`);
 *   absent when it has none. The record's own key for it, `skill`, is not printed: it read as
 *   the provider's skill.
 * - `verdict`: `passed` or `failed`, the verdict of the result's report (`protocol/job_verdict.ts`)
 *   for a job that ended `done`, by the rule `job wait` exits 3 by; absent while the job is in
 *   flight, when it ended otherwise, or when its report gives none (echo, a plain text result).
 *
 * @module
 */
import { NO_CALLBACK, type RequesterJobRecord } from "../state/jobs/job_record.ts";
import { type JobVerdict, verdictOf } from "../protocol/job_verdict.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import { parseReport } from "./job_report.ts";

/**
 * The fields of a job's `job` line from its record (or `job list`'s summary of it): bigints as
 * decimal strings, `callback` for the record's `skill`, `verdict` when given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobLineFields } from "./job_line.ts";
 *
 * const fields = jobLineFields({
 *   id: "ab".repeat(32), kind: 5600, skill: "none", status: "done", createdAtMs: 0,
 *   updatedAtMs: 0, payments: [],
 * }, "failed");
 * assert.equal(fields.verdict, "failed");
 * assert(!("callback" in fields));
 * ```
 */
export function jobLineFields(
  record: Pick<RequesterJobRecord, "skill"> & Partial<RequesterJobRecord>,
  verdict?: JobVerdict,
): Record<string, unknown> {
  const { skill, ...rest } = record;
  return {
    ...rest,
    ...(skill === NO_CALLBACK ? {} : { callback: skill }),
    ...(record.bid === undefined ? {} : { bid: record.bid.toString() }),
    ...(record.payments === undefined ? {} : {
      payments: record.payments.map((p) => ({ ...p, amount: p.amount.toString() })),
    }),
    ...(verdict === undefined ? {} : { verdict }),
  };
}

/**
 * The verdict of a job's stored result: its report's, for a job that ended `done`; undefined
 * otherwise (in flight, ended without a result, or a report without a verdict).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobVerdict } from "./job_line.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const record = { id: "ab".repeat(32), status: "sent" as const }; // in flight: no verdict yet
 * assert.equal(await jobVerdict(stateDir, record), undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function jobVerdict(
  stateDir: string,
  record: Pick<RequesterJobRecord, "id" | "status">,
): Promise<JobVerdict | undefined> {
  if (record.status !== "done") return undefined;
  const stored = await readStoredResult(stateDir, record.id);
  return verdictOf(parseReport(stored?.content));
}

/**
 * What a restarted provider does with each job record it finds (docs/ARCHITECTURE.md,
 * "Provider"): a decision per record, made from the record alone, so the rules can be read and
 * tested in one place. The node carries the steps out.
 *
 * - `running`: the skill was cut off. Its leftover processes are reaped, then it runs again when
 *   its skill says it is idempotent, else the job ends in error (the requester is told).
 * - `invoiced` past its invoice's expiry: ends in error, unpaid.
 * - `error`/`cancelled` whose feedback never went out: the feedback is sent.
 * - other finished jobs: nothing (never run twice).
 * - anything else (`admitted`, `invoiced`, `paid`, `result-computed`): carries on from where it
 *   stopped.
 *
 * @module
 */
import { removeAgentTaskFiles } from "../../agent_work/provider/agent_task_files.ts";
import { keepLeftTranscript } from "../../agent_work/provider/kept_transcript.ts";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import {
  isTerminalProviderJob,
  type ProviderJobRecord,
} from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { reapSkillCgroups, reapSkillProcesses } from "../sandbox/orphan_reaper.ts";
import type { SkillEntry } from "../skills/skill_catalog.ts";
import type { JobPublisher } from "./job_publisher.ts";

/** What to do with one record at restart. */
export type RecoveryStep =
  | { action: "rerun" }
  | { action: "fail"; reason: string }
  | { action: "notify" }
  | { action: "none" }
  | { action: "resume" };

/** Options for {@linkcode recoveryStepFor}. */
export interface RecoveryStepOptions {
  /** Whether the record's skill may be run twice (its manifest's `idempotent`). */
  idempotent: boolean;
  /** Now, unix ms. */
  nowMs: number;
}

/** Why a job cut off while running ends in error. */
export const RESTARTED_WHILE_RUNNING = "provider restarted while the job ran";
/** Why an unpaid job found past its invoice's expiry ends in error. */
export const EXPIRED_UNPAID = "payment not received before expiry";

/**
 * The step for one record found at restart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RESTARTED_WHILE_RUNNING, recoveryStepFor } from "./job_recovery.ts";
 *
 * const now = new Date().toISOString();
 * const record = { // found running at restart
 *   id: "e".repeat(64), kind: 5601, customer: "c".repeat(64), skill: "echo", price: "100",
 *   status: "running" as const, requestToon: "", encrypted: false, attempts: 1,
 *   admittedAt: now, updatedAt: now,
 * };
 * // A skill that may not run twice: the job ends in error (the caller's finishWithError).
 * assert.deepEqual(recoveryStepFor(record, { idempotent: false, nowMs: Date.now() }), {
 *   action: "fail",
 *   reason: RESTARTED_WHILE_RUNNING,
 * });
 * assert.deepEqual(recoveryStepFor(record, { idempotent: true, nowMs: Date.now() }), { action: "rerun" });
 * ```
 */
export function recoveryStepFor(
  record: ProviderJobRecord,
  options: RecoveryStepOptions,
): RecoveryStep {
  if (record.status === "running") {
    return options.idempotent
      ? { action: "rerun" }
      : { action: "fail", reason: RESTARTED_WHILE_RUNNING };
  }
  if (record.status === "invoiced" && record.invoice !== undefined) {
    if (parseIlpInvoice(record.invoice).expiresAt.getTime() <= options.nowMs) {
      return { action: "fail", reason: EXPIRED_UNPAID };
    }
  }
  if (isTerminalProviderJob(record)) {
    return record.notified === false ? { action: "notify" } : { action: "none" };
  }
  return { action: "resume" };
}

/** Options for {@linkcode recoverJobs}: what carries the steps out. */
export interface RecoverJobsOptions {
  stateDir: string;
  store: Pick<ProviderJobStore, "unfinished" | "endedUnnotified" | "put">;
  /** The skill a record names (undefined once it is gone: not idempotent). */
  skillOf: (record: ProviderJobRecord) => SkillEntry | undefined;
  /** Queues a paid job to run. */
  enqueue: (jobId: string) => void;
  publisher: Pick<JobPublisher, "finishWithError" | "notifyError">;
  /** Carries a job on from where it stopped (job_lifecycle.ts). */
  advance: (record: ProviderJobRecord) => Promise<void>;
  log: (line: string) => void;
}

/**
 * Carries out each record's step at restart ({@linkcode recoveryStepFor}); a record that cannot
 * be recovered is logged and the others still are.
 *
 * It needs a provider's store, publisher and town: no example that runs here:
 * tests/e2e/provider_crash_test.ts.
 */
export async function recoverJobs(o: RecoverJobsOptions): Promise<void> {
  // An ended record's step is `none` unless its requester was never told: those alone are read.
  for (const record of [...o.store.unfinished(), ...o.store.endedUnnotified()]) {
    try {
      await recoverOne(record, o);
    } catch (err) {
      o.log(`recover ${record.id} failed: ${(err as Error).message}`);
    }
  }
}

async function recoverOne(record: ProviderJobRecord, o: RecoverJobsOptions): Promise<void> {
  const step = recoveryStepFor(record, {
    idempotent: o.skillOf(record)?.manifest.idempotent ?? false,
    nowMs: Date.now(),
  });
  if (record.status === "running") {
    // Cut off mid-run: whatever it left behind goes before anything runs again.
    const reaped = await reapSkillProcesses(`${o.stateDir}/work/${record.id}`);
    if (reaped.length > 0) o.log(`recover ${record.id}: killed leftover pids ${reaped}`);
    await reapSkillCgroups(record.id);
    // An agent's transcript is kept (kept_transcript.ts); its files go: an agent-task's hold
    // the requester's repository in the clear.
    if (record.skill === "agent-task") await keepLeftTranscript(o.stateDir, record.id);
    await Deno.remove(`${o.stateDir}/work/${record.id}`, { recursive: true }).catch(() => {});
    await removeAgentTaskFiles(`${o.stateDir}/work`, record.id);
  }
  switch (step.action) {
    case "rerun": {
      o.log(`recover ${record.id}: re-run (skill ${record.skill} is idempotent)`);
      const paid = { ...record, status: "paid" as const };
      await o.store.put(paid);
      return o.enqueue(paid.id);
    }
    case "fail":
      return await o.publisher.finishWithError(record, "error", step.reason);
    case "notify":
      return await o.publisher.notifyError(record);
    case "none":
      return;
    case "resume":
      o.log(`recover ${record.id}: ${record.status}`);
      return await o.advance(record);
  }
}

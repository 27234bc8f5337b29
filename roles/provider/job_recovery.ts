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
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { isTerminalProviderJob, type ProviderJobRecord } from "../../state/provider_job_record.ts";

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
 * import type { ProviderJobRecord } from "../../state/provider_job_record.ts";
 *
 * declare const record: ProviderJobRecord;
 * declare const skill: { manifest: { idempotent?: boolean } } | undefined;
 * declare function finishWithError(r: ProviderJobRecord, status: "error", reason: string): Promise<void>;
 * const step = recoveryStepFor(record, { idempotent: skill?.manifest.idempotent ?? false, nowMs: Date.now() });
 * if (step.action === "fail") await finishWithError(record, "error", step.reason);
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

/**
 * A job's deposit is not paid when the job's own timeout is too close: its provider could not
 * run the job and publish its result before the requester gives up, and the job would time out
 * with its provider paid (docs/PROTOCOL.md "The deposit's deadline"). The margin is a tenth of
 * the job's timeout, at most {@linkcode MAX_DEPOSIT_MARGIN_MS}: 5 s of a 120 s job, 1 s of a
 * 10 s one. A request carries its timeout as its NIP-40 `expiration`, and a provider does not
 * take a request within that margin of it either.
 *
 * @module
 */

/** The most time a deposit leaves its provider before the job's timeout. */
export const MAX_DEPOSIT_MARGIN_MS = 5_000;

/**
 * The margin of a job of `timeoutMs`: a tenth of it, at most {@linkcode MAX_DEPOSIT_MARGIN_MS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositMarginMs } from "./deposit_deadline.ts";
 *
 * assert.equal(depositMarginMs(120_000), 5_000);
 * assert.equal(depositMarginMs(10_000), 1_000);
 * ```
 */
export function depositMarginMs(timeoutMs: number): number {
  return Math.min(MAX_DEPOSIT_MARGIN_MS, Math.max(0, Math.floor(timeoutMs / 10)));
}

/** When a job times out and the last time its deposit is paid (unix ms). */
export interface DepositDeadline {
  timesOutAtMs: number;
  payBy: number;
}

/** What {@linkcode depositDeadline} reads of a job (its sidecar's fields). */
export interface DepositDeadlineOptions {
  /** When the job times out here, unix ms. */
  deadlineMs: number;
  /** The job's timeout. */
  timeoutMs: number;
}

/**
 * The deposit's deadline of a job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositDeadline } from "./deposit_deadline.ts";
 *
 * const d = depositDeadline({ deadlineMs: 1_000_000, timeoutMs: 120_000 });
 * assert.deepEqual(d, { timesOutAtMs: 1_000_000, payBy: 995_000 });
 * assert.equal(depositDeadline({ deadlineMs: 50_000, timeoutMs: 10_000 }).payBy, 49_000);
 * ```
 */
export function depositDeadline(o: DepositDeadlineOptions): DepositDeadline {
  return { timesOutAtMs: o.deadlineMs, payBy: o.deadlineMs - depositMarginMs(o.timeoutMs) };
}

/**
 * Why a deposit is not paid at `nowMs` (the job's refusal), or undefined while there is time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depositTooLate } from "./deposit_deadline.ts";
 *
 * const deadline = { timesOutAtMs: 120_000, payBy: 115_000 };
 * assert.equal(depositTooLate(deadline, 100_000), undefined);
 * assert.match(depositTooLate(deadline, 118_000)!, /^the job times out in 2 s/);
 * ```
 */
export function depositTooLate(deadline: DepositDeadline, nowMs: number): string | undefined {
  if (nowMs <= deadline.payBy) return undefined;
  const left = Math.max(0, Math.round((deadline.timesOutAtMs - nowMs) / 1000));
  return `the job times out in ${left} s, too soon for its provider to run it and ` +
    "publish its result; the deposit was not paid";
}

/**
 * The one retry policy of what a node sends a town (docs/ARCHITECTURE.md, "The roles"): a
 * paid write's T-class rejects within one send ({@linkcode PAID_WRITE_RETRY}), a request's paid
 * write sent again while it fails for a passing reason ({@linkcode REQUEST_WRITE_RETRY}), and a job
 * payment the town refused for now ({@linkcode JOB_PAYMENT_RETRY}). The last two are asked the same
 * question, {@linkcode nextRetryWait}: how long to wait before retry `n`, if at all.
 *
 * @module
 */
import { backoffDelay, type BackoffOptions } from "../../protocol/backoff.ts";
import type { PrepareRetryOptions } from "../../stages/ilp_prepare_sink.ts";

/**
 * The retry policy of a paid write: two retries of a T-class reject, from 100 ms; a transport
 * failure is not retried on the same uplink (the client moves to the next uplink, and a dead town
 * is not waited for three times).
 */
export const PAID_WRITE_RETRY: Readonly<PrepareRetryOptions> = {
  maxRetries: 2,
  initialMs: 100,
  transportErrors: "throw",
};

/** A retry schedule: backoff timing and, optionally, a most number of retries. */
export interface TownRetryPolicy extends Readonly<BackoffOptions> {
  /** Most retries after the first attempt; absent: bounded only by the time left. */
  readonly maxRetries?: number;
}

/**
 * A request's paid write that failed for a passing reason (no answer from a busy town, the town
 * restarting, a T-class reject) is sent again, the same event, from 1 s doubling to 15 s, until
 * the job's deadline.
 */
export const REQUEST_WRITE_RETRY: TownRetryPolicy = { initialMs: 1_000, maxMs: 15_000 };

/**
 * A job payment the town refused for now (T05 rate-limited, T04 a claim not counted yet) is sent
 * again from 0.5 s doubling to 5 s, 8 attempts in all, while the invoice leaves
 * `MIN_INVOICE_TIME_LEFT_MS` after the wait (docs/OPERATIONS.md, "Running a requester").
 */
export const JOB_PAYMENT_RETRY: TownRetryPolicy = { initialMs: 500, maxMs: 5_000, maxRetries: 7 };

/** Options for {@linkcode nextRetryWait}. */
export interface NextRetryOptions {
  /** Epoch ms the retry must be sent by (a job's deadline, an invoice's expiry). */
  until: number;
  /** Ms that must still be left at `until` after the wait. Default 0. */
  leaveMs?: number;
  /** Epoch ms now. Default `Date.now()`. */
  now?: number;
}

/**
 * The wait before retry `retry` (0-based: the retries already made), or undefined when there is
 * no retry: `policy.maxRetries` made, or the wait would not end before `until` with at least
 * `leaveMs` to spare.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextRetryWait } from "./town_retry.ts";
 * const policy = { initialMs: 500, maxMs: 5_000, maxRetries: 7, jitter: 0 };
 * assert.equal(nextRetryWait(policy, 2, { until: 10_000, now: 0 }), 2_000);
 * assert.equal(nextRetryWait(policy, 7, { until: 10_000, now: 0 }), undefined);
 * assert.equal(nextRetryWait(policy, 0, { until: 400, now: 0 }), undefined);
 * ```
 */
export function nextRetryWait(
  policy: TownRetryPolicy,
  retry: number,
  options: NextRetryOptions,
): number | undefined {
  if (policy.maxRetries !== undefined && retry >= policy.maxRetries) return undefined;
  const wait = backoffDelay(retry, policy);
  const left = options.until - (options.now ?? Date.now()) - wait;
  return left > 0 && left >= (options.leaveMs ?? 0) ? wait : undefined;
}

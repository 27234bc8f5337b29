/**
 * The `busy` refusal (docs/PROTOCOL.md "Feedback sequence"): a provider over its capacity answers
 * a job request addressed to it at once, before any invoice, with kind 7000 feedback
 * `["status", "error", "busy: <why> (<what to do>)"]`. The status stays NIP-90's `error`, so a
 * client that knows nothing of `busy` still stops waiting; the `busy:` prefix says the refusal is
 * temporary: nothing was invoiced or paid, and the same job sent again later (a new request) or
 * to another provider may be taken. A feedback whose status tag itself says `busy` (a provider
 * that chose a status of its own) reads the same way.
 *
 * @module
 */
import type { ParsedJobFeedback } from "./nip90_job.ts";

/** The prefix of a `busy` refusal's reason (the status tag's second value). */
export const BUSY_PREFIX = "busy: ";

/**
 * The reason of a `busy` refusal, for the status tag's second value.
 *
 * @example
 * ```ts
 * import { busyReason } from "./busy_feedback.ts";
 * busyReason("32 jobs in flight, max 32", "retry later or pick another provider");
 * // "busy: 32 jobs in flight, max 32 (retry later or pick another provider)"
 * ```
 */
export function busyReason(why: string, hint: string): string {
  return `${BUSY_PREFIX}${why} (${hint})`;
}

/**
 * Whether a reason (the status tag's second value, or a job record's error that quotes it) is a
 * `busy` refusal.
 *
 * @example
 * ```ts
 * import { isBusyReason } from "./busy_feedback.ts";
 * isBusyReason("busy: 32 jobs in flight, max 32 (retry later)"); // true
 * isBusyReason("timeout: 30 s"); // false
 * ```
 */
export function isBusyReason(reason: string | undefined): boolean {
  return reason !== undefined && reason.trimStart().toLowerCase().startsWith("busy:");
}

/**
 * Whether parsed feedback is a `busy` refusal (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { busyReason, isBusyFeedback } from "./busy_feedback.ts";
 *
 * const extraInfo = busyReason("32 jobs in flight", "retry later");
 * assert(isBusyFeedback({ status: "error", extraInfo })); // send it again later
 * ```
 */
export function isBusyFeedback(feedback: Pick<ParsedJobFeedback, "status" | "extraInfo">): boolean {
  return feedback.status === "error" && isBusyReason(feedback.extraInfo);
}

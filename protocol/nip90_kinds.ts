/**
 * NIP-90's kind numbers: job requests (5000-5999), results (request kind + 1000) and feedback
 * (7000). Apart from protocol/nip90_job.ts, which loads NIP-44 encryption, so that naming a
 * job's kind loads nothing more (docs/SCALE.md "A command's start").
 *
 * @module
 */

/** Kind of job feedback events. */
export const JOB_FEEDBACK_KIND = 7000;
/** First and last job request kinds; a request's result is its kind + 1000. */
export const JOB_REQUEST_KINDS = { first: 5000, last: 5999 } as const;
/** Offset from a request kind to its result kind. */
export const JOB_RESULT_OFFSET = 1000;

/**
 * True for a NIP-90 job request kind (5000-5999).
 *
 * @example
 * ```ts
 * import { isJobRequestKind } from "./nip90_kinds.ts";
 *
 * isJobRequestKind(5600); // true
 * isJobRequestKind(6600); // false
 * ```
 */
export function isJobRequestKind(kind: number): boolean {
  return Number.isInteger(kind) && kind >= JOB_REQUEST_KINDS.first &&
    kind <= JOB_REQUEST_KINDS.last;
}

/**
 * True for a NIP-90 job result kind (6000-6999).
 *
 * @example
 * ```ts
 * import { isJobResultKind } from "./nip90_kinds.ts";
 *
 * isJobResultKind(6600); // true
 * ```
 */
export function isJobResultKind(kind: number): boolean {
  return isJobRequestKind(kind - JOB_RESULT_OFFSET);
}

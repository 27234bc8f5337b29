/**
 * A running provider's counters (`ProviderNode.counters`, mirrored in its status file): jobs
 * admitted, paid, published, ended in error or cancelled, what they earned, and requests dropped
 * by reason.
 *
 * @module
 */
import type { AdmissionDropReason } from "./jobs/job_admission.ts";
import type { UnpaidDropReason } from "./payments/unpaid_pool.ts";

/** Why a request was dropped or an invoice withdrawn, as the counters name it. */
export type ProviderDropReason = AdmissionDropReason | UnpaidDropReason;

/** Counters of a running node. */
export interface ProviderCounters {
  admitted: number;
  paid: number;
  published: number;
  errors: number;
  cancelled: number;
  earned: bigint;
  dropped: Partial<Record<ProviderDropReason, number>>;
}

/**
 * Counters at zero, for a node starting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newProviderCounters } from "./provider_counters.ts";
 *
 * const counters = newProviderCounters();
 * counters.admitted++;
 * assert.equal(counters.admitted, 1);
 * ```
 */
export function newProviderCounters(): ProviderCounters {
  return { admitted: 0, paid: 0, published: 0, errors: 0, cancelled: 0, earned: 0n, dropped: {} };
}

/**
 * Counts one drop for `reason`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countDrop, newProviderCounters } from "./provider_counters.ts";
 *
 * const counters = newProviderCounters();
 * countDrop(counters, "late-payment");
 * assert.equal(counters.dropped["late-payment"], 1);
 * ```
 */
export function countDrop(counters: ProviderCounters, reason: ProviderDropReason): void {
  counters.dropped[reason] = (counters.dropped[reason] ?? 0) + 1;
}

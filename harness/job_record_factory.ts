/**
 * Builds valid requester job records for tests and benchmarks.
 *
 * @module
 */
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";

/**
 * A valid job record with a deterministic id from `n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeJobRecord } from "./job_record_factory.ts";
 *
 * const job = makeJobRecord(1, { status: "sent" });
 * assert.deepEqual([job.id, job.status], ["0".repeat(63) + "1", "sent"]);
 * ```
 */
export function makeJobRecord(
  n: number,
  overrides: Partial<RequesterJobRecord> = {},
): RequesterJobRecord {
  return {
    id: n.toString(16).padStart(64, "0"),
    kind: 5100,
    skill: "summarize",
    status: "pending-send",
    createdAtMs: 1_762_300_000_000 + n,
    updatedAtMs: 1_762_300_000_000 + n,
    bid: 5000n,
    payments: [],
    ...overrides,
  };
}

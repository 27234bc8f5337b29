/**
 * What `turnpike dash` shows when a job is opened: its record, its remote worker as the Witness
 * last saw it (docs/AGENTS.md "The Witness"), its result's content (as kept in the state dir)
 * and the logs and artifacts the result points at (`job results --save` fetches them).
 *
 * @module
 */
import { blobOutputsOf, type JobBlobOutput } from "../protocol/job_blobs.ts";
import { readStoredResult } from "../state/jobs/stored_result.ts";
import type { DashJob } from "./dash_model.ts";
import { readWitnessBook, type WitnessWorker, workerOf } from "../roles/requester/witness_book.ts";

/** An opened job. */
export interface JobDetail {
  job: DashJob;
  /** The result's content; undefined before a result arrived. */
  content?: string;
  /** Blobs the result names: logs, artifacts. */
  logs: JobBlobOutput[];
  /** Its remote worker (alive, stalled, slung again...), when the Witness saw it. */
  worker?: WitnessWorker;
}

/**
 * Reads an opened job's result and logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJobDetail } from "./dash_job_detail.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no result kept yet
 * const record = {
 *   id: "ab".repeat(32), kind: 5600, skill: "none", status: "sent" as const, createdAtMs: 0,
 *   updatedAtMs: 0, payments: [],
 * };
 * const detail = await readJobDetail(stateDir, { record, phase: "posted", cost: "", receipts: 0 });
 * assert.equal(detail.content, undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readJobDetail(stateDir: string, job: DashJob): Promise<JobDetail> {
  const book = await readWitnessBook(stateDir).catch(() => undefined);
  const worker = book && workerOf(book, job.record.id);
  const seen = worker ? { worker } : {};
  const result = await readStoredResult(stateDir, job.record.id).catch(() => undefined);
  if (result === undefined) return { job, logs: [], ...seen };
  return { job, content: result.content, logs: blobOutputsOf(result.event.tags), ...seen };
}

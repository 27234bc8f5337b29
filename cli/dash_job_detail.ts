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
 * declare const stateDir: string;
 * declare const view: { jobs: Parameters<typeof readJobDetail>[1][] };
 * const detail = await readJobDetail(stateDir, view.jobs[0]);
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

/**
 * What the requester's payer (`job_payer.ts`) does to a job's record while it pays: the
 * requester's follower (`job_follower.ts`) does it.
 *
 * @module
 */
import type { JobWriteOptions } from "../../state/jobs/job_repository.ts";
import type { JobStatus, RequesterJobRecord } from "../../state/jobs/job_record.ts";

/** What the payer does to a job's record while it pays (the requester's follower does it). */
export interface PayerJobs {
  /** Moves a job forward (never backwards); `quiet`: no progress line. */
  advance(
    id: string,
    status: JobStatus,
    options?: { quiet?: boolean; current?: RequesterJobRecord },
  ): Promise<RequesterJobRecord>;
  /** Writes a change to the job's record. */
  update(
    id: string,
    change: (current: RequesterJobRecord) => RequesterJobRecord,
    options?: JobWriteOptions,
  ): Promise<RequesterJobRecord>;
  /** Ends a job (its callback run, its waiters told). */
  finish(
    id: string,
    status: JobStatus,
    detail: { error?: string },
  ): Promise<RequesterJobRecord>;
  /** Aborted once the job's end (a cancel, the timeout) is queued: no payment is sent then. */
  endSignal(id: string): AbortSignal;
  /** A progress line. */
  progress(jobId: string, status: JobStatus, detail?: string, more?: { paid?: string }): void;
}

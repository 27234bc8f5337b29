/**
 * What the requester refuses about a job: {@linkcode RequesterJobError} (an unknown job, too
 * many identical jobs at once...) and {@linkcode JobEndedError}, a cancel of a job that has
 * ended (docs/AGENTS.md "Cancelling a job").
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/**
 * The requester refused something about a job (unknown job, terminal job...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequesterJobError } from "./requester_job_error.ts";
 *
 * const err = new RequesterJobError("no job 1234");
 * assert.deepEqual([err.name, err.message], ["RequesterJobError", "no job 1234"]);
 * ```
 */
export class RequesterJobError extends RoleError {
  override name = "RequesterJobError";
}

/**
 * A job that has ended (or whose cancel another command is sending) cannot be cancelled again:
 * nothing is sent and nothing paid (docs/AGENTS.md "Cancelling a job").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobEndedError } from "./requester_job_error.ts";
 *
 * const err = new JobEndedError("1234", "done");
 * assert.equal(err.status, "done");
 * ```
 */
export class JobEndedError extends RequesterJobError {
  override name = "JobEndedError";
  /** The job's status on record (its end: `cancelled`, `done`...). */
  readonly status: string;
  /** Says the job and how it ended. */
  constructor(id: string, status: string) {
    super(`job ${id} is already ${status}: no deletion sent, nothing paid`);
    this.status = status;
  }
}

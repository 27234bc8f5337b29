/**
 * The errors of `state/jobs/job_repository.ts`, which re-exports them: apart from it, since that module
 * is at its size limit (tests/unit/project/module_size_test.ts).
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/** `create` of a job id that exists. */
export class JobExistsError extends StateError {
  override name = "JobExistsError";
}

/** `update` of a job id that does not exist. */
export class JobNotFoundError extends StateError {
  override name = "JobNotFoundError";
}

/** A job id prefix that is not hex, too short, or matches no job or several. */
export class JobIdPrefixError extends StateError {
  override name = "JobIdPrefixError";
  /** The ids it matched (none, or the first few of several). */
  constructor(message: string, readonly matches: string[]) {
    super(message);
  }
}

/**
 * The job index is missing or damaged in a state dir whose records are its rows
 * (`jobs/RECORDS_IN_INDEX.txt` says so), and it cannot be rebuilt here: opened by a reader, or
 * without an audit trail, or one with no commit (`state/jobs/job_index_recovery.ts`; its message
 * says what to do). Never rebuilt from the old files beside it.
 */
export class JobIndexLostError extends StateError {
  override name = "JobIndexLostError";
}

/**
 * The job commands' errors as the CLI says them (cli/cli_error_map.ts): the requester's, the
 * town's, the channels' and the blobs' classes, named by their `name` with their subclasses, so
 * that `job submit`, which only calls the profile's node, loads none of the modules that define
 * them (docs/SCALE.md "A command's start"); the profile's node maps its own errors with them
 * (requester_command.ts).
 *
 * @module
 */
import { CLI_ERRORS, type ErrorCase, errorCase, toCliError } from "./cli_error_map.ts";
import type { JobNotPostedError } from "../roles/requester/town_down.ts";

/**
 * What the job commands meet, first match first, each said as CLI_ERRORS says: each class with
 * its subclasses (tests/unit/cli/cli_error_cases_test.ts checks them against the source).
 */
const JOB_ERROR_CASES: readonly ErrorCase[] = [
  errorCase("NodeStoppingError", CLI_ERRORS.nodeStopping),
  errorCase("RequesterBusyError", CLI_ERRORS.requesterBusy),
  errorCase("JobEndedError", CLI_ERRORS.jobEnded),
  errorCase(["RequesterJobError", "JobEndedError"], CLI_ERRORS.noJob),
  errorCase("TownRejectedError", CLI_ERRORS.townRejected),
  errorCase(["ChannelSenderError", "ChannelNotOpenError"], CLI_ERRORS.channelCannotPay),
  errorCase("PriceAboveCeilingError", CLI_ERRORS.priceAboveCeiling),
  errorCase("ClaimBeyondDepositError", CLI_ERRORS.channelUsedUp),
  errorCase("AutoChannelError", CLI_ERRORS.autoChannelFailed),
  errorCase("BlobPublishError", CLI_ERRORS.blobNotPublished),
  errorCase("BlossomError", CLI_ERRORS.blobUploadRefused),
  errorCase(
    ["BtpConnectionError", "BtpConnectionLostError", "BtpTimeoutError"],
    CLI_ERRORS.townSilent,
  ),
  errorCase(
    ["TownUnreachableError", "JobNotPostedError"],
    (e) =>
      CLI_ERRORS.townUnreachable(
        e,
        e.name === "JobNotPostedError" ? (e as JobNotPostedError).jobId : undefined,
      ),
  ),
];

/**
 * Maps requester errors to CLI errors (town rejects with their code and a suggestion).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asCliError } from "./job_errors.ts";
 *
 * const other = new Error("disk full"); // not a job error: passed on as it was
 * assert.equal(asCliError(other), other);
 * ```
 */
export function asCliError(err: unknown): unknown {
  return toCliError(err, JOB_ERROR_CASES);
}

/**
 * Exit codes of the `turnpike` command, documented in docs/AGENTS.md ("Exit codes") from
 * `error_codes.ts`.
 *
 * @module
 */

/** Every exit code `turnpike` uses. */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** The command ran and failed (network, state, a rejected payment...). */
  Failure: 1,
  /** Bad usage: unknown command, bad flag, bad option value. */
  Usage: 2,
  /** The job is done but its report's verdict is a failure (tests failed, build failed). */
  Verdict: 3,
  /** Interrupted by the user (SIGINT). */
  Interrupted: 130,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

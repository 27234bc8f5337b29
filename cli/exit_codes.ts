/**
 * Exit codes of the `turnpike` command, documented in the README ("Exit codes").
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
  /** Interrupted by the user (SIGINT). */
  Interrupted: 130,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/**
 * Durations as flags take them: `90s`, `30m`, `1h`, `2d` (a bare number is seconds).
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * The seconds a duration flag stands for, or a usage error (exit 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDurationFlag } from "./duration_flag.ts";
 *
 * assert.equal(parseDurationFlag("1h", "--since"), 3600);
 * ```
 */
export function parseDurationFlag(text: string, flag: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (match === null || Number(match[1]) === 0) {
    throw new CliError(`${flag} "${text}" is not a duration`, {
      context: "e.g. 90s, 30m, 1h, 2d",
      exitCode: ExitCode.Usage,
    });
  }
  return Number(match[1]) * UNIT_SECONDS[match[2] === "" ? "s" : match[2]];
}

/**
 * The error a command throws to end with a clear `Error:` line, an optional `Suggestion:` line
 * and a documented exit code.
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";
import { ExitCode, type ExitCodeValue } from "./exit_codes.ts";
import type { ErrorCode } from "./error_codes.ts";
import { terminalText } from "./terminal_text.ts";

/**
 * An error of the cli layer (docs/ARCHITECTURE.md "Errors"): the base of {@linkcode CliError}
 * and of the layer's other error classes, which are not `CliError`s (a command passes those
 * through as they are).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, CliLayerError } from "./cli_error.ts";
 *
 * assert(new CliError("wallet not found") instanceof CliLayerError);
 * ```
 */
export abstract class CliLayerError extends TurnpikeError {}

const CODE_OF_EXIT: Record<number, ErrorCode> = {
  [ExitCode.Failure]: "failed",
  [ExitCode.Usage]: "usage",
  [ExitCode.Interrupted]: "interrupted",
};

/** Options for {@linkcode CliError}. */
export interface CliErrorOptions {
  /** Where it happened or what it was about, shown in parentheses. */
  context?: string;
  /** The next step the user could take. */
  suggestion?: string;
  /** Exit code; default {@linkcode ExitCode.Failure}. */
  exitCode?: ExitCodeValue;
  /**
   * A stable machine-readable code for `--output json` (`timed-out`, `no-job`...); default
   * from the exit code (`failed`, `usage`).
   */
  code?: ErrorCode;
  /** The command already printed its outcome as JSON (a job's result line): print no more. */
  printed?: boolean;
  /** Figures an agent acts on (a price, a balance), as fields of the JSON error object. */
  fields?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * A failure meant for the user of the command line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError } from "./cli_error.ts";
 *
 * const err = new CliError("wallet not found", {
 *   context: "~/.turnpike/default",
 *   suggestion: "run `turnpike wallet init`",
 * });
 * assert.equal(err.suggestion, "run `turnpike wallet init`");
 * ```
 */
export class CliError extends CliLayerError {
  override name = "CliError";
  context?: string;
  suggestion?: string;
  exitCode: ExitCodeValue;
  /** The documented code (cli/error_codes.ts): `options.code`, else the exit code's. */
  override code: ErrorCode;
  printed: boolean;
  fields?: Record<string, unknown>;
  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.context = options.context;
    this.suggestion = options.suggestion;
    this.exitCode = options.exitCode ?? ExitCode.Failure;
    this.code = options.code ?? CODE_OF_EXIT[this.exitCode] ?? "failed";
    this.printed = options.printed ?? false;
    this.fields = options.fields;
  }
}

/** The `error` object of the json output (docs/AGENTS.md). */
export interface CliErrorJson {
  type: "error";
  code: ErrorCode;
  message: string;
  context?: string;
  suggestion?: string;
  exit: number;
  /** Figures to act on ({@linkcode CliErrorOptions.fields}): `price`, `bid`... */
  [field: string]: unknown;
}

/**
 * Any error as the one JSON object `--output json` prints on stdout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, cliErrorJson } from "./cli_error.ts";
 *
 * assert.deepEqual(cliErrorJson(new CliError("no job ab12", { code: "no-job", exitCode: 2 })), {
 *   type: "error",
 *   code: "no-job",
 *   message: "no job ab12",
 *   exit: 2,
 * });
 * ```
 */
export function cliErrorJson(err: unknown): CliErrorJson {
  const exit = exitCodeOf(err);
  if (err instanceof CliError) {
    return {
      // Figures first: the contract's own keys below always win.
      ...err.fields,
      type: "error",
      code: err.code ?? CODE_OF_EXIT[exit] ?? "failed",
      message: err.message,
      ...(err.context ? { context: err.context } : {}),
      ...(err.suggestion ? { suggestion: err.suggestion } : {}),
      exit,
    };
  }
  const message = err instanceof Error ? `${err.message} (${err.name})` : String(err);
  return { type: "error", code: "internal", message, exit };
}

/**
 * Formats any error as the lines the CLI prints on stderr, control characters escaped
 * (cli/terminal_text.ts): an error's text often quotes what a town or a provider said.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, formatCliError } from "./cli_error.ts";
 *
 * const err = new CliError("no route", { context: "g.town", suggestion: "check the address" });
 * assert.equal(formatCliError(err), "Error: no route (g.town)\nSuggestion: check the address");
 * ```
 */
export function formatCliError(err: unknown): string {
  const shown = (text: string) => terminalText(text, { multiline: true });
  if (err instanceof CliError) {
    const message = shown(err.message);
    const head = err.context ? `Error: ${message} (${shown(err.context)})` : `Error: ${message}`;
    return err.suggestion ? `${head}\nSuggestion: ${shown(err.suggestion)}` : head;
  }
  if (err instanceof Error) return `Error: ${shown(err.message)} (${err.name})`;
  return `Error: ${shown(String(err))}`;
}

/**
 * The exit code for an error: its own for a {@linkcode CliError}, else failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, exitCodeOf } from "./cli_error.ts";
 *
 * assert.equal(exitCodeOf(new CliError("bad flag", { exitCode: 2 })), 2);
 * ```
 */
export function exitCodeOf(err: unknown): ExitCodeValue {
  return err instanceof CliError ? err.exitCode : ExitCode.Failure;
}

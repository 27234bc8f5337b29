/**
 * The options the root command gives every command (`cli/root_command.ts`): `--state-dir`,
 * `--profile`, `--output` (`--json` sets it to json) and `--non-interactive`. A command's own
 * options interface extends {@linkcode GlobalOptions}.
 *
 * @module
 */

/** What `--output` takes. */
export type OutputFormat = "text" | "json" | "csv";

/** The root's options, as a command's `optsWithGlobals()` holds them. */
export interface GlobalOptions {
  /** `--state-dir`: the state directory (default ~/.turnpike/<profile>). */
  stateDir?: string;
  /** `--profile`: the profile name under ~/.turnpike (default "default"). */
  profile?: string;
  /** `--output` (default "text"). */
  output?: OutputFormat;
  /** `--json`: the same as `--output json`. */
  json?: boolean;
  /** `--non-interactive`: never prompt. */
  nonInteractive?: boolean;
}

/**
 * The output format a command's options ask for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outputFormat } from "./global_options.ts";
 *
 * assert.equal(outputFormat({ output: "json" }), "json");
 * ```
 */
export function outputFormat(options: GlobalOptions): OutputFormat {
  return options.json ? "json" : options.output ?? "text";
}

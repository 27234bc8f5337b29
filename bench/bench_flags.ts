/**
 * The flags of a bench script, by `node:util`'s `parseArgs` with `strict: true`: a typo is
 * refused before a long run instead of being ignored.
 *
 * - `--help` or `-h` anywhere: the usage on stdout, exit 0.
 * - An unknown flag or a stray argument: `Error: unknown argument --x` and the usage on stderr,
 *   exit 2.
 * - A value flag with no value (last, or followed by another flag): `Error: --agents wants a
 *   value` on stderr, exit 2; a switch given a value (`--chaos=1`): `Error: --chaos takes no
 *   value` and the usage, exit 2.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Options for {@linkcode parseBenchFlags}. */
export interface BenchFlagsOptions<V extends string, S extends string> {
  /** Flags that take a value (`--agents 30`, `--agents=30`). */
  values: readonly V[];
  /** Flags that take none (`--chaos`). */
  switches: readonly S[];
  /** Printed for `--help` and after an error. */
  usage: string;
}

/** The parsed flags: values as given (a later repeat wins), switches true when given. */
export interface BenchFlags<V extends string, S extends string> {
  /** Each value flag given, as a string. */
  values: Partial<Record<V, string>>;
  /** Each switch given. */
  switches: Partial<Record<S, boolean>>;
}

/**
 * Parses `args`, or prints the usage or an error and exits (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBenchFlags } from "./bench_flags.ts";
 *
 * const flags = parseBenchFlags(["--agents", "4", "--chaos"], {
 *   values: ["agents"],
 *   switches: ["chaos"],
 *   usage: "Usage: deno run -A bench/x.ts [--agents 30] [--chaos]",
 * });
 * assert.equal(flags.values.agents, "4");
 * assert.equal(flags.switches.chaos, true);
 * ```
 */
export function parseBenchFlags<V extends string, S extends string>(
  args: readonly string[],
  options: BenchFlagsOptions<V, S>,
): BenchFlags<V, S> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(options.usage);
    Deno.exit(0);
  }
  const spec: Record<string, { type: "string" | "boolean" }> = {};
  for (const name of options.values) spec[name] = { type: "string" };
  for (const name of options.switches) spec[name] = { type: "boolean" };
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({ args: [...args], options: spec, strict: true }).values;
  } catch (err) {
    console.error(flagError(err, options));
    Deno.exit(2);
  }
  const values: Partial<Record<V, string>> = {};
  const switches: Partial<Record<S, boolean>> = {};
  for (const name of options.values) {
    if (typeof parsed[name] === "string") values[name] = parsed[name];
  }
  for (const name of options.switches) {
    if (parsed[name] === true) switches[name] = true;
  }
  return { values, switches };
}

/** The `Error:` line for a `parseArgs` failure. */
function flagError(err: unknown, options: BenchFlagsOptions<string, string>): string {
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    // `Option '--agents <value>' argument missing`, `Option '--agents' argument is ambiguous`.
    const name = options.values.find((v) =>
      message.includes(`'--${v} <value>'`) || message.includes(`'--${v}'`)
    );
    if (name !== undefined) return `Error: --${name} wants a value`;
    const flag = options.switches.find((v) => message.includes(`'--${v}'`));
    if (flag !== undefined) return `Error: --${flag} takes no value\n${options.usage}`;
  }
  // Unknown option '--x', or Unexpected argument 'x'.
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? message;
  return `Error: unknown argument ${quoted}\n${options.usage}`;
}

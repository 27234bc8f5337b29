/**
 * What the `[agents]` and `[models]` preset tables of a provider's config.toml share
 * (docs/OPERATIONS.md "Agent presets", "Model presets"): every problem of every preset found
 * before one error lists them all, each naming its preset and key, and the upstream's key read
 * from the variable or file the operator names, so it is never written in the config.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import { isRecord } from "../protocol/plain_record.ts";

/**
 * Every problem of a preset table at once: `problems` holds one line each, naming the preset and
 * the key (`[agents.a] budget: ...`); the message is the one line, or all of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PresetTableError } from "./preset_table.ts";
 * import { ConfigError } from "./config_error.ts";
 *
 * const err = new PresetTableError("agents", ["[agents.a] budget: x", "[agents.b] command: y"]);
 * assert.ok(err instanceof ConfigError); // a bad setting: `node up` exits 2
 * assert.equal(err.message, "2 problems in [agents]:\n  [agents.a] budget: x\n  [agents.b] command: y");
 * ```
 */
export class PresetTableError extends ConfigError {
  /** `"PresetTableError"`: explicit so it survives bundling. */
  override name = "PresetTableError";
  /** One line per problem, in the table's order. */
  problems: string[];
  /** `table`: the config's section (`agents`); `problems`: at least one. */
  constructor(table: string, problems: string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} problems in [${table}]:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
    this.problems = problems;
  }
}

/** Options for {@linkcode parsePresetTable}. */
export interface ParsePresetTableOptions<T> {
  /** The config's section, as `[section.<name>]` names it. */
  section: string;
  /**
   * One preset, or undefined; each problem told to `problem`. `where` is `[section.name]`,
   * the prefix of every problem line.
   */
  read: (where: string, name: string, value: unknown, problem: (line: string) => void) =>
    | T
    | undefined;
  /** Entries of the table that are not presets (left out unread). */
  skip?: (name: string, value: unknown) => boolean;
  /** The error that lists the problems; default {@linkcode PresetTableError}. */
  error?: (problems: string[]) => ConfigError;
}

/**
 * The presets of a table (undefined: none), every problem of every preset found before one error
 * lists them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePresetTable, PresetTableError } from "./preset_table.ts";
 *
 * const read = (where: string, _name: string, value: unknown, problem: (l: string) => void) => {
 *   if (typeof value !== "number") problem(`${where}: a number`);
 *   return value as number;
 * };
 * assert.deepEqual(parsePresetTable({ a: 1, b: 2 }, { section: "n", read }), { a: 1, b: 2 });
 * assert.throws(
 *   () => parsePresetTable({ a: "x", b: "y" }, { section: "n", read }),
 *   (err) => err instanceof PresetTableError && err.problems.length === 2,
 * );
 * ```
 */
export function parsePresetTable<T>(
  table: unknown,
  o: ParsePresetTableOptions<T>,
): Record<string, T> {
  if (table === undefined) return {};
  if (!isRecord(table)) throw new ConfigError(`[${o.section}] must be a table of presets`);
  const presets: Record<string, T> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(table)) {
    if (o.skip?.(name, value)) continue;
    const found: string[] = [];
    const preset = o.read(`[${o.section}.${name}]`, name, value, (line) => found.push(line));
    problems.push(...found);
    if (found.length === 0 && preset !== undefined) presets[name] = preset;
  }
  if (problems.length > 0) {
    throw o.error?.(problems) ?? new PresetTableError(o.section, problems);
  }
  return presets;
}

/** Where {@linkcode readPresetApiKey} reads a key from. */
export interface PresetKeySources {
  /** Environment, for `api_key_env`; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Reads `api_key_file`; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

/**
 * A preset's upstream key from its `api_key_env` or `api_key_file` (one of them; `required`: one
 * must be given, else "" when neither is, for a local server that takes none). A missing or empty
 * key is a problem, told to `problem`, and "".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPresetApiKey } from "./preset_table.ts";
 *
 * const problems: string[] = [];
 * const env = (name: string) => name === "KEY" ? " sk-1 \n" : undefined;
 * const read = (value: Record<string, unknown>, required: boolean) =>
 *   readPresetApiKey("[models.a]", value, { env }, (line) => problems.push(line), required);
 * assert.equal(read({ api_key_env: "KEY" }, true), "sk-1");
 * assert.equal(read({}, false), "");
 * assert.equal(read({ api_key_env: "NONE" }, false), "");
 * assert.deepEqual(problems, ["[models.a]: no API key in $NONE"]);
 * ```
 */
export function readPresetApiKey(
  where: string,
  value: Record<string, unknown>,
  sources: PresetKeySources,
  problem: (line: string) => void,
  required: boolean,
): string {
  const variable = value.api_key_env;
  const file = value.api_key_file;
  if (variable === undefined && file === undefined && !required) return "";
  if ((variable === undefined) === (file === undefined)) {
    problem(
      required
        ? `${where}: give one of api_key_env and api_key_file (the upstream's key)`
        : `${where}: give api_key_env or api_key_file, not both`,
    );
    return "";
  }
  let key: string | undefined;
  if (typeof variable === "string") key = (sources.env ?? ((n) => Deno.env.get(n)))(variable);
  else if (typeof file === "string") {
    try {
      key = (sources.readFile ?? ((p) => Deno.readTextFileSync(p)))(file);
    } catch (err) {
      problem(`${where} api_key_file ${file}: ${(err as Error).message}`);
      return "";
    }
  }
  key = key?.trim();
  if (key === undefined || key === "") {
    problem(
      `${where}: no API key in ${typeof variable === "string" ? `$${variable}` : String(file)}`,
    );
    return "";
  }
  return key;
}

/**
 * Edits `<state dir>/config.toml` for the commands that write it (`turnpike init`, `turnpike
 * chain up`): a table's keys are set in place and everything else in the file (other tables,
 * other keys, comments, order) is kept, because the file is the operator's. The result is
 * parsed by config/settings.ts before it is written (atomically, mode 0600: it may hold BTP
 * tokens), so a writer can never leave a file `loadSettings` refuses.
 *
 * Limits: a key is found as `key = value` on its own line inside the table's `[header]` block
 * (a value may span lines while its brackets are open); keys set through dotted keys or inline
 * tables elsewhere are not seen, and the parse check then refuses the duplicate instead of
 * writing it.
 *
 * @module
 */
import { stringify as stringifyToml } from "smol-toml";
import { writeFileAtomic } from "../state/atomic_file.ts";
import { type ConfigFileContent, parseConfigText } from "./settings.ts";

/** Options for {@linkcode setTableKeys}. */
export interface SetTableKeysOptions {
  /** Drop every key the table had before (the table is replaced, its comments kept). */
  replace?: boolean;
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const HEADER = /^\s*\[(?!\[)(.+?)\]\s*(#.*)?$/;
const KEY_LINE = /^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=/;

/**
 * The header line of a table, e.g. `[chains."evm:base:31337"]`.
 *
 * @example
 * ```ts
 * tableHeader(["chains", "evm:base:31337"]); // '[chains."evm:base:31337"]'
 * ```
 */
export function tableHeader(table: readonly string[]): string {
  return `[${table.map((s) => BARE_KEY.test(s) ? s : JSON.stringify(s)).join(".")}]`;
}

/**
 * Sets keys of a table in config.toml text (`table` `[]`: the top level, before the first
 * header): each key's old line (or lines) is removed and the new ones follow the table's header
 * (at the top level: the file's leading comments); a missing table is appended at the end.
 * Tables and arrays of tables are written inline (`addresses = { beta = "0x..." }`,
 * `peers = [{ account = "a", token = "t" }]`), so they stay keys of their table.
 *
 * @example
 * ```ts
 * setTableKeys('# mine\n[channels]\nmax_deposit = "100"\n', ["channels"], {
 *   chains: ["evm:base:31337"],
 * });
 * // '# mine\n[channels]\nchains = [ "evm:base:31337" ]\nmax_deposit = "100"\n'
 * ```
 */
export function setTableKeys(
  text: string,
  table: readonly string[],
  entries: Record<string, unknown>,
  options: SetTableKeysOptions = {},
): string {
  const rendered = Object.entries(entries).map(([k, v]) => renderKey(k, v));
  const lines = text === "" ? [] : text.split("\n");
  let start: number;
  if (table.length === 0) {
    start = -1;
    while (start + 1 < lines.length && /^\s*#/.test(lines[start + 1])) start++;
  } else {
    start = lines.findIndex((l) => samePath(headerPath(l), table));
    if (start === -1) {
      const sep = text === "" || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
      return `${text}${sep}${tableHeader(table)}\n${rendered.join("\n")}\n`;
    }
  }
  let end = start + 1;
  while (end < lines.length && headerPath(lines[end]) === undefined && !isArrayHeader(lines[end])) {
    end++;
  }
  const kept: string[] = [];
  for (let i = start + 1; i < end; i++) {
    const key = keyOf(lines[i]);
    if (key === undefined) {
      kept.push(lines[i]);
      continue;
    }
    const last = valueEnd(lines, i, end);
    if (!options.replace && !(key in entries)) kept.push(...lines.slice(i, last + 1));
    i = last;
  }
  const tail = lines.slice(end);
  // A new top-level block stays apart from the first table.
  if (table.length === 0 && kept.length === 0 && tail.length > 0) kept.push("");
  const out = [...lines.slice(0, start + 1), ...rendered, ...kept, ...tail].join("\n");
  return out.endsWith("\n") ? out : `${out}\n`;
}

function renderKey(key: string, value: unknown): string {
  const name = BARE_KEY.test(key) ? key : JSON.stringify(key);
  if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
    return `${name} = [${value.map(inlineTable).join(", ")}]`;
  }
  // A table as a value stays a key of its table (an inline table): smol-toml would write a
  // `[key]` header, which would make it a top-level table and move every key after it there.
  if (isPlainObject(value)) return `${name} = ${inlineTable(value)}`;
  return stringifyToml({ [key]: value }).trim();
}

function inlineTable(value: Record<string, unknown>): string {
  return `{ ${Object.entries(value).map(([k, v]) => renderKey(k, v)).join(", ")} }`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Reads config.toml (absent: empty), applies `edit` to its text (with the current content
 * parsed), checks the result parses as settings, and writes it atomically with mode 0600.
 * Returns the parsed result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { editConfigFile, setTableKeys } from "./config_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * await editConfigFile(`${stateDir}/config.toml`, (text) =>
 *   setTableKeys(text, ["channels"], { chains: ["evm:base:31337"] }));
 * const text = await Deno.readTextFile(`${stateDir}/config.toml`);
 * await Deno.remove(stateDir, { recursive: true });
 * assert.match(text, /chains = \[ "evm:base:31337" \]/);
 * ```
 * @throws {ConfigError} when the file or the edited text is not a valid config (nothing is
 * written).
 */
export async function editConfigFile(
  path: string,
  edit: (text: string, current: ConfigFileContent) => string,
): Promise<ConfigFileContent> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const next = edit(text, parseConfigText(text, path));
  const parsed = parseConfigText(next, path);
  await writeFileAtomic(path, next, { mode: 0o600 });
  return parsed;
}

function headerPath(line: string): string[] | undefined {
  const m = HEADER.exec(line);
  if (!m) return undefined;
  const path: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*(\.|$)/y;
  let match: RegExpExecArray | null;
  while (re.lastIndex < m[1].length && (match = re.exec(m[1])) !== null) {
    path.push(match[1].startsWith('"') ? JSON.parse(match[1]) : match[1]);
  }
  return path.length > 0 ? path : undefined;
}

function isArrayHeader(line: string): boolean {
  return /^\s*\[\[/.test(line);
}

function samePath(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((s, i) => s === b[i]);
}

function keyOf(line: string): string | undefined {
  const m = KEY_LINE.exec(line);
  if (!m) return undefined;
  return m[1].startsWith('"') ? JSON.parse(m[1]) : m[1];
}

/** The last line of the value starting at `lines[i]`: brackets opened there must close. */
function valueEnd(lines: readonly string[], i: number, end: number): number {
  let depth = 0;
  for (let j = i; j < end; j++) {
    depth += bracketBalance(j === i ? lines[j].slice(lines[j].indexOf("=") + 1) : lines[j]);
    if (depth <= 0) return j;
  }
  return end - 1;
}

function bracketBalance(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (quote) {
      if (c === "\\" && quote === '"') k++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") break;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
  }
  return depth;
}

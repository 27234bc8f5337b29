/**
 * One line of the CLI's `--output json` stdout (docs/AGENTS.md, "Driving turnpike from a program"): one JSON
 * object per line, each with a `type` naming what it is. Every command that prints JSON on
 * stdout goes through {@linkcode printJsonLine}, so no command prints an array, an indented
 * object over several lines, or an object without its `type`.
 *
 * @module
 */

/** An object as printed: its `type` first, then its fields. */
export type JsonLine = { type: string } & Record<string, unknown>;

/**
 * The line for `fields` as type `type`: one line of JSON, `type` first (a field named `type` in
 * `fields` is overwritten), bigints as decimal strings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonLine } from "./json_line.ts";
 *
 * assert.equal(
 *   jsonLine("channel", { channelId: "0x01", deposit: 5n }),
 *   '{"type":"channel","channelId":"0x01","deposit":"5"}',
 * );
 * ```
 */
export function jsonLine(type: string, fields: object = {}): string {
  const { type: _replaced, ...rest } = fields as Record<string, unknown>;
  return jsonText({ type, ...rest });
}

// DEL and C1 (U+007F-U+009F): `JSON.stringify` escapes C0 only, and a terminal may take U+009B
// for CSI. They can only stand inside a JSON string, where `\u00XX` means the same character.
const UNESCAPED_CONTROLS = /[\u007f-\u009f]/g;

/**
 * `value` as one line of JSON, bigints as decimal strings, every control character escaped
 * (C0 by `JSON.stringify`, DEL and C1 here): text from the network in it cannot drive the
 * terminal the line is printed on (cli/terminal_text.ts for text output), and a JSON reader
 * gets the same strings back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonText } from "./json_line.ts";
 *
 * assert(jsonText({ name: "\x1b]0;x\x07\u009b2J", n: 5n }) ===
 *   '{"name":"\\u001b]0;x\\u0007\\u009b2J","n":"5"}');
 * ```
 */
export function jsonText(value: unknown): string {
  return escapeJsonControls(
    JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v) ?? "null",
  );
}

/**
 * `json` (as `JSON.stringify` wrote it, on one line or several) with DEL and C1 written as
 * `\u00XX` escapes: the same JSON value, nothing in it a terminal would act on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeJsonControls } from "./json_line.ts";
 *
 * assert(escapeJsonControls(JSON.stringify(["\u009b"])) === '["\\u009b"]');
 * ```
 */
export function escapeJsonControls(json: string): string {
  return json.replace(
    UNESCAPED_CONTROLS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Prints {@linkcode jsonLine} on stdout.
 *
 * @example
 * ```ts
 * import { printJsonLine } from "./json_line.ts";
 *
 * printJsonLine("job", { id: "9f2c", status: "sent" }); // {"type":"job","id":"9f2c","status":"sent"}
 * ```
 */
export function printJsonLine(type: string, fields: object = {}): void {
  console.log(jsonLine(type, fields));
}

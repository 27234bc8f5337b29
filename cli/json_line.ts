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
 * import { jsonLine } from "./json_line.ts";
 *
 * jsonLine("channel", { channelId: "0x01", deposit: 5n }); // '{"type":"channel","channelId":"0x01","deposit":"5"}'
 * ```
 */
export function jsonLine(type: string, fields: object = {}): string {
  const { type: _replaced, ...rest } = fields as Record<string, unknown>;
  return JSON.stringify(
    { type, ...rest },
    (_k, v) => typeof v === "bigint" ? v.toString() : v,
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

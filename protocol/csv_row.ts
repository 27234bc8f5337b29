/**
 * One CSV row (RFC 4180): every CSV the CLI prints and the payment log exports is written with
 * this, so a comma, quote, CR or LF in a field is quoted the same way everywhere.
 *
 * Written by hand: the quoting rule is one line, and the maintained writer (`@std/csv`) is on JSR,
 * which the machines this project installs on do not reach (they have the npm registry only).
 *
 * @module
 */

/** A field value as the CSV writers take it; `undefined` and `null` are empty fields. */
export type CsvValue = string | number | bigint | boolean | null | undefined;

// Controls a CSV has no use for (C0 but tab, CR and LF; DEL; C1): a CSV is read on terminals
// too, and a field may be a town's or a provider's text, so an escape sequence in it is written
// as visible text (`\x1b`, `\u{9b}`), as the CLI's text output does (cli/terminal_text.ts).
// deno-lint-ignore no-control-regex
const STRAY_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/**
 * One field, quoted when it holds a comma, a double quote, a CR or an LF (quotes doubled);
 * other control characters written as visible escapes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvField } from "./csv_row.ts";
 * assert(csvField('say "hi", then go') === '"say ""hi"", then go"');
 * assert(csvField(12) === "12");
 * assert(csvField("\x1b]0;x\x07") === "\\x1b]0;x\\x07");
 * ```
 */
export function csvField(value: CsvValue): string {
  const s = (value === undefined || value === null ? "" : String(value)).replace(
    STRAY_CONTROLS,
    (c) => {
      const code = c.charCodeAt(0);
      return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
    },
  );
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * One row: the fields quoted as {@linkcode csvField} does, joined by commas (no line ending).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvRow } from "./csv_row.ts";
 * assert(csvRow(["a,b", 1, undefined]) === '"a,b",1,');
 * ```
 */
export function csvRow(values: readonly CsvValue[]): string {
  return values.map(csvField).join(",");
}

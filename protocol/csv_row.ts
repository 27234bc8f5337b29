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

/**
 * One field, quoted when it holds a comma, a double quote, a CR or an LF (quotes doubled).
 *
 * @example
 * ```ts
 * import { csvField } from "./csv_row.ts";
 * console.assert(csvField('say "hi", then go') === '"say ""hi"", then go"');
 * console.assert(csvField(12) === "12");
 * ```
 */
export function csvField(value: CsvValue): string {
  const s = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * One row: the fields quoted as {@linkcode csvField} does, joined by commas (no line ending).
 *
 * @example
 * ```ts
 * import { csvRow } from "./csv_row.ts";
 * console.assert(csvRow(["a,b", 1, undefined]) === '"a,b",1,');
 * ```
 */
export function csvRow(values: readonly CsvValue[]): string {
  return values.map(csvField).join(",");
}

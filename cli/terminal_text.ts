/**
 * Text from the network made safe to print on a terminal: a provider's feedback, a result, an
 * error text or a name may carry escape sequences (clear the screen, set the window title, move
 * the cursor, hyperlinks) that a terminal would run. Every C0 and C1 control character, and DEL,
 * is shown as visible text instead (`\x1b`, `\u{9b}`); only a multi-line text (a result, a
 * message, a log) keeps its newlines and tabs. So are the invisible characters that reorder or hide
 * text (the bidi embeddings, overrides and isolates, the zero-width space and directional marks,
 * the byte-order mark): a memo or a name could otherwise show one thing in a prompt and be another. JSON output goes through `jsonText`
 * (cli/json_line.ts), which escapes the controls `JSON.stringify` leaves (DEL and C1).
 *
 * @module
 */

/** Options for {@linkcode terminalText}. */
export interface TerminalTextOptions {
  /**
   * Keep newlines and tabs (a result, a log): true. A one-line field (a name, a status, an error
   * line): false, the default.
   */
  multiline?: boolean;
}

// C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F): matching them is the point. Then
// the zero-width space and the directional marks (U+200B, U+200E, U+200F; not the joiners U+200C
// and U+200D, which scripts and emoji need), the bidi embeddings and overrides
// (U+202A-U+202E), the isolates (U+2066-U+2069) and the byte-order mark (U+FEFF).
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * `text` with its control characters escaped as visible text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { terminalText } from "./terminal_text.ts";
 *
 * assert(terminalText("\x1b[2Jhi\x07") === "\\x1b[2Jhi\\x07");
 * assert(terminalText("a\tb\nc") === "a\\x09b\\x0ac");
 * assert(terminalText("a\tb\r\n", { multiline: true }) === "a\tb\\x0d\n");
 * assert(terminalText("\u009b31m") === "\\u{9b}31m");
 * assert(terminalText("pay \u202eevil") === "pay \\u{202e}evil");
 * ```
 */
export function terminalText(text: string, options: TerminalTextOptions = {}): string {
  return text.replace(CONTROLS, (c) => {
    if ((c === "\n" || c === "\t") && options.multiline) return c;
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

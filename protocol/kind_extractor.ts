/**
 * Shallow kind extraction: reads `kind`, `id`, `pubkey`, `created_at` and the `e`/`p` tag values
 * straight from the TOON text of a Nostr event, without building the event or checking its
 * signature.
 *
 * Hand-written on purpose: no TOON library offers a partial parse, and a full decode costs
 * tens of times more. The scanner follows the grammar of `@toon-format/toon` 4.x in strict mode
 * (the decoder `decodeEventToon` uses) for the forms an event can take, and rejects everything
 * else with a {@linkcode ToonShallowParseError}; it never guesses. Only zero-indent lines are
 * keys; indented lines are read only inside the `tags` block, so `kind:` text inside content or
 * tag values cannot fool it. The one part it does not fully validate is the `content` string
 * (it checks the quoting, not every escape), which the full decoder does.
 *
 * Two paths, one answer: {@linkcode extractCanonicalSummary} reads the layout our encoder
 * writes (~1M+ events/s) and returns null on anything else, and {@linkcode extractSummaryGeneral}
 * handles every form and owns every error reason. The fuzz tests check they agree.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { NostrEvent } from "./nostr_event.ts";

/** What the shallow scan yields. */
export interface ToonSummary {
  /** Event kind, integer 0-65535. */
  kind: number;
  /** Event id, 64 lowercase hex chars (shape checked, hash not verified). */
  id: string;
  /** Author's public key, 64 lowercase hex chars (shape checked, signature not verified). */
  pubkey: string;
  /** Unix seconds, as claimed by the author. */
  created_at: number;
  /** Second element of every `e` tag that has one, in order. */
  e: string[];
  /** Second element of every `p` tag that has one, in order. */
  p: string[];
}

/** Options for {@linkcode extractSummary}. */
export interface ExtractSummaryOptions {
  /** Largest input accepted, in UTF-16 code units (never more than its UTF-8 bytes). */
  maxBytes?: number;
}

/** Default size limit of a TOON event: 1 MiB, the town's limit. */
export const DEFAULT_MAX_TOON_BYTES = 1024 * 1024;
/** Largest event kind (NIP-01 kinds are 16-bit). */
export const MAX_EVENT_KIND = 65535;

/** TOON text the shallow scanner rejects; `reason` is machine-readable, `line` 1-based (0: whole input). */
export class ToonShallowParseError extends ProtocolError {
  override name = "ToonShallowParseError";
  /** e.g. `missing-key:kind`, `duplicate-key:id`, `bad-kind`, `bad-hex:pubkey`, `tag-count`. */
  reason: string;
  /** 1-based line where the problem is; 0 when it concerns the whole input. */
  line: number;
  /** Appends `detail` and the line number to `reason` in the message. */
  constructor(reason: string, line: number, detail?: string) {
    super(`${reason}${detail ? `: ${detail}` : ""} (line ${line})`);
    this.reason = reason;
    this.line = line;
  }
}

/**
 * True for an integer event kind in 0..65535.
 *
 * @example
 * ```ts
 * isEventKind(7000); // true
 * ```
 */
export function isEventKind(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= MAX_EVENT_KIND;
}

/**
 * True for a non-negative safe-integer timestamp.
 *
 * @example
 * ```ts
 * isCreatedAt(1700000000); // true
 * ```
 */
export function isCreatedAt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * True for a string of exactly `length` lowercase hex digits.
 *
 * @example
 * ```ts
 * isLowerHex("ab".repeat(32), 64); // true
 * ```
 */
export function isLowerHex(value: unknown, length: number): value is string {
  if (typeof value !== "string" || value.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * The summary of an already decoded event, by the same rule the scanner uses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 7000, tags: [["e", "ab".repeat(32)]], content: "", sig: "ef".repeat(64) };
 * assert.deepEqual(summarizeEvent(event).e, ["ab".repeat(32)]);
 * ```
 */
export function summarizeEvent(event: NostrEvent): ToonSummary {
  const e: string[] = [];
  const p: string[] = [];
  for (const tag of event.tags) {
    if (tag.length < 2) continue;
    if (tag[0] === "e") e.push(tag[1]);
    else if (tag[0] === "p") p.push(tag[1]);
  }
  return {
    kind: event.kind,
    id: event.id,
    pubkey: event.pubkey,
    created_at: event.created_at,
    e,
    p,
  };
}

const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const HASH = 35;
const BRACKET_OPEN = 91;
const BRACKET_CLOSE = 93;
const BRACE_OPEN = 123;
// Same pattern as the TOON decoder's numeric literal: such a token is a number, not a string.
const NUMERIC_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:e[+-]?\d+)?$/i;

const KEY_BIT: Record<string, number> = {
  id: 1,
  pubkey: 2,
  created_at: 4,
  kind: 8,
  tags: 16,
  content: 32,
  sig: 64,
};
const ALL_KEYS = 127;

/** Walks the lines of one TOON document, skipping comments and blank lines (but noting blanks). */
class LineCursor {
  text: string;
  /** Start of the next raw line. */
  next: number;
  lineNo = 0;
  /** Content of the current line: [start, end), indentation and trailing spaces removed. */
  start = 0;
  end = 0;
  indent = 0;
  /** A blank line was skipped before the current line. */
  blankBefore = false;
  /** The current line is loaded but not consumed (peek). */
  held = false;
  done = false;

  constructor(text: string) {
    this.text = text;
    // The TOON decoder drops a byte order mark at the very start.
    this.next = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  }

  /** Loads the next content line (or keeps the held one); false at the end. */
  peek(): boolean {
    if (this.held) return true;
    const text = this.text;
    this.blankBefore = false;
    while (this.next <= text.length) {
      const pos = this.next;
      let nl = text.indexOf("\n", pos);
      if (nl === -1) nl = text.length;
      this.next = nl + 1;
      this.lineNo++;
      let lineEnd = nl;
      if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      let i = pos;
      while (i < lineEnd && text.charCodeAt(i) === SPACE) i++;
      let e = lineEnd;
      while (e > i && text.charCodeAt(e - 1) === SPACE) e--;
      if (i < e && text.charCodeAt(i) === TAB) {
        throw new ToonShallowParseError("bad-indent", this.lineNo, "tab in indentation");
      }
      if (i === e) {
        this.blankBefore = true;
        continue;
      }
      if (text.charCodeAt(i) === HASH) continue; // a TOON comment line
      const indent = i - pos;
      if (indent % 2 !== 0) {
        throw new ToonShallowParseError("bad-indent", this.lineNo, `${indent} spaces`);
      }
      this.start = i;
      this.end = e;
      this.indent = indent;
      this.held = true;
      return true;
    }
    this.done = true;
    return false;
  }

  consume(): void {
    this.held = false;
  }
}

/**
 * Reads the summary fields from the TOON text of one event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon } from "./toon_codec.ts";
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 6050, tags: [["e", "ab".repeat(32)]], content: "ILP is...", sig: "ef".repeat(64) };
 * const s = extractSummary(encodeEventToon(event)); // the content is not decoded
 * assert.deepEqual([s.kind, s.e[0]], [6050, "ab".repeat(32)]); // a result for that job
 * ```
 */
export function extractSummary(toon: string, options: ExtractSummaryOptions = {}): ToonSummary {
  const max = options.maxBytes ?? DEFAULT_MAX_TOON_BYTES;
  if (toon.length > max) {
    throw new ToonShallowParseError("too-large", 0, `${toon.length} > ${max}`);
  }
  return extractCanonicalSummary(toon) ?? extractSummaryGeneral(toon);
}

/**
 * The general scanner alone (every form TOON allows, precise errors), without the size check
 * or the fast path for the canonical layout; {@linkcode extractSummary} falls back to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const s = extractSummaryGeneral(`kind: 7000\nid: ${"ab".repeat(32)}\npubkey: ${"cd".repeat(32)}\ncreated_at: 1700000000\ntags[0]:\ncontent: ""\nsig: ${"ef".repeat(64)}`);
 * assert.deepEqual([s.kind, s.created_at], [7000, 1700000000]); // in any key order
 * ```
 */
export function extractSummaryGeneral(toon: string): ToonSummary {
  const cur = new LineCursor(toon);
  const out: ToonSummary = { kind: -1, id: "", pubkey: "", created_at: -1, e: [], p: [] };
  let seen = 0;
  while (cur.peek()) {
    cur.consume();
    if (cur.indent !== 0) {
      throw new ToonShallowParseError("bad-indent", cur.lineNo, "indented line outside tags");
    }
    seen = readTopLevelLine(cur, out, seen);
  }
  if (seen !== ALL_KEYS) {
    for (const key in KEY_BIT) {
      if ((seen & KEY_BIT[key]) === 0) throw new ToonShallowParseError(`missing-key:${key}`, 0);
    }
  }
  return out;
}

function readTopLevelLine(cur: LineCursor, out: ToonSummary, seen: number): number {
  const text = cur.text;
  const start = cur.start;
  const end = cur.end;
  const line = cur.lineNo;
  let key: string;
  let afterKey: number; // index just past the ':' of a key-value line
  let bracket = -1; // '[' of an array header
  if (text.charCodeAt(start) === QUOTE) {
    const close = findClosingQuote(text, start, end);
    if (close === -1) throw new ToonShallowParseError("syntax", line, "unterminated quoted key");
    key = unescapeToon(text, start + 1, close, line);
    if (text.charCodeAt(close + 1) === BRACKET_OPEN) {
      bracket = close + 1;
      afterKey = -1;
    } else {
      let i = close + 1;
      while (text.charCodeAt(i) === SPACE) i++;
      if (i >= end || text.charCodeAt(i) !== COLON) {
        throw new ToonShallowParseError("syntax", line, "missing colon after key");
      }
      afterKey = i + 1;
    }
  } else {
    // First unquoted ':' or '[' decides between `key: value` and `key[N]:` (as the decoder does).
    const stop = findUnquoted(text, start, end, COLON, BRACKET_OPEN);
    if (stop === -1) throw new ToonShallowParseError("syntax", line, "missing colon");
    if (text.charCodeAt(stop) === BRACKET_OPEN) {
      bracket = stop;
      afterKey = -1;
      const before = text.charCodeAt(stop - 1);
      if (stop === start || before === SPACE || before === TAB) {
        throw new ToonShallowParseError("syntax", line, "bad array header key");
      }
      key = text.slice(start, stop);
    } else {
      afterKey = stop + 1;
      key = trimSpaces(text.slice(start, stop));
    }
  }
  const bit = Object.hasOwn(KEY_BIT, key) ? KEY_BIT[key] : 0;
  if (bit === 0) {
    throw new ToonShallowParseError(`unknown-key:${key.slice(0, 40)}`, line);
  }
  if ((seen & bit) !== 0) throw new ToonShallowParseError(`duplicate-key:${key}`, line);
  if (bracket !== -1) {
    if (key !== "tags") throw new ToonShallowParseError(`bad-shape:${key}`, line, "array");
    readTagsBlock(cur, bracket, out);
    return seen | bit;
  }
  let v = afterKey;
  while (v < end && text.charCodeAt(v) === SPACE) v++;
  if (v === end) throw new ToonShallowParseError(`bad-shape:${key}`, line, "object");
  const isEmptyArray = end - v === 2 && text.charCodeAt(v) === BRACKET_OPEN &&
    text.charCodeAt(v + 1) === BRACKET_CLOSE;
  switch (key) {
    case "kind": {
      const n = readNumber(text, v, end);
      if (!isEventKind(n)) throw new ToonShallowParseError("bad-kind", line, text.slice(v, end));
      out.kind = n;
      break;
    }
    case "created_at": {
      const n = readNumber(text, v, end);
      if (!isCreatedAt(n)) throw new ToonShallowParseError("bad-created_at", line);
      out.created_at = n;
      break;
    }
    case "id":
      out.id = readHex(text, v, end, 64, key, line);
      break;
    case "pubkey":
      out.pubkey = readHex(text, v, end, 64, key, line);
      break;
    case "sig":
      readHex(text, v, end, 128, key, line);
      break;
    case "content":
      checkContent(text, v, end, line);
      break;
    case "tags":
      // `tags: []` is how TOON 4.x writes no tags; anything else inline is not a tag list.
      if (!isEmptyArray) throw new ToonShallowParseError("bad-tags", line, "not an array");
      break;
  }
  return seen | bit;
}

/** Parses `[N]` / `[N|]` / `[N\t]` followed directly by ':'; returns [count, delimiter, after ':']. */
function readBracketHeader(text: string, bracket: number, end: number, line: number) {
  let close = -1;
  for (let i = bracket + 1; i < end; i++) {
    if (text.charCodeAt(i) === BRACKET_CLOSE) {
      close = i;
      break;
    }
  }
  if (close === -1) throw new ToonShallowParseError("syntax", line, "unterminated bracket");
  let segEnd = close;
  let delimiter = ",";
  const last = text.charCodeAt(close - 1);
  if (last === TAB || last === 124) {
    delimiter = last === TAB ? "\t" : "|";
    segEnd--;
  }
  let count = 0;
  if (segEnd === bracket + 1) throw new ToonShallowParseError("syntax", line, "empty length");
  for (let i = bracket + 1; i < segEnd; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57 || (i === bracket + 1 && c === 48 && segEnd - bracket > 2)) {
      throw new ToonShallowParseError("syntax", line, "bad array length");
    }
    count = count * 10 + (c - 48);
  }
  if (count > 1e9) throw new ToonShallowParseError("syntax", line, "array too long");
  const after = text.charCodeAt(close + 1);
  if (after === BRACE_OPEN) throw new ToonShallowParseError("bad-tags", line, "tabular form");
  if (after !== COLON) throw new ToonShallowParseError("syntax", line, "missing colon after ]");
  return { count, delimiter, afterColon: close + 2 };
}

function readTagsBlock(cur: LineCursor, bracket: number, out: ToonSummary): void {
  const text = cur.text;
  const headerLine = cur.lineNo;
  const { count, afterColon } = readBracketHeader(text, bracket, cur.end, headerLine);
  let v = afterColon;
  while (v < cur.end && text.charCodeAt(v) === SPACE) v++;
  if (v < cur.end) throw new ToonShallowParseError("bad-tags", headerLine, "inline values");
  let items = 0;
  while (items < count) {
    if (!cur.peek() || cur.indent === 0) break;
    if (cur.indent !== 2) throw new ToonShallowParseError("bad-indent", cur.lineNo, "tag item");
    if (!isListItem(text, cur.start, cur.end)) break;
    if (items > 0 && cur.blankBefore) {
      throw new ToonShallowParseError("syntax", cur.lineNo, "blank line inside tags");
    }
    cur.consume();
    const tag = readTagItem(cur);
    if (tag !== null) {
      if (tag[0] === "e") out.e.push(tag[1]);
      else if (tag[0] === "p") out.p.push(tag[1]);
    }
    items++;
  }
  if (items !== count) {
    throw new ToonShallowParseError("tag-count", cur.lineNo, `expected ${count}, got ${items}`);
  }
  if (cur.peek() && cur.indent === 2 && isListItem(text, cur.start, cur.end)) {
    throw new ToonShallowParseError("tag-count", cur.lineNo, `more than ${count} tags`);
  }
}

function isListItem(text: string, start: number, end: number): boolean {
  return text.charCodeAt(start) === 45 &&
    (end - start === 1 || text.charCodeAt(start + 1) === SPACE);
}

/** Reads one `- [M]: a,b` item; returns the first two values when they are e/p, else null. */
function readTagItem(cur: LineCursor): [string, string] | null {
  const text = cur.text;
  const line = cur.lineNo;
  const end = cur.end;
  let i = cur.start + 1;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  if (i === end) throw new ToonShallowParseError("bad-tags", line, "tag is not an array");
  if (text.charCodeAt(i) !== BRACKET_OPEN) {
    throw new ToonShallowParseError("bad-tags", line, "tag is not an array");
  }
  if (end - i === 2 && text.charCodeAt(i + 1) === BRACKET_CLOSE) return null; // `- []`
  const { count, delimiter, afterColon } = readBracketHeader(text, i, end, line);
  let v = afterColon;
  while (v < end && text.charCodeAt(v) === SPACE) v++;
  if (v === end) return readNestedTagValues(cur, count);
  const values = splitValues(text, v, end, delimiter.charCodeAt(0), line);
  if (values.length !== count) {
    throw new ToonShallowParseError("tag-count", line, `expected ${count} values`);
  }
  return values.length >= 2 ? [values[0], values[1]] : null;
}

/** An inner tag written as a nested list (`- [2]:` then `- e` / `- <hex>` one level deeper). */
function readNestedTagValues(cur: LineCursor, count: number): [string, string] | null {
  const text = cur.text;
  const values: string[] = [];
  while (values.length < count) {
    if (!cur.peek() || cur.indent <= 2) break;
    if (cur.indent !== 4) throw new ToonShallowParseError("bad-indent", cur.lineNo, "tag value");
    if (!isListItem(text, cur.start, cur.end)) break;
    if (cur.blankBefore) {
      throw new ToonShallowParseError("syntax", cur.lineNo, "blank line inside tags");
    }
    cur.consume();
    let i = cur.start + 1;
    while (i < cur.end && text.charCodeAt(i) === SPACE) i++;
    if (i === cur.end) throw new ToonShallowParseError("bad-tags", cur.lineNo, "object in tag");
    const raw = text.slice(i, cur.end);
    if (raw === "[]" || findUnquoted(text, i, cur.end, COLON) !== -1) {
      throw new ToonShallowParseError("bad-tags", cur.lineNo, "tag value is not a string");
    }
    values.push(parseStringToken(raw, cur.lineNo));
  }
  if (values.length !== count) {
    throw new ToonShallowParseError("tag-count", cur.lineNo, `expected ${count} values`);
  }
  if (cur.peek() && cur.indent === 4 && isListItem(text, cur.start, cur.end)) {
    throw new ToonShallowParseError("tag-count", cur.lineNo, "too many values");
  }
  if (cur.peek() && cur.indent > 2) {
    throw new ToonShallowParseError("bad-indent", cur.lineNo, "unexpected nesting");
  }
  return values.length >= 2 ? [values[0], values[1]] : null;
}

/** Splits delimited values respecting quotes, as the decoder does, and reads each as a string. */
function splitValues(
  text: string,
  start: number,
  end: number,
  delimiter: number,
  line: number,
): string[] {
  const values: string[] = [];
  let from = start;
  // A delimiter outside quotes ends a value with no quote open, so each search starts afresh.
  for (let i = findUnquoted(text, from, end, delimiter); i !== -1;) {
    values.push(parseStringToken(trimSpaces(text.slice(from, i)), line));
    from = i + 1;
    i = findUnquoted(text, from, end, delimiter);
  }
  values.push(parseStringToken(trimSpaces(text.slice(from, end)), line));
  return values;
}

/** A value token that must decode to a string (quoted, or unquoted and not a literal). */
function parseStringToken(token: string, line: number): string {
  if (token.length === 0) return "";
  if (token.charCodeAt(0) === QUOTE) {
    const close = findClosingQuote(token, 0, token.length);
    if (close !== token.length - 1) {
      throw new ToonShallowParseError("syntax", line, "bad quoted string");
    }
    return unescapeToon(token, 1, close, line);
  }
  if (token === "true" || token === "false" || token === "null" || isNumericLiteral(token)) {
    throw new ToonShallowParseError("bad-tags", line, `tag value ${token} is not a string`);
  }
  return token;
}

function isNumericLiteral(token: string): boolean {
  // The pattern needs a leading '-' or digit: skip the regex for every other token.
  const c = token.charCodeAt(0);
  if (c !== 45 && (c < 48 || c > 57)) return false;
  return NUMERIC_LITERAL.test(token) && Number.isFinite(Number(token));
}

/** True when every character is a digit or `e` (such a hex token may read as a number). */
function onlyDigitsAndE(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 48 || c > 57) && c !== 101) return false;
  }
  return value.length > 0;
}

/** A number token (kind, created_at); NaN when the token is not a number. */
function readNumber(text: string, start: number, end: number): number {
  const len = end - start;
  if (len <= 15) {
    // Fast path for the canonical form: digits, no leading zero.
    let n = 0;
    let i = start;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    if (i === end && (len === 1 || text.charCodeAt(start) !== 48)) return n;
  }
  const token = text.slice(start, end);
  if (!isNumericLiteral(token)) return NaN;
  const n = Number.parseFloat(token);
  return Object.is(n, -0) ? 0 : n;
}

function readHex(
  text: string,
  start: number,
  end: number,
  length: number,
  key: string,
  line: number,
): string {
  let value: string;
  if (text.charCodeAt(start) === QUOTE) {
    value = parseStringToken(text.slice(start, end), line);
  } else {
    // Checked in place first: reading the slice (a view on `text`) is slower than `text`.
    if (end - start === length && isHexText(text, start, length)) return text.slice(start, end);
    value = text.slice(start, end);
    // An unquoted all-digit (or digits-and-e) token is a number to the decoder, not a string.
    if (onlyDigitsAndE(value) && isNumericLiteral(value)) {
      throw new ToonShallowParseError(`bad-hex:${key}`, line, "number");
    }
  }
  if (!isLowerHex(value, length)) throw new ToonShallowParseError(`bad-hex:${key}`, line);
  return value;
}

function checkContent(text: string, start: number, end: number, line: number): void {
  const c = text.charCodeAt(start);
  if (c === QUOTE) {
    const close = findClosingQuote(text, start, end);
    if (close !== end - 1) throw new ToonShallowParseError("bad-content", line, "bad quoting");
    return;
  }
  const token = text.slice(start, end);
  if (token === "true" || token === "false" || token === "null" || isNumericLiteral(token)) {
    throw new ToonShallowParseError("bad-content", line, "not a string");
  }
}

function findClosingQuote(text: string, open: number, end: number): number {
  let i = open + 1;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < end) {
      i += 2;
      continue;
    }
    if (c === QUOTE) return i;
    i++;
  }
  return -1;
}

/** The first `char` (or `orChar`) outside double quotes in `text[start, end)`, else -1. */
function findUnquoted(
  text: string,
  start: number,
  end: number,
  char: number,
  orChar = -1,
): number {
  let inQuotes = false;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (inQuotes && c === BACKSLASH && i + 1 < end) {
      i += 2;
      continue;
    }
    if (c === QUOTE) inQuotes = !inQuotes;
    else if ((c === char || c === orChar) && !inQuotes) return i;
    i++;
  }
  return -1;
}

function trimSpaces(value: string): string {
  let s = 0;
  let e = value.length;
  while (s < e && value.charCodeAt(s) === SPACE) s++;
  while (e > s && value.charCodeAt(e - 1) === SPACE) e--;
  return s === 0 && e === value.length ? value : value.slice(s, e);
}

/** TOON string unescaping (`\n \t \r \\ \" \uXXXX`, no lone surrogates), as the decoder does. */
function unescapeToon(text: string, start: number, end: number, line: number): string {
  const slash = text.indexOf("\\", start);
  if (slash === -1 || slash >= end) return text.slice(start, end);
  let out = text.slice(start, slash);
  let i = slash;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== BACKSLASH) {
      out += text[i++];
      continue;
    }
    if (i + 1 >= end) throw new ToonShallowParseError("syntax", line, "backslash at end");
    const next = text[i + 1];
    if (next === "n") out += "\n";
    else if (next === "t") out += "\t";
    else if (next === "r") out += "\r";
    else if (next === "\\") out += "\\";
    else if (next === '"') out += '"';
    else if (next === "u") {
      const hex = text.slice(i + 2, i + 6);
      if (i + 6 > end || !/^[0-9a-f]{4}$/i.test(hex)) {
        throw new ToonShallowParseError("syntax", line, "bad \\u escape");
      }
      const unit = Number.parseInt(hex, 16);
      if (unit >= 0xd800 && unit <= 0xdfff) {
        throw new ToonShallowParseError("syntax", line, "lone surrogate escape");
      }
      out += String.fromCharCode(unit);
      i += 6;
      continue;
    } else throw new ToonShallowParseError("syntax", line, `bad escape \\${next}`);
    i += 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fast path for the canonical layout `encodeEventToon` writes:
//
//     id: <64 hex>\npubkey: <64 hex>\ncreated_at: <digits>\nkind: <digits>\ntags[N]:\n
//       - [M]: v1,v2,...\n   (N times; `- [0]:` for an empty tag)
//     content: <value>\n   (or `"content": <value>`)\nsig: <128 hex>[\n]
//
// It accepts a strict subset of what the general scanner accepts and yields the same summary;
// on anything else (other key order, quoted keys, CRLF, comments, trailing spaces, other
// delimiters, nested lists, literal-like tokens, quoted tag names, non-ASCII before the content
// line...) it returns null and the general scanner decides, so every error still comes from one
// place with one reason. Why hand-tuned: the general scanner's per-line objects, slices and
// regexes cost ~5 us per typical event. Here the part before the content line (ASCII in the
// canonical case) is copied once into bytes with `encodeInto` (native) and scanned as a
// Uint8Array, which V8 reads ~2x faster than `charCodeAt`; byte offsets then equal string
// offsets, so values are sliced from the string. The content line is found from the end and
// checked with native `indexOf`, so a large content is never copied or walked in JS.
// ---------------------------------------------------------------------------------------------

const NL = 10;
const CR = 13;
const COMMA = 44;
const DASH = 45;
/** 1 at the char codes of the lowercase hex digits (a table beats a regex or range tests). */
const LOWER_HEX = new Uint8Array(256);
for (const ch of "0123456789abcdef") LOWER_HEX[ch.charCodeAt(0)] = 1;
const ASCII = new TextEncoder();
/** Reused for the usual small event; larger prefixes get a buffer of their own. */
const SCRATCH = new Uint8Array(16 * 1024);
const SIG_LINE = 133; // "sig: " + 128 hex digits

/**
 * The summary when `toon` is in the canonical layout our encoder writes, else null (never
 * throws, never guesses: null means "ask the general scanner").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon } from "./toon_codec.ts";
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 1, tags: [], content: "hi", sig: "ef".repeat(64) };
 * assert.equal(extractCanonicalSummary(encodeEventToon(event))?.kind, 1);
 * assert.equal(extractCanonicalSummary('"kind": 1\n'), null); // not the canonical layout: extractSummaryGeneral
 * ```
 */
export function extractCanonicalSummary(toon: string): ToonSummary | null {
  const text = toon;
  // The last two lines: content, then sig (with or without a final newline).
  let end = text.length;
  if (text.charCodeAt(end - 1) === NL) end--;
  const sigStart = end - SIG_LINE;
  if (sigStart < 1 || text.charCodeAt(sigStart - 1) !== NL) return null;
  if (!stringStartsWith(text, sigStart, "sig: ")) return null;
  const contentEnd = sigStart - 1;
  const contentStart = text.lastIndexOf("\n", contentEnd - 1) + 1;
  if (contentStart === 0 || !isCanonicalContent(text, contentStart, contentEnd)) return null;
  let b = SCRATCH;
  if (text.length <= SCRATCH.length) {
    // The usual case: a small all-ASCII event, copied whole (sig included) in one native call.
    const whole = ASCII.encodeInto(text, b);
    if (whole.read === text.length && whole.written === text.length) {
      return isHexBytes(b, sigStart + 5, 128) ? readCanonicalHead(text, b, contentStart) : null;
    }
  }
  // Only what precedes the content line must be ASCII (so byte and string offsets agree there).
  if (contentStart > SCRATCH.length) b = new Uint8Array(contentStart);
  const head = ASCII.encodeInto(text.slice(0, contentStart), b);
  if (head.read !== contentStart || head.written !== contentStart) return null;
  if (!isHexText(text, sigStart + 5, 128)) return null;
  return readCanonicalHead(text, b, contentStart);
}

/** id, pubkey, created_at, kind and the tags block, ending exactly at `limit`. */
function readCanonicalHead(text: string, b: Uint8Array, limit: number): ToonSummary | null {
  if (limit < 173 || !bytesStartWith(b, 0, "id: ") || !isHexBytes(b, 4, 64)) return null;
  if (b[68] !== NL || !bytesStartWith(b, 69, "pubkey: ") || !isHexBytes(b, 77, 64)) return null;
  if (b[141] !== NL || !bytesStartWith(b, 142, "created_at: ")) return null;
  let pos = 154;
  let lineEnd = digitsEnd(b, pos, limit, 15);
  if (lineEnd === -1 || b[lineEnd] !== NL) return null;
  const createdAt = digitsValue(b, pos, lineEnd);
  pos = lineEnd + 1;
  if (!bytesStartWith(b, pos, "kind: ")) return null;
  pos += 6;
  lineEnd = digitsEnd(b, pos, limit, 5);
  if (lineEnd === -1 || b[lineEnd] !== NL) return null;
  const kind = digitsValue(b, pos, lineEnd);
  if (kind > MAX_EVENT_KIND) return null;
  pos = lineEnd + 1;
  if (!bytesStartWith(b, pos, "tags[")) return null;
  pos += 5;
  lineEnd = digitsEnd(b, pos, limit, 7);
  if (lineEnd === -1 || b[lineEnd] !== BRACKET_CLOSE || b[lineEnd + 1] !== COLON) return null;
  if (b[lineEnd + 2] !== NL) return null;
  const tagCount = digitsValue(b, pos, lineEnd);
  pos = lineEnd + 3;
  const out: ToonSummary = {
    kind,
    id: text.slice(4, 68),
    pubkey: text.slice(77, 141),
    created_at: createdAt,
    e: [],
    p: [],
  };
  for (let t = 0; t < tagCount; t++) {
    if (pos >= limit) return null;
    pos = readCanonicalTag(text, b, pos, limit, out);
    if (pos === -1) return null;
  }
  return pos === limit ? out : null;
}

function bytesStartWith(b: Uint8Array, pos: number, literal: string): boolean {
  for (let i = 0; i < literal.length; i++) {
    if (b[pos + i] !== literal.charCodeAt(i)) return false;
  }
  return true;
}

function stringStartsWith(text: string, pos: number, literal: string): boolean {
  if (pos + literal.length > text.length) return false;
  for (let i = 0; i < literal.length; i++) {
    if (text.charCodeAt(pos + i) !== literal.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * `length` lowercase hex digits at `start`, not all digits-and-`e` (an unquoted token like
 * that may be a number to TOON: the general scanner decides those).
 */
function isHexBytes(b: Uint8Array, start: number, length: number): boolean {
  const end = start + length;
  for (let i = start; i < end; i++) {
    if (LOWER_HEX[b[i]] !== 1) return false; // undefined past the end
  }
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c > 57 && c !== 101) return true; // usually within the first few characters
  }
  return false;
}

/** {@linkcode isHexBytes} on a string (for the sig line, after the bytes copied). */
function isHexText(text: string, start: number, length: number): boolean {
  const end = start + length;
  if (end > text.length) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 255 || LOWER_HEX[c] === 0) return false;
  }
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 57 && c !== 101) return true;
  }
  return false;
}

/** End of a canonical unsigned integer (no leading zero, 1..maxDigits digits) at `start`, or -1. */
function digitsEnd(b: Uint8Array, start: number, limit: number, maxDigits: number): number {
  let i = start;
  while (i < limit && i - start <= maxDigits) {
    const c = b[i];
    if (c < 48 || c > 57) break;
    i++;
  }
  const len = i - start;
  if (len === 0 || len > maxDigits || (len > 1 && b[start] === 48)) return -1;
  return i;
}

function digitsValue(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (b[i] - 48);
  return n;
}

/**
 * True when an unquoted token might decode as true/false/null or a number (conservative:
 * anything made only of number characters counts), so the fast path leaves it alone.
 */
function mayBeLiteral(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start);
  const len = end - start;
  if (c === 116) return len === 4 && stringStartsWith(text, start, "true");
  if (c === 102) return len === 5 && stringStartsWith(text, start, "false");
  if (c === 110) return len === 4 && stringStartsWith(text, start, "null");
  if (c !== DASH && (c < 48 || c > 57)) return false;
  for (let i = start + 1; i < end; i++) {
    const d = text.charCodeAt(i);
    if (!((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === DASH)) {
      return false;
    }
  }
  return true;
}

/** {@linkcode mayBeLiteral} on the bytes copy (tag tokens). */
function mayBeLiteralBytes(b: Uint8Array, start: number, end: number): boolean {
  const c = b[start];
  const len = end - start;
  if (c === 116) return len === 4 && bytesStartWith(b, start, "true");
  if (c === 102) return len === 5 && bytesStartWith(b, start, "false");
  if (c === 110) return len === 4 && bytesStartWith(b, start, "null");
  if (c !== DASH && (c < 48 || c > 57)) return false;
  for (let i = start + 1; i < end; i++) {
    const d = b[i];
    if (!((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === DASH)) {
      return false;
    }
  }
  return true;
}

/** The escapes `unescapeToon` accepts, as a test (no string built). */
function escapesValid(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) !== BACKSLASH) continue;
    if (i + 1 >= end) return false;
    const n = text.charCodeAt(i + 1);
    if (n === 110 || n === 116 || n === 114 || n === BACKSLASH || n === QUOTE) {
      i++;
      continue;
    }
    if (n !== 117 || i + 6 > end) return false;
    let unit = 0;
    for (let k = i + 2; k < i + 6; k++) {
      const h = text.charCodeAt(k);
      const v = h >= 48 && h <= 57
        ? h - 48
        : h >= 97 && h <= 102
        ? h - 87
        : h >= 65 && h <= 70
        ? h - 55
        : -1;
      if (v === -1) return false;
      unit = unit * 16 + v;
    }
    if (unit >= 0xd800 && unit <= 0xdfff) return false;
    i += 5;
  }
  return true;
}

/**
 * One `  - [M]: v1,...` line at `pos` (bytes `b` mirror `text` up to `limit`); records e/p
 * values; returns the start of the next line or -1.
 */
function readCanonicalTag(
  text: string,
  b: Uint8Array,
  pos: number,
  limit: number,
  out: ToonSummary,
): number {
  if (b[pos] !== SPACE || b[pos + 1] !== SPACE || b[pos + 2] !== DASH || b[pos + 3] !== SPACE) {
    return -1;
  }
  if (b[pos + 4] !== BRACKET_OPEN) return -1;
  pos += 5;
  const countEnd = digitsEnd(b, pos, limit, 6);
  if (countEnd === -1 || b[countEnd] !== BRACKET_CLOSE || b[countEnd + 1] !== COLON) return -1;
  const count = digitsValue(b, pos, countEnd);
  pos = countEnd + 2;
  if (count === 0) return b[pos] === NL ? pos + 1 : -1;
  if (b[pos] !== SPACE) return -1;
  pos++;
  let name = 0; // 1: the tag is `e`, 2: `p`
  for (let v = 0; v < count; v++) {
    let i = pos;
    let valueStart = pos;
    let valueEnd: number;
    let escaped = false;
    if (b[pos] === QUOTE) {
      i++;
      for (;;) {
        if (i >= limit) return -1;
        const c = b[i];
        if (c === QUOTE) break;
        if (c === NL) return -1;
        if (c === BACKSLASH) {
          escaped = true;
          if (b[i + 1] === NL) return -1;
          i += 2;
        } else i++;
      }
      if (v === 0) return -1; // a quoted tag name: left to the general scanner
      valueStart = pos + 1;
      valueEnd = i;
      i++;
      if (escaped && !escapesValid(text, valueStart, valueEnd)) return -1;
    } else {
      for (;;) {
        if (i >= limit) return -1;
        const c = b[i];
        if (c === COMMA || c === NL) break;
        if (c === QUOTE || c === CR) return -1;
        i++;
      }
      valueEnd = i;
      if (i === pos || b[pos] === SPACE || b[i - 1] === SPACE) return -1;
      if (mayBeLiteralBytes(b, pos, i)) return -1;
      if (v === 0 && i - pos === 1) name = b[pos] === 101 ? 1 : b[pos] === 112 ? 2 : 0;
    }
    if (v === 1 && name !== 0) {
      const value = escaped
        ? unescapeToon(text, valueStart, valueEnd, 0)
        : text.slice(valueStart, valueEnd);
      (name === 1 ? out.e : out.p).push(value);
    }
    // `i` is just past the token: a comma before the next value, the newline after the last.
    if (v < count - 1) {
      if (b[i] !== COMMA) return -1;
      pos = i + 1;
    } else {
      if (b[i] !== NL) return -1;
      pos = i + 1;
    }
  }
  return pos;
}

/** The `content` line [start, end) as the general scanner reads it (quoting, not escapes). */
function isCanonicalContent(text: string, start: number, end: number): boolean {
  let pos = start;
  if (stringStartsWith(text, pos, "content: ")) pos += 9;
  else if (stringStartsWith(text, pos, '"content": ')) pos += 11;
  else return false;
  if (end <= pos) return false;
  const first = text.charCodeAt(pos);
  const last = text.charCodeAt(end - 1);
  if (first === SPACE || last === SPACE || last === CR) return false;
  if (first !== QUOTE) return !mayBeLiteral(text, pos, end);
  // Quoted: the first unescaped quote after the opening one must be the last character.
  const close = end - 1;
  if (close === pos) return false;
  let q = text.indexOf('"', pos + 1);
  while (q !== -1 && q <= close) {
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q === close;
    q = text.indexOf('"', q + 1);
  }
  return false;
}

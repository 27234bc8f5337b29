/**
 * A fast full decode of a TOON event in the layout this project's encoder writes (and
 * Crosstown's): the seven keys in NIP-01 order, `tags[N]:` with one inline `  - [M]: ...` line
 * per tag, hex and integers unquoted. 5-8x faster than `@toon-format/toon`'s `decode` for a
 * small event (bench/toon_event_decode_bench_script.ts: 1.9 us against 10.1 for a 200-byte note,
 * 2.7 against 20.5 for a job request with four tags), the largest decoding cost of a town's paid write (docs/SCALE.md
 * "Paid writes per town").
 *
 * It never guesses: anything outside the forms it knows for certain decode to a string (an
 * unquoted token that might be a number, `true`/`false`/`null`, one holding `:` `"` `\` `,`
 * brackets or braces, starting with `-` or with or ending in whitespace, a control character,
 * an escape other than `\n \t \r \\ \"`, another key, order or indentation) returns null, and
 * the caller decodes with the library, which gives the answer or the error
 * (protocol/toon_event_parse.ts). tests/unit/protocol/toon_event_fast_decode_test.ts checks both give
 * the same event on every input the fast path accepts.
 *
 * @module
 */
import type { NostrEvent } from "./nostr_event.ts";

const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_128 = /^[0-9a-f]{128}$/;
/** A hex token of digits and `e` only could read as a number: the library decides those. */
const NUMBER_LIKE_HEX = /^[0-9e]+$/;
const INTEGER = /^(0|[1-9][0-9]{0,14})$/;
const TAGS_HEADER = /^tags\[(0|[1-9][0-9]{0,6})\]:$/;
const TAG_HEADER = /^ {2}- \[(0|[1-9][0-9]{0,5})\]:/;
/** Characters or edges that make an unquoted token something other than a plain string. */
// deno-lint-ignore no-control-regex -- control characters are what it declines
const NOT_PLAIN = /[:"\\[\]{},\u0000-\u001f\u007f]|^[\s-]|\s$/;
/** Could decode as a number or a literal (conservative: number characters only). */
const MAYBE_LITERAL = /^(true|false|null|[-+.0-9][-+.0-9eE]*)$/;

function hexField(line: string, key: string, pattern: RegExp): string | null {
  if (!line.startsWith(key)) return null;
  const value = line.slice(key.length);
  return pattern.test(value) && !NUMBER_LIKE_HEX.test(value) ? value : null;
}

function integerField(line: string, key: string): number | null {
  if (!line.startsWith(key)) return null;
  const value = line.slice(key.length);
  return INTEGER.test(value) ? Number(value) : null;
}

function plain(token: string): string | null {
  return token.length === 0 || NOT_PLAIN.test(token) || MAYBE_LITERAL.test(token) ? null : token;
}

/**
 * The quoted string starting at `line[start]` (a `"`): its value and the index after its
 * closing quote, or null for an escape or character the fast path leaves to the library.
 */
function quoted(line: string, start: number): { value: string; end: number } | null {
  let value = "";
  let from = start + 1;
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return null;
    if (c === 0x22) return { value: value + line.slice(from, i), end: i + 1 };
    if (c !== 0x5c) continue;
    const n = line[i + 1];
    const unescaped = n === "n"
      ? "\n"
      : n === "t"
      ? "\t"
      : n === "r"
      ? "\r"
      : n === "\\"
      ? "\\"
      : n === '"'
      ? '"'
      : undefined;
    if (unescaped === undefined) return null;
    value += line.slice(from, i) + unescaped;
    i++;
    from = i + 1;
  }
  return null; // no closing quote
}

/** The values of one `  - [M]: v1,v2` line, or null. */
function tagLine(line: string): string[] | null {
  const header = TAG_HEADER.exec(line);
  if (header === null) return null;
  const count = Number(header[1]);
  let pos = header[0].length;
  if (count === 0) return pos === line.length ? [] : null;
  if (line.charCodeAt(pos) !== 0x20) return null;
  pos++;
  const values: string[] = [];
  for (let v = 0; v < count; v++) {
    let value: string | null;
    if (line.charCodeAt(pos) === 0x22) {
      const q = quoted(line, pos);
      if (q === null) return null;
      value = q.value;
      pos = q.end;
    } else {
      let end = line.indexOf(",", pos);
      if (end === -1) end = line.length;
      value = plain(line.slice(pos, end));
      pos = end;
    }
    if (value === null) return null;
    values.push(value);
    if (v < count - 1) {
      if (line.charCodeAt(pos) !== 0x2c) return null;
      pos++;
    }
  }
  return pos === line.length ? values : null;
}

function contentLine(line: string): string | null {
  const start = line.startsWith("content: ") ? 9 : line.startsWith('"content": ') ? 11 : -1;
  if (start === -1) return null;
  if (line.charCodeAt(start) === 0x22) {
    const q = quoted(line, start);
    return q !== null && q.end === line.length ? q.value : null;
  }
  return plain(line.slice(start));
}

/**
 * The event, when `text` is in the layout described above; null otherwise (decode it with the
 * library then). The caller still checks the event's shape (protocol/event_shape.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon } from "./toon_codec.ts";
 *
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 1, tags: [["t", "x y"], ["r", "wss://a.b"]], content: 'say "hi"', sig: "ef".repeat(64) };
 * assert.deepEqual(decodeCanonicalEventToon(encodeEventToon(event)), event);
 * assert.equal(decodeCanonicalEventToon("kind: 1\nid: 12"), null); // not the layout: the library decides
 * ```
 */
export function decodeCanonicalEventToon(text: string): NostrEvent | null {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop(); // one final newline
  if (lines.length < 7) return null;
  const header = TAGS_HEADER.exec(lines[4]);
  if (header === null) return null;
  const tagCount = Number(header[1]);
  if (lines.length !== 7 + tagCount) return null;
  const id = hexField(lines[0], "id: ", HEX_64);
  const pubkey = hexField(lines[1], "pubkey: ", HEX_64);
  const created_at = integerField(lines[2], "created_at: ");
  const kind = integerField(lines[3], "kind: ");
  if (id === null || pubkey === null || created_at === null || kind === null) return null;
  const tags: string[][] = [];
  for (let t = 0; t < tagCount; t++) {
    const tag = tagLine(lines[5 + t]);
    if (tag === null) return null;
    tags.push(tag);
  }
  const content = contentLine(lines[5 + tagCount]);
  const sig = hexField(lines[6 + tagCount], "sig: ", HEX_128);
  if (content === null || sig === null) return null;
  return { id, pubkey, created_at, kind, tags, content, sig };
}

/**
 * TOON encoding and full decoding of Nostr events.
 *
 * Encoding uses `@toon-format/toon` 4.x but emits only forms that `@toon-format/toon@1.4.0` (what
 * deployed Crosstown relays decode with) reads back to the identical event. The differences
 * found (tests/unit/protocol/toon_codec_test.ts pins each one):
 *
 * 1. No tags: 4.x writes `tags: []`, which 1.4.0 reads as the string "[]". We write `tags[0]:`.
 * 2. A `content` line holding `[`: 1.4.0 looks for an array header anywhere in an unquoted-key
 *    line, even inside the quoted value (`content: "see [2]: x"` fails or misparses). We then
 *    quote the key (`"content": "..."`), which both versions read as a plain key.
 * 3. Control characters other than `\n \r \t`: 4.x escapes them as `\uXXXX`, which 1.4.0
 *    rejects. We write them raw inside a quoted string, which both read.
 * 4. Strings starting or ending with Unicode whitespace other than the ASCII space (NBSP, BOM,
 *    U+2028...): 4.x leaves them unquoted, and 1.4.0 trims them away (JS `trim()`). We quote them.
 * 5. Strings JS `Number()` reads but TOON's number grammar does not (`1.`, `.5`, `+1`, `1.e5`):
 *    4.x leaves them unquoted, 1.4.0 decodes them as numbers. We quote them.
 *
 * Everything else (empty strings, number-, boolean- and null-like strings, commas, colons,
 * pipes, quotes, backslashes, newlines, leading/trailing spaces, unicode, empty inner tags
 * `- [0]:`) round-trips through both versions as 4.x writes it.
 *
 * @module
 */
import { encode, rawString } from "@toon-format/toon";
import type { NostrEvent } from "./nostr_event.ts";
import { verifyEvent } from "./event_verifier.ts";
import { DEFAULT_MAX_TOON_BYTES } from "./kind_extractor.ts";
import { assertEventShape, parseEventToon } from "./toon_event_parse.ts";

export { EventValidationError } from "./event_verifier.ts";
export { assertEventShape, ToonDecodeError } from "./toon_event_parse.ts";

/** Options for {@linkcode decodeEventToon}. */
export interface DecodeEventToonOptions {
  /** Largest input accepted, in UTF-8 bytes. Default 1 MiB. */
  maxBytes?: number;
  /** Recompute the id and verify the signature. Default true. */
  verify?: boolean;
}

// Control characters that 4.x would write as \uXXXX escapes (1.4.0 cannot read those).
// deno-lint-ignore no-control-regex -- matching control characters is the point here
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** Quoted TOON string with only the escapes both 4.x and 1.4.0 read. */
function quoteFor14(value: string): string {
  return `"${
    value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
      .replace(/\r/g, "\\r").replace(/\t/g, "\\t")
  }"`;
}

/** 1.4.0 reads any unquoted token `Number()` accepts as a number (`1.`, `.5`, `+1`, `1.e5`). */
function looksNumericTo14(value: string): boolean {
  if (value.length === 0 || (value.length > 1 && value[0] === "0" && value[1] !== ".")) {
    return false;
  }
  return Number.isFinite(Number(value));
}

function compatibleString(_key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (
    RAW_CONTROL.test(value) || (value.length > 0 && value.trim() !== value) ||
    looksNumericTo14(value)
  ) {
    return rawString(quoteFor14(value));
  }
  return value;
}

/**
 * Encodes a signed event as TOON that both `@toon-format/toon` 4.x and 1.4.0 decode to the
 * identical event. Keys in NIP-01 order. Throws {@linkcode EventValidationError} on a bad shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const template = { kind: 1, created_at: 1700000000, tags: [], content: "hello" };
 * const toon = encodeEventToon(finalizeEvent(template, generateSecretKey()));
 * assert.match(toon, /^id: \w{64}\npubkey: \w{64}\ncreated_at: 1700000000\nkind: 1\ntags\[0\]:\ncontent: hello\nsig: /);
 * ```
 */
export function encodeEventToon(event: NostrEvent): string {
  const e = assertEventShape(event);
  const ordered = {
    id: e.id,
    pubkey: e.pubkey,
    created_at: e.created_at,
    kind: e.kind,
    tags: e.tags,
    content: e.content,
    sig: e.sig,
  };
  const lines = encode(ordered, { replacer: compatibleString }).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "tags: []") lines[i] = "tags[0]:";
    else if (line.startsWith("content: ") && line.includes("[")) {
      lines[i] = `"content"${line.slice(7)}`;
    }
  }
  return lines.join("\n");
}

/**
 * Full decode: TOON parse (what either 4.x or 1.4.0 writes), shape validation, id recomputation
 * and signature check. Throws {@linkcode ToonDecodeError} (not TOON / not an object) or
 * {@linkcode EventValidationError} (`too-large`, `bad-shape:<field>`, `bad-id`, `bad-sig`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const signed = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [], content: "hi" }, generateSecretKey());
 * const event = decodeEventToon(encodeEventToon(signed)); // id and signature checked
 * assert.equal(event.id, signed.id);
 * const forged = encodeEventToon(signed).replace("content: hi", "content: ho");
 * assert.throws(() => decodeEventToon(forged), EventValidationError);
 * assert.equal(decodeEventToon(forged, { verify: false }).content, "ho");
 * ```
 */
export function decodeEventToon(text: string, options: DecodeEventToonOptions = {}): NostrEvent {
  const event = parseEventToon(text, options.maxBytes ?? DEFAULT_MAX_TOON_BYTES);
  if (options.verify !== false) verifyEvent(event);
  return event;
}

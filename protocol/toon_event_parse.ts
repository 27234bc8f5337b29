/**
 * Decoding a TOON event without checking its signature (protocol/toon_codec.ts's
 * `decodeEventToon` with `verify: false`), apart from the verifier: reading back an event this
 * node kept loads no WebAssembly (docs/SCALE.md "A command's start").
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { decode } from "@toon-format/toon";
import type { NostrEvent } from "./nostr_event.ts";
import { EventValidationError } from "./event_validation_error.ts";
import { findEventShapeProblem } from "./event_shape.ts";
import { decodeCanonicalEventToon } from "./toon_event_fast_decode.ts";

/** The input is not TOON, or not an object that could be an event. */
export class ToonDecodeError extends ProtocolError {
  /** `"ToonDecodeError"`: explicit so it survives bundling and worker messages. */
  override name = "ToonDecodeError";
  /** `syntax` (not valid TOON) or `not-an-object` (valid TOON, but not a key/value document). */
  reason: "syntax" | "not-an-object";
  /** 1-based line of the syntax error, when known. */
  line?: number;
  /** Appends `(line N)` to the message when the line is known. */
  constructor(reason: "syntax" | "not-an-object", message: string, line?: number) {
    super(line === undefined ? message : `${message} (line ${line})`);
    this.reason = reason;
    this.line = line;
  }
}

/**
 * Checks that a value has the shape of a signed Nostr event (no signature check).
 * Throws {@linkcode EventValidationError} with reason `bad-shape:<field>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { assertEventShape } from "./toon_event_parse.ts";
 *
 * const signed = await localNodeSigner(generateSecretKey())
 *   .signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * const event = assertEventShape(JSON.parse(JSON.stringify(signed)));
 * assert.equal(event.content, "hi");
 * ```
 */
export function assertEventShape(value: unknown): NostrEvent {
  // Lone surrogates have no UTF-8 form: TOON written from them would not round-trip.
  const problem = findEventShapeProblem(value, { wellFormedText: true });
  if (problem !== undefined) {
    const detail = problem.field === "event" ? "not an object" : problem.detail;
    throw new EventValidationError(`bad-shape:${problem.field}`, detail);
  }
  return value as NostrEvent;
}

/**
 * Decodes a TOON event without checking its id or signature: TOON parse (what either 4.x or
 * 1.4.0 writes) and shape validation, for an event this node checked when it came in and reads
 * back from its own files. Throws {@linkcode ToonDecodeError} (not TOON / not an object) or
 * {@linkcode EventValidationError} (`too-large`, `bad-shape:<field>`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon, localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { parseEventToon } from "./toon_event_parse.ts";
 *
 * const signed = await localNodeSigner(generateSecretKey())
 *   .signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * const event = parseEventToon(encodeEventToon(signed), 1024 * 1024);
 * assert.equal(event.kind, 1);
 * ```
 */
export function parseEventToon(text: string, maxBytes: number): NostrEvent {
  // UTF-8 is never shorter than UTF-16, so count bytes only when it could matter.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    throw new EventValidationError("too-large", `over ${maxBytes} bytes`);
  }
  // The layout events are written in decodes without the library (4x faster); anything else,
  // and every error, is the library's.
  const canonical = decodeCanonicalEventToon(text);
  if (canonical !== null) return assertEventShape(canonical);
  let value: unknown;
  try {
    value = decode(text);
  } catch (err) {
    const e = err as Error & { line?: number };
    throw new ToonDecodeError("syntax", e.message, typeof e.line === "number" ? e.line : undefined);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ToonDecodeError("not-an-object", "TOON document is not an object");
  }
  return assertEventShape(value);
}

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

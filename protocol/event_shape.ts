/**
 * The one NIP-01 event shape rule (fields, types, ranges; not the id or signature), shared by
 * the TOON codec and the NIP-01 message parser, which each report a problem with their own
 * error class.
 *
 * @module
 */
import { isCreatedAt, isEventKind, isLowerHex } from "./kind_extractor.ts";

/** The field an event fails on (`event`: not an object; `extra-key`: a field NIP-01 lacks). */
export type EventShapeField =
  | "event"
  | "extra-key"
  | "id"
  | "pubkey"
  | "sig"
  | "created_at"
  | "kind"
  | "content"
  | "tags";

/** Why a value is not an event. */
export interface EventShapeProblem {
  field: EventShapeField;
  /** The offending key for `extra-key` (at most 40 chars); what is wrong for `tags`. */
  detail?: string;
}

/** Options for {@linkcode findEventShapeProblem}. */
export interface EventShapeOptions {
  /**
   * Refuse content and tag values with lone surrogates. They have no UTF-8 form, so the id
   * (hashed over UTF-8) would not pin them down. Default false.
   */
  wellFormedText?: boolean;
}

const EVENT_KEYS: ReadonlySet<string> = new Set([
  "id",
  "pubkey",
  "created_at",
  "kind",
  "tags",
  "content",
  "sig",
]);

/**
 * The first problem in `value` as a signed event's shape, or undefined when it is one. Fields
 * are checked in a fixed order: object, extra keys, id, pubkey, sig, created_at, kind, content,
 * tags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findEventShapeProblem } from "./event_shape.ts";
 *
 * const text = '{"kind": 1}';
 * const problem = findEventShapeProblem(JSON.parse(text), { wellFormedText: true });
 * assert.equal(problem?.field, "id"); // the first field checked that is missing
 * ```
 */
export function findEventShapeProblem(
  value: unknown,
  options: EventShapeOptions = {},
): EventShapeProblem | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { field: "event" };
  }
  const e = value as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!EVENT_KEYS.has(key)) return { field: "extra-key", detail: key.slice(0, 40) };
  }
  if (!isLowerHex(e.id, 64)) return { field: "id" };
  if (!isLowerHex(e.pubkey, 64)) return { field: "pubkey" };
  if (!isLowerHex(e.sig, 128)) return { field: "sig" };
  if (!isCreatedAt(e.created_at)) return { field: "created_at" };
  if (!isEventKind(e.kind)) return { field: "kind" };
  const text = (s: unknown) =>
    typeof s === "string" && (!options.wellFormedText || s.isWellFormed());
  if (!text(e.content)) return { field: "content" };
  if (!Array.isArray(e.tags)) return { field: "tags" };
  for (const tag of e.tags) {
    if (!Array.isArray(tag)) return { field: "tags", detail: "tag not an array" };
    if (!tag.every(text)) return { field: "tags", detail: "tag value not a string" };
  }
  return undefined;
}

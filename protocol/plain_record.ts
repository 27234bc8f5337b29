/**
 * The check every reader of parsed JSON or TOML makes before it reads a key: a plain object, not
 * null and not an array.
 *
 * @module
 */

/**
 * Whether `value` is a plain record (an object that is neither null nor an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRecord } from "./plain_record.ts";
 *
 * assert.equal(isRecord({ kinds: [5100] }), true);
 * assert.equal(isRecord([1, 2]), false);
 * assert.equal(isRecord(null), false);
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

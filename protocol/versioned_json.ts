/**
 * Reading the small versioned JSON objects that travel in BTP protocol data
 * (`payment-channel-claim`, `payment-channel-cosign`): a size limit checked before parsing,
 * strict UTF-8, an object at the top, the exact format version, then typed fields. Each codec
 * keeps its own error class; this module reports faults through the codec's `fail`.
 *
 * @module
 */

/** What is wrong with the bytes, as the codecs' reason tokens spell it. */
export type VersionedJsonFault = "too-large" | "malformed" | "unsupported-version";

/** Options for {@linkcode decodeVersionedJson} and the field readers. */
export interface VersionedJsonOptions {
  /** Largest encoded size accepted, in bytes. */
  maxBytes: number;
  /** The only `version` value read. */
  version: number;
  /** Throws the codec's own error for a fault (never returns). */
  fail(reason: VersionedJsonFault, message: string): never;
}

const UINT = /^(0|[1-9][0-9]{0,77})$/;

/**
 * Decodes the bytes (or a JSON string) to an object with the expected version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVersionedJson, type FieldFail, uintField } from "./versioned_json.ts";
 *
 * const data = new TextEncoder().encode(JSON.stringify({ version: 1, nonce: "7" }));
 * const fail: FieldFail = (_reason, message) => {
 *   throw new Error(message);
 * };
 * const v = decodeVersionedJson(data, { maxBytes: 2048, version: 1, fail });
 * assert.equal(uintField(v, "nonce", fail), 7n);
 * ```
 */
export function decodeVersionedJson(
  data: Uint8Array | string,
  options: VersionedJsonOptions,
): Record<string, unknown> {
  const size = typeof data === "string" ? new TextEncoder().encode(data).length : data.length;
  if (size > options.maxBytes) {
    options.fail("too-large", `${size} bytes, the limit is ${options.maxBytes}`);
  }
  let value: unknown;
  try {
    const text = typeof data === "string"
      ? data
      : new TextDecoder("utf-8", { fatal: true }).decode(data);
    value = JSON.parse(text);
  } catch {
    options.fail("malformed", "not UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    options.fail("malformed", "not a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (v.version !== options.version) {
    options.fail(
      "unsupported-version",
      `version ${JSON.stringify(v.version)}, this node reads ${options.version}`,
    );
  }
  return v;
}

/** Reports a bad field; the codec's `fail` throws. */
export type FieldFail = (reason: "malformed", message: string) => never;

/**
 * A string field, or a `malformed` fault naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FieldFail, stringField } from "./versioned_json.ts";
 *
 * const fail: FieldFail = (_reason, message) => {
 *   throw new Error(message);
 * };
 * assert.equal(stringField({ channelId: "0xab" }, "channelId", fail), "0xab");
 * ```
 */
export function stringField(v: Record<string, unknown>, name: string, fail: FieldFail): string {
  const value = v[name];
  if (typeof value !== "string") fail("malformed", `${name} must be a string`);
  return value as string;
}

/**
 * A number field, or a `malformed` fault naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FieldFail, numberField } from "./versioned_json.ts";
 *
 * const fail: FieldFail = (_reason, message) => {
 *   throw new Error(message);
 * };
 * assert.equal(numberField({ chainId: 31337 }, "chainId", fail), 31337);
 * ```
 */
export function numberField(v: Record<string, unknown>, name: string, fail: FieldFail): number {
  const value = v[name];
  if (typeof value !== "number") fail("malformed", `${name} must be a number`);
  return value as number;
}

/**
 * A uint256 written as a decimal string (JSON numbers lose precision above 2^53).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FieldFail, uintField } from "./versioned_json.ts";
 *
 * const fail: FieldFail = (_reason, message) => {
 *   throw new Error(message);
 * };
 * assert.equal(uintField({ transferredAmount: "5000" }, "transferredAmount", fail), 5000n);
 * ```
 */
export function uintField(v: Record<string, unknown>, name: string, fail: FieldFail): bigint {
  const value = v[name];
  if (typeof value !== "string" || !UINT.test(value)) {
    fail("malformed", `${name} must be a decimal integer string`);
  }
  return BigInt(value as string);
}

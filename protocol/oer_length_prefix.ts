/**
 * Canonical OER length prefixes (as `oer-utils`, which ilp-packet and btp-packet write with,
 * encodes them: one byte up to 127, else 0x80 | n followed by the length in the fewest n bytes).
 * The ILP and BTP decoders use this to prove a packet is in canonical form by walking its bytes
 * once, instead of re-encoding the decoded value and comparing (which cost ~12% of the town's
 * main thread). Hand-written because oer-utils' Reader accepts non-minimal prefixes.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** A length prefix that is malformed, not minimal, or runs past the end of the input. */
export class OerLengthPrefixError extends ProtocolError {
  override name = "OerLengthPrefixError";
}

/** A decoded length prefix: the length and where the value starts. */
export interface OerLength {
  length: number;
  /** Offset of the first byte after the prefix. */
  start: number;
}

/**
 * Reads the canonical length prefix at `offset` and checks that the value it announces fits in
 * `end` (exclusive; default the input's length). Throws {@linkcode OerLengthPrefixError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OerLengthPrefixError, readCanonicalLength } from "./oer_length_prefix.ts";
 *
 * assert.deepEqual(readCanonicalLength(new Uint8Array([3, 97, 98, 99]), 0), { length: 3, start: 1 });
 * assert.throws( // not minimal
 *   () => readCanonicalLength(new Uint8Array([0x81, 3, 97, 98, 99]), 0),
 *   OerLengthPrefixError,
 * );
 * ```
 */
export function readCanonicalLength(
  bytes: Uint8Array,
  offset: number,
  end: number = bytes.byteLength,
): OerLength {
  if (offset >= end) throw new OerLengthPrefixError("missing length prefix");
  const first = bytes[offset];
  let length = first;
  let start = offset + 1;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || start + n > end) {
      throw new OerLengthPrefixError(`invalid length prefix 0x${first.toString(16)}`);
    }
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[start + i];
    start += n;
    // Minimal: a long form only above 127, and no leading zero byte.
    if (length <= 127 || bytes[offset + 1] === 0) {
      throw new OerLengthPrefixError("length prefix is not in its shortest form");
    }
  }
  if (start + length > end) {
    throw new OerLengthPrefixError(`length ${length} runs past the end of the packet`);
  }
  return { length, start };
}

/**
 * The canonical length prefix of `length`, as oer-utils writes it: one byte up to 127, else
 * 0x80 | n followed by the length in the fewest n bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalLengthPrefix } from "./oer_length_prefix.ts";
 *
 * assert.deepEqual([canonicalLengthPrefix(3), canonicalLengthPrefix(300)], [[3], [0x82, 1, 44]]);
 * ```
 */
export function canonicalLengthPrefix(length: number): number[] {
  if (length < 128) return [length];
  const out: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) out.unshift(rest % 256);
  return [0x80 | out.length, ...out];
}

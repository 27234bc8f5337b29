/**
 * The two ILP packets on a town's paid-write path, by hand: a PREPARE decoded and a FULFILL
 * encoded in one pass over the bytes, without `ilp-packet`. Its PREPARE decode goes through
 * oer-utils' Reader, `long` for the amount, a Date parsed from text and Buffer views that the
 * caller copies out and checks again against the digits; in the town's profile that was about
 * a tenth of the main thread's JavaScript per write (docs/SCALE.md "Paid writes per town").
 *
 * {@linkcode decodeIlpPrepareFast} only accepts what protocol/ilp_packet.ts's library path
 * accepts and yields the same value; for anything unusual it returns `undefined` and that path
 * decides (and words the error). {@linkcode encodeIlpFulfillFast} writes the bytes `ilp-packet`
 * writes (tests/unit/protocol/ilp_fast_codec_test.ts compares both against the library).
 *
 * @module
 */
import { isIlpAddress } from "./peer_info.ts";
import {
  canonicalLengthPrefix,
  OerLengthPrefixError,
  readCanonicalLength,
} from "./oer_length_prefix.ts";

/** A decoded PREPARE (the shape of protocol/ilp_packet.ts's `IlpPrepare`). */
export interface FastIlpPrepare {
  /** Decimal uint64. */
  amount: string;
  /** The expiry, a real instant with millisecond precision. */
  expiresAt: Date;
  /** 32 bytes, a copy. */
  executionCondition: Uint8Array;
  /** The ILP address, ASCII. */
  destination: string;
  /** The payload, a copy. */
  data: Uint8Array;
}

const PREPARE = 12;
const FULFILL = 13;
/** RFC 27: the data field of an ILP packet is at most 32767 bytes. */
const MAX_DATA = 32767;
const TWO_32 = 4294967296;

/** Two ASCII digits at `at` as a number, or -1 when either is not a digit. */
function digits(bytes: Uint8Array, at: number, n: number): number {
  let value = 0;
  for (let i = 0; i < n; i++) {
    const d = bytes[at + i] - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** The 17-digit Interledger timestamp (YYYYMMDDHHmmssSSS, UTC) at `at`, if it is a real instant. */
function readTimestamp(bytes: Uint8Array, at: number): Date | undefined {
  const year = digits(bytes, at, 4),
    month = digits(bytes, at + 4, 2),
    day = digits(bytes, at + 6, 2);
  const hour = digits(bytes, at + 8, 2), minute = digits(bytes, at + 10, 2);
  const second = digits(bytes, at + 12, 2), ms = digits(bytes, at + 14, 3);
  // Years below 1000 cannot be encoded back by ilp-packet: the library path refuses them.
  if (year < 1000 || month < 1 || day < 1 || hour < 0 || minute < 0 || second < 0 || ms < 0) {
    return undefined;
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  // Month 13 or day 31 of a 30-day month roll over into another date: not a real instant.
  if (
    date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day ||
    date.getUTCHours() !== hour || date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second || date.getUTCFullYear() !== year
  ) return undefined;
  return date;
}

/** The big-endian uint64 at `at` in decimal. */
function readAmount(bytes: Uint8Array, at: number): string {
  const high = (bytes[at] * 0x1000000) + (bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3]);
  const low = (bytes[at + 4] * 0x1000000) +
    (bytes[at + 5] << 16 | bytes[at + 6] << 8 | bytes[at + 7]);
  // Below 2^53 a double holds the value exactly; above it, BigInt.
  if (high < 0x200000) return String(high * TWO_32 + low);
  return ((BigInt(high) << 32n) | BigInt(low)).toString();
}

/**
 * Decodes a canonical PREPARE of at most `maxBytes` bytes, or returns `undefined` for anything
 * else (the caller's library path then decides).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIlpPrepare } from "./ilp_packet.ts";
 * import { decodeIlpPrepareFast } from "./ilp_fast_codec.ts";
 *
 * const bytes = encodeIlpPrepare({ amount: "100", destination: "test.bob",
 *   expiresAt: new Date("2030-01-01T00:00:00.123Z"), executionCondition: new Uint8Array(32),
 *   data: new Uint8Array([1, 2]) });
 * const prepare = decodeIlpPrepareFast(bytes, 65536);
 * assert.deepEqual([prepare?.amount, prepare?.destination], ["100", "test.bob"]);
 * assert.equal(decodeIlpPrepareFast(bytes.subarray(1), 65536), undefined);
 * ```
 */
export function decodeIlpPrepareFast(
  bytes: Uint8Array,
  maxBytes: number,
): FastIlpPrepare | undefined {
  if (bytes.byteLength > maxBytes || bytes.byteLength < 2 || bytes[0] !== PREPARE) return undefined;
  try {
    const envelope = readCanonicalLength(bytes, 1);
    const end = envelope.start + envelope.length;
    if (end !== bytes.byteLength) return undefined;
    const at = envelope.start;
    if (at + 8 + 17 + 32 >= end) return undefined;
    const expiresAt = readTimestamp(bytes, at + 8);
    if (expiresAt === undefined) return undefined;
    const dest = readCanonicalLength(bytes, at + 57, end);
    const destinationBytes = bytes.subarray(dest.start, dest.start + dest.length);
    // ilp-packet reads 7-bit ASCII: a byte above it would not be the same address.
    if (destinationBytes.some((b) => b >= 0x80)) return undefined;
    const destination = String.fromCharCode(...destinationBytes);
    if (!isIlpAddress(destination)) return undefined;
    const data = readCanonicalLength(bytes, dest.start + dest.length, end);
    if (data.start + data.length !== end || data.length > MAX_DATA) return undefined;
    return {
      amount: readAmount(bytes, at),
      expiresAt,
      executionCondition: bytes.slice(at + 25, at + 57),
      destination,
      data: bytes.slice(data.start, end),
    };
  } catch (err) {
    if (err instanceof OerLengthPrefixError) return undefined;
    throw err;
  }
}

/**
 * Encodes a FULFILL as `ilp-packet` does: type, length prefix, the 32-byte fulfillment, the data
 * with its length prefix. The caller checks the sizes (32 bytes; data at most 32767).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIlpFulfillFast } from "./ilp_fast_codec.ts";
 *
 * const bytes = encodeIlpFulfillFast(new Uint8Array(32), new Uint8Array([7]));
 * assert.deepEqual([...bytes.subarray(0, 2), ...bytes.subarray(34)], [13, 34, 1, 7]);
 * ```
 */
export function encodeIlpFulfillFast(fulfillment: Uint8Array, data: Uint8Array): Uint8Array {
  const dataPrefix = canonicalLengthPrefix(data.byteLength);
  const contentLength = 32 + dataPrefix.length + data.byteLength;
  const envelopePrefix = canonicalLengthPrefix(contentLength);
  const out = new Uint8Array(1 + envelopePrefix.length + contentLength);
  out[0] = FULFILL;
  out.set(envelopePrefix, 1);
  let at = 1 + envelopePrefix.length;
  out.set(fulfillment, at);
  at += 32;
  out.set(dataPrefix, at);
  out.set(data, at + dataPrefix.length);
  return out;
}

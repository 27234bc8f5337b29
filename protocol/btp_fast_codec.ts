/**
 * BTP MESSAGE and RESPONSE frames (every ILP packet rides one) by hand, in one pass over the
 * bytes, without `btp-packet`: its decode builds Buffers, reads through oer-utils and is then
 * walked again for canonical form; its encode goes through a Writer and Buffer copies. On a
 * town's paid-write path both ran once a packet (docs/SCALE.md "Paid writes per town").
 *
 * {@linkcode decodeBtpMessageFast} only accepts the canonical frames protocol/btp_message.ts's
 * library path accepts and yields the same frame; for anything else it returns `undefined` and
 * that path decides (and words the error). {@linkcode encodeBtpMessageFast} writes the bytes
 * `btp-packet` writes (tests/unit/protocol/btp_fast_codec_test.ts compares both with the library).
 *
 * @module
 */
import type { BtpFrame, BtpMessageFrame, BtpProtocolData } from "./btp_message.ts";
import {
  canonicalLengthPrefix,
  OerLengthPrefixError,
  readCanonicalLength,
} from "./oer_length_prefix.ts";

const MESSAGE = 6;
const RESPONSE = 1;

/** btp-packet's entry count: a byte giving the count's size (its very formula), then the count. */
function countBytes(n: number): number {
  return Math.max(1, Math.ceil((Math.log(n + 1) / Math.log(2)) / 8));
}

/**
 * Decodes a canonical MESSAGE or RESPONSE of at most `maxBytes` bytes, or returns `undefined`
 * for anything else (the caller's library path then decides).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBtpFrame, ilpProtocolData } from "./btp_message.ts";
 * import { decodeBtpMessageFast } from "./btp_fast_codec.ts";
 *
 * const bytes = encodeBtpFrame({ type: "message", requestId: 9,
 *   protocolData: [ilpProtocolData(new Uint8Array([12, 1, 0]))] });
 * assert.equal(decodeBtpMessageFast(bytes, 65536)?.requestId, 9);
 * assert.equal(decodeBtpMessageFast(bytes.subarray(0, 8), 65536), undefined);
 * ```
 */
export function decodeBtpMessageFast(
  bytes: Uint8Array,
  maxBytes: number,
): BtpMessageFrame | undefined {
  const type = bytes[0];
  if (bytes.byteLength > maxBytes || bytes.byteLength < 6) return undefined;
  if (type !== MESSAGE && type !== RESPONSE) return undefined;
  const requestId = ((bytes[1] << 24) >>> 0) + (bytes[2] << 16 | bytes[3] << 8 | bytes[4]);
  try {
    const envelope = readCanonicalLength(bytes, 5);
    const end = envelope.start + envelope.length;
    if (end !== bytes.byteLength) return undefined;
    let at = envelope.start;
    const size = bytes[at];
    if (size < 1 || size > 4 || at + 1 + size > end) return undefined;
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + bytes[at + 1 + i];
    if (size !== countBytes(n)) return undefined;
    at += 1 + size;
    const protocolData: BtpProtocolData[] = [];
    for (let e = 0; e < n; e++) {
      const name = readCanonicalLength(bytes, at, end);
      const nameBytes = bytes.subarray(name.start, name.start + name.length);
      if (nameBytes.some((b) => b < 0x20 || b > 0x7e)) return undefined; // printable ASCII only
      at = name.start + name.length;
      if (at >= end) return undefined;
      const contentType = bytes[at];
      const data = readCanonicalLength(bytes, at + 1, end);
      at = data.start + data.length;
      protocolData.push({
        protocolName: String.fromCharCode(...nameBytes),
        contentType,
        data: bytes.slice(data.start, at),
      });
    }
    if (at !== end) return undefined;
    return { type: type === MESSAGE ? "message" : "response", requestId, protocolData };
  } catch (err) {
    if (err instanceof OerLengthPrefixError) return undefined;
    throw err;
  }
}

/**
 * Encodes a MESSAGE or RESPONSE as `btp-packet` does, or returns `undefined` for another frame
 * or a field out of range (a request id not a uint32, a protocol name not printable ASCII, a
 * content type not a uint8): the caller's library path words the error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBtpMessageFast } from "./btp_fast_codec.ts";
 *
 * const bytes = encodeBtpMessageFast({ type: "response", requestId: 1, protocolData: [] });
 * assert.deepEqual(bytes, new Uint8Array([1, 0, 0, 0, 1, 2, 1, 0]));
 * ```
 */
export function encodeBtpMessageFast(frame: BtpFrame): Uint8Array | undefined {
  if (frame.type !== "message" && frame.type !== "response") return undefined;
  const { requestId, protocolData } = frame;
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > 0xffffffff) return undefined;
  const size = countBytes(protocolData.length);
  let contentLength = 1 + size;
  const prefixes: number[][] = [];
  for (const p of protocolData) {
    const name = p.protocolName;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return undefined;
    }
    if (!Number.isInteger(p.contentType) || p.contentType < 0 || p.contentType > 255) {
      return undefined;
    }
    const namePrefix = canonicalLengthPrefix(name.length);
    const dataPrefix = canonicalLengthPrefix(p.data.byteLength);
    prefixes.push(namePrefix, dataPrefix);
    contentLength += namePrefix.length + name.length + 1 + dataPrefix.length + p.data.byteLength;
  }
  const envelopePrefix = canonicalLengthPrefix(contentLength);
  const out = new Uint8Array(5 + envelopePrefix.length + contentLength);
  out[0] = frame.type === "message" ? MESSAGE : RESPONSE;
  out[1] = requestId >>> 24;
  out[2] = (requestId >>> 16) & 0xff;
  out[3] = (requestId >>> 8) & 0xff;
  out[4] = requestId & 0xff;
  out.set(envelopePrefix, 5);
  let at = 5 + envelopePrefix.length;
  out[at++] = size;
  for (let i = size - 1; i >= 0; i--) out[at++] = Math.floor(protocolData.length / 256 ** i) % 256;
  protocolData.forEach((p, e) => {
    out.set(prefixes[2 * e], at);
    at += prefixes[2 * e].length;
    for (let i = 0; i < p.protocolName.length; i++) out[at++] = p.protocolName.charCodeAt(i);
    out[at++] = p.contentType;
    out.set(prefixes[2 * e + 1], at);
    at += prefixes[2 * e + 1].length;
    out.set(p.data, at);
    at += p.data.byteLength;
  });
  return out;
}

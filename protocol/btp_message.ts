/**
 * BTP 2.0 frames (RFC 23): MESSAGE, TRANSFER, RESPONSE, ERROR, through the `btp-packet` library,
 * with a frame size limit, strict envelope checks and one error class, {@linkcode BtpMessageError},
 * for every bad input. Protocol-data helpers cover what ilp-plugin-btp speaks: `ilp`
 * (application/octet-stream) and `auth` / `auth_username` / `auth_token` (text/plain).
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { Buffer } from "node:buffer";
import type * as BtpLib from "btp-packet";
import { btpPacketLibrary } from "./packet_libraries.ts";
import { OerLengthPrefixError, readCanonicalLength } from "./oer_length_prefix.ts";
import { decodeBtpMessageFast, encodeBtpMessageFast } from "./btp_fast_codec.ts";

/** Default largest BTP frame accepted or sent: an ILP packet plus generous room for sub-protocols. */
export const DEFAULT_MAX_BTP_FRAME_BYTES = 64 * 1024;

/** Content types of protocol data (RFC 23). */
export const BtpContentType = { octetStream: 0, textPlainUtf8: 1, json: 2 } as const;

/** Frame type octets (RFC 23). */
export const BtpFrameType = { response: 1, error: 2, message: 6, transfer: 7 } as const;

/**
 * The BTP errors this code sends (RFC 23: code and name go together; they are not ILP's codes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(BTP_ERROR.notAccepted, { code: "F00", name: "NotAcceptedError" });
 * ```
 */
export const BTP_ERROR = {
  unreachable: { code: "T00", name: "UnreachableError" },
  notAccepted: { code: "F00", name: "NotAcceptedError" },
  invalidFields: { code: "F01", name: "InvalidFieldsError" },
} as const;

/** One of {@linkcode BTP_ERROR}. */
export type BtpError = typeof BTP_ERROR[keyof typeof BTP_ERROR];

/**
 * An ERROR frame answering `requestId` with one of {@linkcode BTP_ERROR}, triggered now.
 *
 * @example
 * ```ts
 * const bytes = encodeBtpFrame(btpErrorFrame(7, BTP_ERROR.notAccepted, "TRANSFER is not served"));
 * ```
 */
export function btpErrorFrame(requestId: number, error: BtpError, data: string): BtpErrorFrame {
  return {
    type: "error",
    requestId,
    code: error.code,
    name: error.name,
    triggeredAt: new Date(),
    data,
    protocolData: [],
  };
}

/** One entry of a frame's protocol data. */
export interface BtpProtocolData {
  /** Sub-protocol name, printable ASCII (`ilp`, `auth_token`, `payment-channel-claim`). */
  protocolName: string;
  /** 0 application/octet-stream, 1 text/plain; charset=utf-8, 2 application/json. */
  contentType: number;
  /** The entry's payload, interpreted per `contentType`. */
  data: Uint8Array;
}

/** A MESSAGE (request) or RESPONSE (success answer). */
export interface BtpMessageFrame {
  /** A MESSAGE is a request; a RESPONSE answers one with the same `requestId`. */
  type: "message" | "response";
  /** uint32 chosen by the requester; the answer carries the same id. */
  requestId: number;
  /** Entries in wire order (`ilp` carries the ILP packet). */
  protocolData: BtpProtocolData[];
}

/** A TRANSFER (request carrying an amount, uint64 decimal). */
export interface BtpTransferFrame {
  /** Discriminator. */
  type: "transfer";
  /** uint32 chosen by the requester; the answer carries the same id. */
  requestId: number;
  /** Amount transferred, in base units: a decimal uint64 string. */
  amount: string;
  /** Entries in wire order. */
  protocolData: BtpProtocolData[];
}

/** An ERROR (failure answer). */
export interface BtpErrorFrame {
  /** Discriminator. */
  type: "error";
  /** The id of the request this error answers. */
  requestId: number;
  /** Three characters, e.g. "F00". */
  code: string;
  /** e.g. "NotAcceptedError". */
  name: string;
  /** When the error was raised (millisecond precision on the wire). */
  triggeredAt: Date;
  /** Free text (ilp-plugin-btp puts the error message here). */
  data: string;
  /** Entries in wire order; usually none. */
  protocolData: BtpProtocolData[];
}

/** Any BTP frame. */
export type BtpFrame = BtpMessageFrame | BtpTransferFrame | BtpErrorFrame;

/** Options for {@linkcode decodeBtpFrame} and {@linkcode encodeBtpFrame}. */
export interface BtpCodecOptions {
  /** Largest frame, in bytes. Default {@linkcode DEFAULT_MAX_BTP_FRAME_BYTES}. */
  maxFrameBytes?: number;
}

/** Bytes that are not a valid BTP frame, or a frame that cannot be built. */
export class BtpMessageError extends ProtocolError {
  /** `"BtpMessageError"`: explicit so it survives bundling. */
  override name = "BtpMessageError";
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toLibProtocolData(list: BtpProtocolData[]): BtpLib.ProtocolData[] {
  return list.map((p) => {
    if (!/^[\x20-\x7e]*$/.test(p.protocolName)) {
      throw new BtpMessageError(`protocol name "${p.protocolName}" is not printable ASCII`);
    }
    if (!Number.isInteger(p.contentType) || p.contentType < 0 || p.contentType > 255) {
      throw new BtpMessageError(`content type ${p.contentType} is not a uint8`);
    }
    return { protocolName: p.protocolName, contentType: p.contentType, data: asBuffer(p.data) };
  });
}

function fromLibProtocolData(list: BtpLib.ProtocolData[]): BtpProtocolData[] {
  return list.map((p) => ({
    protocolName: p.protocolName,
    contentType: p.contentType,
    data: new Uint8Array(p.data),
  }));
}

function toLibPacket(frame: BtpFrame): BtpLib.BtpPacket {
  const protocolData = toLibProtocolData(frame.protocolData);
  switch (frame.type) {
    case "message":
      return { type: BtpFrameType.message, requestId: frame.requestId, data: { protocolData } };
    case "response":
      return { type: BtpFrameType.response, requestId: frame.requestId, data: { protocolData } };
    case "transfer":
      if (!/^(0|[1-9][0-9]{0,19})$/.test(frame.amount) || BigInt(frame.amount) >= 2n ** 64n) {
        throw new BtpMessageError(`amount "${frame.amount}" is not a uint64 in decimal`);
      }
      return {
        type: BtpFrameType.transfer,
        requestId: frame.requestId,
        data: { amount: frame.amount, protocolData },
      };
    case "error":
      if (!/^[\x20-\x7e]{3}$/.test(frame.code)) {
        throw new BtpMessageError(`error code "${frame.code}" is not three ASCII characters`);
      }
      if (Number.isNaN(frame.triggeredAt.getTime())) {
        throw new BtpMessageError("triggeredAt is not a valid date");
      }
      return {
        type: BtpFrameType.error,
        requestId: frame.requestId,
        data: {
          code: frame.code,
          name: frame.name,
          triggeredAt: frame.triggeredAt.toISOString(),
          data: frame.data,
          protocolData,
        },
      };
  }
}

/**
 * Encodes a frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const packet = new Uint8Array([12, 1, 0]); // an ILP packet's bytes
 * const bytes = encodeBtpFrame({ type: "message", requestId: 1, protocolData: [ilpProtocolData(packet)] });
 * assert.deepEqual(getIlpData(decodeBtpFrame(bytes)), packet);
 * ```
 */
export function encodeBtpFrame(frame: BtpFrame, options: BtpCodecOptions = {}): Uint8Array {
  if (!Number.isInteger(frame.requestId) || frame.requestId < 0 || frame.requestId > 0xffffffff) {
    throw new BtpMessageError(`requestId ${frame.requestId} is not a uint32`);
  }
  let bytes = encodeBtpMessageFast(frame); // MESSAGE and RESPONSE by hand, the rest below
  try {
    const buffer = bytes ?? btpPacketLibrary().serialize(toLibPacket(frame));
    // A plain Uint8Array view: Buffer#slice makes views, not copies, which would surprise callers.
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (err) {
    if (err instanceof BtpMessageError) throw err;
    throw new BtpMessageError(`cannot encode BTP ${frame.type}: ${(err as Error).message}`);
  }
  const max = options.maxFrameBytes ?? DEFAULT_MAX_BTP_FRAME_BYTES;
  if (bytes.byteLength > max) {
    throw new BtpMessageError(`frame would be ${bytes.byteLength} bytes, over the limit of ${max}`);
  }
  return bytes;
}

/**
 * Reads the requestId of a frame without decoding it (to answer a frame that is too large or
 * malformed with an ERROR the peer can correlate). Undefined when there are fewer than 5 bytes.
 *
 * @example
 * ```ts
 * peekBtpRequestId(new Uint8Array([6, 0, 0, 0, 7])); // 7
 * ```
 */
export function peekBtpRequestId(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < 5) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1);
}

/** Checks the OER length-prefixed contents end exactly at the end of the frame. */
function checkEnvelope(bytes: Uint8Array) {
  if (bytes.byteLength < 6) throw new BtpMessageError("frame is shorter than a BTP envelope");
  let length = bytes[5];
  let offset = 6;
  if (length & 0x80) {
    const lengthOfLength = length & 0x7f;
    if (lengthOfLength === 0 || lengthOfLength > 4) {
      throw new BtpMessageError(`invalid envelope length prefix 0x${length.toString(16)}`);
    }
    if (bytes.byteLength < offset + lengthOfLength) {
      throw new BtpMessageError("truncated length prefix");
    }
    length = 0;
    for (let i = 0; i < lengthOfLength; i++) length = length * 256 + bytes[offset + i];
    offset += lengthOfLength;
  }
  if (offset + length !== bytes.byteLength) {
    throw new BtpMessageError(
      `envelope says ${length} content bytes, frame has ${bytes.byteLength - offset}`,
    );
  }
}

/**
 * Decodes a frame; throws {@linkcode BtpMessageError} for anything that is not a BTP 2.0 frame
 * of a known type within the size limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = encodeBtpFrame({ type: "response", requestId: 3, protocolData: [] });
 * const frame = decodeBtpFrame(bytes);
 * assert.deepEqual([frame.type, frame.requestId], ["response", 3]);
 * ```
 */
export function decodeBtpFrame(bytes: Uint8Array, options: BtpCodecOptions = {}): BtpFrame {
  const max = options.maxFrameBytes ?? DEFAULT_MAX_BTP_FRAME_BYTES;
  const fast = decodeBtpMessageFast(bytes, max); // a canonical MESSAGE or RESPONSE, by hand
  if (fast !== undefined) return fast;
  if (bytes.byteLength > max) {
    throw new BtpMessageError(`frame is ${bytes.byteLength} bytes, over the limit of ${max}`);
  }
  checkEnvelope(bytes);
  const type = bytes[0];
  if (!(Object.values(BtpFrameType) as number[]).includes(type)) {
    throw new BtpMessageError(`unknown BTP frame type ${type}`);
  }
  let packet: ReturnType<typeof BtpLib.deserialize>;
  try {
    packet = btpPacketLibrary().deserialize(asBuffer(bytes));
  } catch (err) {
    throw new BtpMessageError(`invalid BTP frame: ${(err as Error).message}`);
  }
  const frame = fromLibPacket(packet);
  if (frame.type === "message" || frame.type === "response") {
    requireCanonicalMessage(bytes, frame.protocolData);
  } else requireCanonical(bytes, frame, max);
  return frame;
}

/**
 * The decoded frame must encode back to the very same bytes: `btp-packet` reads names as 7-bit
 * ASCII, text with U+FFFD replacement and accepts long prefixes (two byte strings, one frame).
 */
function requireCanonical(bytes: Uint8Array, frame: BtpFrame, max: number) {
  let again: Uint8Array;
  try {
    again = encodeBtpFrame(frame, { maxFrameBytes: max });
  } catch {
    throw new BtpMessageError("invalid BTP frame: fields do not form an encodable frame");
  }
  if (again.byteLength !== bytes.byteLength || again.some((b, i) => b !== bytes[i])) {
    throw new BtpMessageError(
      "invalid BTP frame: not the canonical encoding (bad characters or length prefixes)",
    );
  }
}

/**
 * For MESSAGE and RESPONSE, the proof of {@linkcode requireCanonical} by one walk over the bytes
 * (shortest prefixes, btp-packet's entry count, printable names, nothing after the last entry).
 */
function requireCanonicalMessage(bytes: Uint8Array, entries: BtpProtocolData[]): void {
  try {
    const envelope = readCanonicalLength(bytes, 5);
    const end = envelope.start + envelope.length;
    let at = envelope.start;
    const n = entries.length;
    // btp-packet: one byte giving the count's size, max(1, ceil(log2(n + 1) / 8)), then the count.
    const countBytes = Math.max(1, Math.ceil(Math.log2(n + 1) / 8));
    if (at + 1 + countBytes > end || bytes[at] !== countBytes) {
      throw new OerLengthPrefixError("entry count");
    }
    let count = 0;
    for (let i = 0; i < countBytes; i++) count = count * 256 + bytes[at + 1 + i];
    if (count !== n) throw new OerLengthPrefixError("entry count");
    at += 1 + countBytes;
    for (const entry of entries) {
      const name = readCanonicalLength(bytes, at, end);
      const text = entry.protocolName;
      if (name.length !== text.length) throw new OerLengthPrefixError("protocol name");
      for (let i = 0; i < name.length; i++) {
        const b = bytes[name.start + i];
        if (b !== text.charCodeAt(i) || b < 0x20 || b > 0x7e) {
          throw new OerLengthPrefixError("protocol name is not printable ASCII");
        }
      }
      at = name.start + name.length;
      if (at >= end) throw new OerLengthPrefixError("truncated entry");
      const data = readCanonicalLength(bytes, at + 1, end);
      at = data.start + data.length;
    }
    if (at !== end || end !== bytes.byteLength) throw new OerLengthPrefixError("trailing bytes");
  } catch (err) {
    if (!(err instanceof OerLengthPrefixError)) throw err;
    throw new BtpMessageError(
      "invalid BTP frame: not the canonical encoding (bad characters or length prefixes)",
    );
  }
}

function fromLibPacket(packet: ReturnType<typeof BtpLib.deserialize>): BtpFrame {
  const { requestId } = packet;
  // btp-packet's deserialize returns an untyped union; narrow by the type octet.
  const data = packet.data as {
    protocolData: BtpLib.ProtocolData[];
    amount?: string;
    code?: string;
    name?: string;
    triggeredAt?: Date;
    data?: string;
  };
  const protocolData = fromLibProtocolData(data.protocolData);
  switch (packet.type) {
    case BtpFrameType.message:
      return { type: "message", requestId, protocolData };
    case BtpFrameType.response:
      return { type: "response", requestId, protocolData };
    case BtpFrameType.transfer:
      return { type: "transfer", requestId, amount: data.amount ?? "0", protocolData };
    default: {
      const triggeredAt = data.triggeredAt ?? new Date(NaN);
      if (Number.isNaN(triggeredAt.getTime())) {
        throw new BtpMessageError("invalid BTP ERROR: triggeredAt is not a GeneralizedTime");
      }
      return {
        type: "error",
        requestId,
        code: data.code ?? "",
        name: data.name ?? "",
        triggeredAt,
        data: data.data ?? "",
        protocolData,
      };
    }
  }
}

/**
 * The `ilp` protocol data entry for an ILP packet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const entry = ilpProtocolData(new Uint8Array([12, 1, 0])); // an ILP packet's bytes
 * assert.deepEqual([entry.protocolName, entry.contentType], ["ilp", 0]);
 * ```
 */
export function ilpProtocolData(packet: Uint8Array): BtpProtocolData {
  return { protocolName: "ilp", contentType: BtpContentType.octetStream, data: packet };
}

/** Options for {@linkcode authProtocolData}. */
export interface BtpAuthOptions {
  /** Sent as `auth_username`; ilp-plugin-btp sends "" when it has none. */
  username?: string;
  /** Sent as `auth_token`: the secret the BTP server authenticates this peer by. */
  token: string;
}

/**
 * The protocol data of the auth MESSAGE, exactly as ilp-plugin-btp sends it: `auth` first (empty,
 * octet-stream), then `auth_username` and `auth_token` as text/plain.
 *
 * @example
 * ```ts
 * const frame = { type: "message", requestId: 1, protocolData: authProtocolData({ token: "s3cret" }) };
 * ```
 */
export function authProtocolData(options: BtpAuthOptions): BtpProtocolData[] {
  const enc = new TextEncoder();
  return [
    { protocolName: "auth", contentType: BtpContentType.octetStream, data: new Uint8Array(0) },
    {
      protocolName: "auth_username",
      contentType: BtpContentType.textPlainUtf8,
      data: enc.encode(options.username ?? ""),
    },
    {
      protocolName: "auth_token",
      contentType: BtpContentType.textPlainUtf8,
      data: enc.encode(options.token),
    },
  ];
}

/**
 * The first protocol data entry with this name, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const claim = { protocolName: "payment-channel-claim", contentType: 2, data: new Uint8Array([123, 125]) };
 * assert.equal(getProtocolData({ protocolData: [claim] }, "payment-channel-claim"), claim);
 * ```
 */
export function getProtocolData(
  frame: { protocolData: BtpProtocolData[] },
  protocolName: string,
): BtpProtocolData | undefined {
  return frame.protocolData.find((p) => p.protocolName === protocolName);
}

/**
 * The bytes of the `ilp` entry, or undefined when the frame carries none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const frame = { protocolData: [ilpProtocolData(new Uint8Array([14, 0]))] };
 * assert.deepEqual(getIlpData(frame), new Uint8Array([14, 0]));
 * ```
 */
export function getIlpData(frame: { protocolData: BtpProtocolData[] }): Uint8Array | undefined {
  return getProtocolData(frame, "ilp")?.data;
}

/**
 * A text/plain (or JSON) entry as a string, or undefined; throws {@linkcode BtpMessageError}
 * when the entry exists but is binary or not valid UTF-8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const authFrame = { protocolData: authProtocolData({ token: "s3cret" }) };
 * assert.equal(getTextProtocolData(authFrame, "auth_token"), "s3cret");
 * ```
 */
export function getTextProtocolData(
  frame: { protocolData: BtpProtocolData[] },
  protocolName: string,
): string | undefined {
  const entry = getProtocolData(frame, protocolName);
  if (!entry) return undefined;
  if (entry.contentType === BtpContentType.octetStream) {
    throw new BtpMessageError(`protocol data "${protocolName}" is binary, not text`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(entry.data);
  } catch {
    throw new BtpMessageError(`protocol data "${protocolName}" is not valid UTF-8`);
  }
}

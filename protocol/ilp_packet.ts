/**
 * ILPv4 packets (RFC 27): PREPARE, FULFILL, REJECT, through the `ilp-packet` library, with the
 * checks it leaves out (size limits, trailing bytes, invalid timestamps, amount range) and one
 * error class, {@linkcode IlpPacketError}, for every bad input. Also the ILP error-code table.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { Buffer } from "node:buffer";
import type * as IlpLib from "ilp-packet";
import { ilpPacketLibrary } from "./packet_libraries.ts";
import { isIlpAddress } from "./peer_info.ts";
import { OerLengthPrefixError, readCanonicalLength } from "./oer_length_prefix.ts";
import { decodeIlpPrepareFast, encodeIlpFulfillFast } from "./ilp_fast_codec.ts";

/** RFC 27: the data field of an ILP packet is at most 32767 bytes. */
export const MAX_ILP_DATA_BYTES = 32767;

/**
 * Default largest ILP packet accepted: 32767 bytes of data plus the largest PREPARE header
 * (type, length prefix, amount, expiry, condition, a 1023-byte address and prefixes).
 */
export const DEFAULT_MAX_ILP_PACKET_BYTES: number = 32767 + 1 + 4 + 8 + 17 + 32 + 3 + 1023 + 3;

/** Largest uint64, the range of ILP amounts. */
export const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/** Packet type octets (RFC 27). */
export const IlpPacketType = { prepare: 12, fulfill: 13, reject: 14 } as const;

/** A PREPARE. `amount` is a uint64 in decimal (as on the wire, no precision loss). */
export interface IlpPrepare {
  /** Base units of the asset, decimal uint64 (0 to {@linkcode MAX_UINT64}). */
  amount: string;
  /** Deadline for the fulfillment; millisecond precision on the wire. */
  expiresAt: Date;
  /** 32 bytes. */
  executionCondition: Uint8Array;
  /** ILP address of the receiver, e.g. `g.town.alice`; at most 1023 characters. */
  destination: string;
  /** End-to-end payload, at most {@linkcode MAX_ILP_DATA_BYTES} bytes (a TOON event here). */
  data: Uint8Array;
}

/** A FULFILL. */
export interface IlpFulfill {
  /** 32 bytes; SHA-256 of it is the PREPARE's condition. */
  fulfillment: Uint8Array;
  /** Payload back to the sender, at most {@linkcode MAX_ILP_DATA_BYTES} bytes. */
  data: Uint8Array;
}

/** A REJECT. */
export interface IlpReject {
  /** Three characters, e.g. "F02". */
  code: string;
  /** ILP address of the node that rejected, or "". */
  triggeredBy: string;
  /** Human-readable reason, UTF-8; may be "". */
  message: string;
  /** Machine-readable detail, at most {@linkcode MAX_ILP_DATA_BYTES} bytes; often empty. */
  data: Uint8Array;
}

/** A decoded packet, tagged by type. */
export type IlpPacket =
  | ({ type: "prepare" } & IlpPrepare)
  | ({ type: "fulfill" } & IlpFulfill)
  | ({ type: "reject" } & IlpReject);

/** A decoded reply to a PREPARE. */
export type IlpReply = ({ type: "fulfill" } & IlpFulfill) | ({ type: "reject" } & IlpReject);

/** Options for the decoders and encoders. */
export interface IlpCodecOptions {
  /** Largest whole packet accepted, in bytes. Default {@linkcode DEFAULT_MAX_ILP_PACKET_BYTES}. */
  maxPacketBytes?: number;
}

/** Bytes that are not a valid ILP packet of the expected type, or a packet that cannot be built. */
export class IlpPacketError extends ProtocolError {
  override name = "IlpPacketError";
}

/**
 * ILP error codes (RFC 27) by name, so code says which error it means rather than a literal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const reply = decodeIlpReply(encodeIlpReject({ code: "T05", triggeredBy: "g.town", message: "", data: new Uint8Array(0) }));
 * assert.ok(reply.type === "reject" && reply.code === ILP_ERROR.rateLimited); // retry later
 * ```
 */
export const ILP_ERROR = {
  badRequest: "F00",
  invalidPacket: "F01",
  unreachable: "F02",
  invalidAmount: "F03",
  insufficientDestinationAmount: "F04",
  wrongCondition: "F05",
  unexpectedPayment: "F06",
  cannotReceive: "F07",
  amountTooLarge: "F08",
  finalApplicationError: "F99",
  internalError: "T00",
  peerUnreachable: "T01",
  peerBusy: "T02",
  connectorBusy: "T03",
  insufficientLiquidity: "T04",
  rateLimited: "T05",
  temporaryApplicationError: "T99",
  transferTimedOut: "R00",
  insufficientSourceAmount: "R01",
  insufficientTimeout: "R02",
  relativeApplicationError: "R99",
} as const;

/** One of the RFC 27 codes (`ilp-packet`'s own type). */
export type IlpErrorCode = IlpLib.IlpErrorCode;

/** `ilp-packet`'s `IlpError` enum written out: the library is loaded at its first packet. */
const ILP_ERROR_NAMES = "F00 Bad Request,F01 Invalid Packet,F02 Unreachable,F03 Invalid Amount," +
  "F04 Insufficient Destination Amount,F05 Wrong Condition,F06 Unexpected Payment," +
  "F07 Cannot Receive,F08 Amount Too Large,F99 Application Error,T00 Internal Error," +
  "T01 Peer Unreachable,T02 Peer Busy,T03 Connector Busy,T04 Insufficient Liquidity," +
  "T05 Rate Limited,T99 Application Error,R00 Transfer Timed Out," +
  "R01 Insufficient Source Amount,R02 Insufficient Timeout,R99 Application Error";

/**
 * ILP error codes with the names RFC 27 gives them, as `ilp-packet`'s `IlpError` enum has them
 * (`F04_INSUFFICIENT_DESTINATION_AMOUNT` -> `F04`: "Insufficient Destination Amount").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(ILP_ERROR_CODES.T05, "Rate Limited");
 * ```
 */
export const ILP_ERROR_CODES: Readonly<Record<string, string>> = Object.fromEntries(
  ILP_ERROR_NAMES.split(",").map((entry) => [entry.slice(0, 3), entry.slice(4)]),
);

const ERROR_CODE_PATTERN = /^[FTR][0-9A-Z]{2}$/;

/**
 * True for a well-formed error code: F, T or R and two digits or capitals (RFC 27 reserves the
 * unassigned ones, so a receiver must still classify them by their first letter).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual([isIlpErrorCode("F02"), isIlpErrorCode("X00")], [true, false]);
 * ```
 */
export function isIlpErrorCode(code: string): boolean {
  return ERROR_CODE_PATTERN.test(code);
}

/**
 * The RFC 27 name of a code, or a generic one for an unassigned code of a known class.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual([ilpErrorName("T05"), ilpErrorName("F42")], ["Rate Limited", "Final Error"]);
 * ```
 */
export function ilpErrorName(code: string): string {
  const name = ILP_ERROR_CODES[code];
  if (name) return name;
  if (!isIlpErrorCode(code)) return "Unknown Error";
  return { F: "Final Error", T: "Temporary Error", R: "Relative Error" }[code[0]] ?? "Unknown";
}

/**
 * Final (F) errors: retrying the same packet cannot succeed.
 *
 * @example
 * ```ts
 * isFinalError("F05"); // true
 * ```
 */
export function isFinalError(code: string): boolean {
  return isIlpErrorCode(code) && code[0] === "F";
}

/**
 * Temporary (T) errors: the same packet may succeed later.
 *
 * @example
 * ```ts
 * isTemporaryError("T05"); // true
 * ```
 */
export function isTemporaryError(code: string): boolean {
  return isIlpErrorCode(code) && code[0] === "T";
}

/**
 * Relative (R) errors: the packet's parameters (expiry, amount) relative to the path were wrong.
 *
 * @example
 * ```ts
 * isRelativeError("R00"); // true
 * ```
 */
export function isRelativeError(code: string): boolean {
  return isIlpErrorCode(code) && code[0] === "R";
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Copies a Buffer view into a plain Uint8Array (so results do not pin the input). */
function copyOut(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * Reads the OER envelope (type octet + length-prefixed contents) and checks that it covers the
 * input exactly: `ilp-packet` ignores trailing bytes, which would let two different byte strings
 * decode to the same packet.
 */
function checkEnvelope(
  bytes: Uint8Array,
  expectedType: number | undefined,
  max: number,
): number {
  if (bytes.byteLength > max) {
    throw new IlpPacketError(`packet is ${bytes.byteLength} bytes, over the limit of ${max}`);
  }
  if (bytes.byteLength < 2) throw new IlpPacketError("packet is shorter than an envelope");
  if (expectedType !== undefined && bytes[0] !== expectedType) {
    throw new IlpPacketError(`packet has type ${bytes[0]}, expected ${expectedType}`);
  }
  let length = bytes[1];
  let offset = 2;
  if (length & 0x80) {
    const lengthOfLength = length & 0x7f;
    if (lengthOfLength === 0 || lengthOfLength > 3) {
      throw new IlpPacketError(`invalid envelope length prefix 0x${length.toString(16)}`);
    }
    if (bytes.byteLength < 2 + lengthOfLength) throw new IlpPacketError("truncated length prefix");
    length = 0;
    for (let i = 0; i < lengthOfLength; i++) length = length * 256 + bytes[2 + i];
    offset += lengthOfLength;
  }
  if (offset + length !== bytes.byteLength) {
    throw new IlpPacketError(
      `envelope says ${length} content bytes, packet has ${bytes.byteLength - offset}`,
    );
  }
  return offset;
}

/**
 * The 17-digit Interledger timestamp (YYYYMMDDHHmmssSSS, UTC) must be a real instant:
 * `ilp-packet` lets month 13 or day 99 roll over into another date, a wrong answer.
 */
function checkTimestamp(raw: Uint8Array, decoded: Date) {
  const text = String.fromCharCode(...raw);
  const iso = decoded.toISOString();
  const canonical = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) +
    iso.slice(14, 16) + iso.slice(17, 19) + iso.slice(20, 23);
  if (text !== canonical) {
    throw new IlpPacketError(`invalid PREPARE: expiresAt "${text}" is not a valid timestamp`);
  }
}

/**
 * The decoded value must encode back to the very same bytes. `ilp-packet` reads addresses as
 * 7-bit ASCII (0xE5 becomes "e"), text with U+FFFD replacement and accepts long-form length
 * prefixes, so different bytes could otherwise decode to the same, or a wrong, packet.
 */
function requireCanonical(bytes: Uint8Array, encode: () => Uint8Array, what: string) {
  let again: Uint8Array;
  try {
    again = encode();
  } catch {
    throw new IlpPacketError(`invalid ${what}: fields do not form an encodable packet`);
  }
  if (again.byteLength !== bytes.byteLength || again.some((b, i) => b !== bytes[i])) {
    throw new IlpPacketError(
      `invalid ${what}: not the canonical encoding (bad characters or length prefixes)`,
    );
  }
}

/**
 * Proves the PREPARE bytes are the canonical encoding of what ilp-packet decoded, by one walk
 * over them (what {@linkcode requireCanonical} proves by re-encoding, at a fraction of the cost
 * on the town's hot path): shortest length prefixes, the destination's bytes exactly the ASCII
 * of the decoded address, and the data ending exactly at the end of the packet. Amount,
 * expiry and condition are fixed-size fields whose values were checked by the caller.
 */
function requireCanonicalPrepare(bytes: Uint8Array, destination: string): void {
  try {
    const envelope = readCanonicalLength(bytes, 1);
    const end = envelope.start + envelope.length;
    const dest = readCanonicalLength(bytes, envelope.start + 8 + 17 + 32, end);
    if (dest.length !== destination.length) throw new OerLengthPrefixError("destination");
    for (let i = 0; i < dest.length; i++) {
      if (bytes[dest.start + i] !== destination.charCodeAt(i)) {
        throw new OerLengthPrefixError("destination is not ASCII");
      }
    }
    const data = readCanonicalLength(bytes, dest.start + dest.length, end);
    if (data.start + data.length !== end || end !== bytes.byteLength) {
      throw new OerLengthPrefixError("trailing bytes");
    }
  } catch (err) {
    if (!(err instanceof OerLengthPrefixError)) throw err;
    throw new IlpPacketError(
      `invalid PREPARE: not the canonical encoding (bad characters or length prefixes)`,
    );
  }
  if (!isIlpAddress(destination)) {
    throw new IlpPacketError(`invalid PREPARE: fields do not form an encodable packet`);
  }
}

/** As {@linkcode requireCanonicalPrepare}, for a FULFILL: 32 fixed bytes, then the data. */
function requireCanonicalFulfill(bytes: Uint8Array): void {
  try {
    const envelope = readCanonicalLength(bytes, 1);
    const end = envelope.start + envelope.length;
    const data = readCanonicalLength(bytes, envelope.start + 32, end);
    if (data.start + data.length !== end || end !== bytes.byteLength) {
      throw new OerLengthPrefixError("trailing bytes");
    }
  } catch (err) {
    if (!(err instanceof OerLengthPrefixError)) throw err;
    throw new IlpPacketError(
      `invalid FULFILL: not the canonical encoding (bad characters or length prefixes)`,
    );
  }
}

function libError(err: unknown, what: string): IlpPacketError {
  if (err instanceof IlpPacketError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new IlpPacketError(`invalid ${what}: ${message}`);
}

function checkData(data: Uint8Array) {
  if (data.byteLength > MAX_ILP_DATA_BYTES) {
    throw new IlpPacketError(
      `data is ${data.byteLength} bytes, over the ILP limit of ${MAX_ILP_DATA_BYTES}`,
    );
  }
}

function checkAmount(amount: string) {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(amount) || BigInt(amount) > MAX_UINT64) {
    throw new IlpPacketError(`amount "${amount}" is not a uint64 in decimal`);
  }
}

/**
 * Encodes a PREPARE.
 *
 * @example
 * ```ts
 * const bytes = encodeIlpPrepare({ amount: "100", destination: "test.bob", expiresAt: new Date(Date.now() + 30_000),
 *   executionCondition: new Uint8Array(32), data: new Uint8Array(0) });
 * ```
 */
export function encodeIlpPrepare(prepare: IlpPrepare, options: IlpCodecOptions = {}): Uint8Array {
  checkAmount(prepare.amount);
  checkData(prepare.data);
  if (prepare.executionCondition.byteLength !== 32) {
    throw new IlpPacketError("executionCondition must be 32 bytes");
  }
  if (!isIlpAddress(prepare.destination)) {
    throw new IlpPacketError(`invalid destination address "${prepare.destination}"`);
  }
  if (!(prepare.expiresAt instanceof Date) || Number.isNaN(prepare.expiresAt.getTime())) {
    throw new IlpPacketError("expiresAt must be a valid Date");
  }
  let bytes: Uint8Array;
  try {
    bytes = ilpPacketLibrary().serializeIlpPrepare({
      amount: prepare.amount,
      expiresAt: prepare.expiresAt,
      executionCondition: asBuffer(prepare.executionCondition),
      destination: prepare.destination,
      data: asBuffer(prepare.data),
    });
  } catch (err) {
    throw libError(err, "PREPARE");
  }
  return checkEncodedSize(bytes, options);
}

/**
 * Returns a plain Uint8Array view of the library's Buffer: Buffer#slice makes views, not
 * copies, which would surprise every caller that treats the result as a Uint8Array.
 */
function checkEncodedSize(buffer: Uint8Array, options: IlpCodecOptions): Uint8Array {
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const max = options.maxPacketBytes ?? DEFAULT_MAX_ILP_PACKET_BYTES;
  if (bytes.byteLength > max) {
    throw new IlpPacketError(`packet would be ${bytes.byteLength} bytes, over the limit of ${max}`);
  }
  return bytes;
}

/**
 * Decodes a PREPARE; throws {@linkcode IlpPacketError} on anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const prepare = decodeIlpPrepare(encodeIlpPrepare({ amount: "100", destination: "test.bob", expiresAt: new Date("2030-01-01T00:00:00Z"), executionCondition: new Uint8Array(32), data: new Uint8Array(0) }));
 * assert.deepEqual([prepare.destination, prepare.amount], ["test.bob", "100"]);
 * ```
 */
export function decodeIlpPrepare(bytes: Uint8Array, options: IlpCodecOptions = {}): IlpPrepare {
  const max = options.maxPacketBytes ?? DEFAULT_MAX_ILP_PACKET_BYTES;
  // A canonical PREPARE by hand (the town's hot path); anything else decided, and worded, below.
  const fast = decodeIlpPrepareFast(bytes, max);
  if (fast) return fast;
  const contentOffset = checkEnvelope(bytes, IlpPacketType.prepare, max);
  let p: IlpLib.IlpPrepare;
  try {
    p = ilpPacketLibrary().deserializeIlpPrepare(asBuffer(bytes));
  } catch (err) {
    throw libError(err, "PREPARE");
  }
  if (Number.isNaN(p.expiresAt.getTime())) {
    throw new IlpPacketError("invalid PREPARE: expiresAt is not a valid timestamp");
  }
  checkTimestamp(bytes.subarray(contentOffset + 8, contentOffset + 25), p.expiresAt);
  // ilp-packet writes years below 1000 with fewer than 4 digits: such a PREPARE cannot be
  // encoded back (forwarded) as it was.
  if (p.expiresAt.getUTCFullYear() < 1000) {
    throw new IlpPacketError("invalid PREPARE: fields do not form an encodable packet");
  }
  checkData(p.data);
  const prepare = {
    amount: p.amount,
    expiresAt: p.expiresAt,
    executionCondition: copyOut(p.executionCondition),
    destination: p.destination,
    data: copyOut(p.data),
  };
  requireCanonicalPrepare(bytes, prepare.destination);
  return prepare;
}

/**
 * Encodes a FULFILL.
 *
 * @example
 * ```ts
 * encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) });
 * ```
 */
export function encodeIlpFulfill(fulfill: IlpFulfill, options: IlpCodecOptions = {}): Uint8Array {
  checkData(fulfill.data);
  if (fulfill.fulfillment.byteLength !== 32) {
    throw new IlpPacketError("fulfillment must be 32 bytes");
  }
  return checkEncodedSize(encodeIlpFulfillFast(fulfill.fulfillment, fulfill.data), options);
}

/**
 * Decodes a FULFILL; throws {@linkcode IlpPacketError} on anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(decodeIlpFulfill(encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) })).fulfillment.length, 32);
 * ```
 */
export function decodeIlpFulfill(bytes: Uint8Array, options: IlpCodecOptions = {}): IlpFulfill {
  checkEnvelope(
    bytes,
    IlpPacketType.fulfill,
    options.maxPacketBytes ?? DEFAULT_MAX_ILP_PACKET_BYTES,
  );
  try {
    const f = ilpPacketLibrary().deserializeIlpFulfill(asBuffer(bytes));
    checkData(f.data);
    const fulfill = { fulfillment: copyOut(f.fulfillment), data: copyOut(f.data) };
    requireCanonicalFulfill(bytes);
    return fulfill;
  } catch (err) {
    throw libError(err, "FULFILL");
  }
}

/**
 * Encodes a REJECT. The code must be well formed (see {@linkcode isIlpErrorCode}).
 *
 * @example
 * ```ts
 * encodeIlpReject({ code: "F02", triggeredBy: "test.conn", message: "no route", data: new Uint8Array(0) });
 * ```
 */
export function encodeIlpReject(reject: IlpReject, options: IlpCodecOptions = {}): Uint8Array {
  checkData(reject.data);
  if (!isIlpErrorCode(reject.code)) {
    throw new IlpPacketError(`invalid error code "${reject.code}"`);
  }
  if (reject.triggeredBy !== "" && !isIlpAddress(reject.triggeredBy)) {
    throw new IlpPacketError(`invalid triggeredBy address "${reject.triggeredBy}"`);
  }
  try {
    return checkEncodedSize(
      ilpPacketLibrary().serializeIlpReject({
        code: reject.code,
        triggeredBy: reject.triggeredBy,
        message: reject.message,
        data: asBuffer(reject.data),
      }),
      options,
    );
  } catch (err) {
    throw libError(err, "REJECT");
  }
}

/**
 * Decodes a REJECT; throws {@linkcode IlpPacketError} on anything else (including a code that
 * is not three ASCII characters of the F/T/R classes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { code, message } = decodeIlpReject(encodeIlpReject({ code: "F02", triggeredBy: "g.town", message: "no route", data: new Uint8Array(0) }));
 * assert.deepEqual([code, message], ["F02", "no route"]);
 * ```
 */
export function decodeIlpReject(bytes: Uint8Array, options: IlpCodecOptions = {}): IlpReject {
  checkEnvelope(
    bytes,
    IlpPacketType.reject,
    options.maxPacketBytes ?? DEFAULT_MAX_ILP_PACKET_BYTES,
  );
  let r: IlpLib.IlpReject;
  try {
    r = ilpPacketLibrary().deserializeIlpReject(asBuffer(bytes));
  } catch (err) {
    throw libError(err, "REJECT");
  }
  if (!isIlpErrorCode(r.code)) throw new IlpPacketError(`invalid REJECT: bad code "${r.code}"`);
  checkData(r.data);
  const reject = {
    code: r.code,
    triggeredBy: r.triggeredBy,
    message: r.message,
    data: copyOut(r.data),
  };
  requireCanonical(bytes, () => encodeIlpReject(reject), "REJECT");
  return reject;
}

/**
 * Decodes a FULFILL or REJECT (the answer to a PREPARE).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const reply = decodeIlpReply(encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) }));
 * assert.equal(reply.type, "fulfill");
 * ```
 */
export function decodeIlpReply(bytes: Uint8Array, options: IlpCodecOptions = {}): IlpReply {
  if (bytes[0] === IlpPacketType.fulfill) {
    return { type: "fulfill", ...decodeIlpFulfill(bytes, options) };
  }
  if (bytes[0] === IlpPacketType.reject) {
    return { type: "reject", ...decodeIlpReject(bytes, options) };
  }
  throw new IlpPacketError(`expected FULFILL or REJECT, got packet type ${bytes[0]}`);
}

/**
 * Decodes any ILP packet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const packet = decodeIlpPacket(encodeIlpReject({ code: "F02", triggeredBy: "", message: "", data: new Uint8Array(0) }));
 * assert.equal(packet.type, "reject");
 * ```
 */
export function decodeIlpPacket(bytes: Uint8Array, options: IlpCodecOptions = {}): IlpPacket {
  if (bytes[0] === IlpPacketType.prepare) {
    return { type: "prepare", ...decodeIlpPrepare(bytes, options) };
  }
  return decodeIlpReply(bytes, options);
}

/**
 * Encodes a FULFILL or REJECT.
 *
 * @example
 * ```ts
 * encodeIlpReply({ type: "reject", code: "T00", triggeredBy: "", message: "", data: new Uint8Array(0) });
 * ```
 */
export function encodeIlpReply(reply: IlpReply, options: IlpCodecOptions = {}): Uint8Array {
  return reply.type === "fulfill"
    ? encodeIlpFulfill(reply, options)
    : encodeIlpReject(reply, options);
}

/**
 * True for a valid ILP address (RFC 15).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual([isValidIlpAddress("test.conn.alice"), isValidIlpAddress("no spaces.x")], [true, false]);
 * ```
 */
export function isValidIlpAddress(address: string): boolean {
  return isIlpAddress(address);
}

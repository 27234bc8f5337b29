/**
 * IL-DCP (RFC 31): how a child learns its ILP address and asset from its parent. The request is
 * a PREPARE to `peer.config` with amount 0 and the peer-protocol condition (SHA-256 of 32 zero
 * bytes); the answer is a FULFILL with the all-zero fulfillment whose data is
 * `VarOctetString clientAddress, UInt8 assetScale, VarOctetString assetCode` (OER).
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import {
  decodeIlpFulfill,
  decodeIlpPrepare,
  encodeIlpFulfill,
  encodeIlpPrepare,
  IlpPacketError,
  isValidIlpAddress,
} from "./ilp_packet.ts";
import { equalBytes } from "@noble/curves/utils.js";

/** The IL-DCP destination address. */
export const ILDCP_DESTINATION = "peer.config";

/** The peer-protocol fulfillment: 32 zero bytes. */
export const PEER_PROTOCOL_FULFILLMENT: Uint8Array = new Uint8Array(32);

/** SHA-256 of {@linkcode PEER_PROTOCOL_FULFILLMENT}, the condition of every peer-protocol PREPARE. */
export const PEER_PROTOCOL_CONDITION: Uint8Array = Uint8Array.from(
  atob("Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU="),
  (c) => c.charCodeAt(0),
);

/** Default lifetime of an IL-DCP request (what ilp-protocol-ildcp uses). */
export const DEFAULT_ILDCP_EXPIRY_MS = 60_000;

/** What the parent tells the child. */
export interface IldcpResponse {
  /** The ILP address the parent assigned to the child, e.g. `g.town.alice`. */
  clientAddress: string;
  /** Decimal places of the asset's base unit, 0-255 (9 means 1 unit = 10^9 base units). */
  assetScale: number;
  /** Asset code, e.g. `USD` or `M2M`; UTF-8 text. */
  assetCode: string;
}

/** Options for {@linkcode encodeIldcpRequest}. */
export interface IldcpRequestOptions {
  /** Default: now + 60 s. */
  expiresAt?: Date;
}

/** A packet that is not a valid IL-DCP request or response. */
export class IldcpError extends ProtocolError {
  /** `"IldcpError"`: explicit so it survives bundling. */
  override name = "IldcpError";
}

/**
 * Builds the IL-DCP request PREPARE.
 *
 * @example
 * ```ts
 * import { encodeIldcpRequest } from "./ildcp.ts";
 *
 * import assert from "node:assert/strict";
 *
 * // sent to the parent as a BTP `ilp` sub-protocol message; it answers with a FULFILL
 * const prepare = encodeIldcpRequest({ expiresAt: new Date("2030-01-01T00:00:00Z") });
 * assert.equal(decodeIldcpRequest(prepare).expiresAt.toISOString(), "2030-01-01T00:00:00.000Z");
 * ```
 */
export function encodeIldcpRequest(options: IldcpRequestOptions = {}): Uint8Array {
  return encodeIlpPrepare({
    amount: "0",
    destination: ILDCP_DESTINATION,
    executionCondition: PEER_PROTOCOL_CONDITION,
    expiresAt: options.expiresAt ?? new Date(Date.now() + DEFAULT_ILDCP_EXPIRY_MS),
    data: new Uint8Array(0),
  });
}

/**
 * True when a decoded PREPARE is an IL-DCP request (destination and condition match).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIldcpRequest, isIldcpRequest } from "./ildcp.ts";
 * import { decodeIlpPrepare } from "./ilp_packet.ts";
 *
 * const prepare = decodeIlpPrepare(encodeIldcpRequest());
 * assert.ok(isIldcpRequest(prepare));
 * ```
 */
export function isIldcpRequest(
  prepare: { destination: string; executionCondition: Uint8Array },
): boolean {
  return prepare.destination === ILDCP_DESTINATION &&
    equalBytes(prepare.executionCondition, PEER_PROTOCOL_CONDITION);
}

/**
 * Checks the bytes are an IL-DCP request; throws {@linkcode IldcpError} otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(decodeIldcpRequest(encodeIldcpRequest()).expiresAt > new Date());
 * assert.throws(() => decodeIldcpRequest(new Uint8Array([12, 0])), IldcpError);
 * ```
 */
export function decodeIldcpRequest(bytes: Uint8Array): { expiresAt: Date } {
  const prepare = wrap(() => decodeIlpPrepare(bytes));
  if (!isIldcpRequest(prepare)) throw new IldcpError("PREPARE is not an IL-DCP request");
  return { expiresAt: prepare.expiresAt };
}

/**
 * Builds the FULFILL answering an IL-DCP request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const fulfill = encodeIldcpResponse({ clientAddress: "test.conn.alice", assetScale: 6, assetCode: "USD" });
 * assert.equal(decodeIldcpResponse(fulfill).clientAddress, "test.conn.alice");
 * ```
 */
export function encodeIldcpResponse(response: IldcpResponse): Uint8Array {
  if (!isValidIlpAddress(response.clientAddress)) {
    throw new IldcpError(`invalid client address "${response.clientAddress}"`);
  }
  if (
    !Number.isInteger(response.assetScale) || response.assetScale < 0 || response.assetScale > 255
  ) {
    throw new IldcpError(`asset scale ${response.assetScale} is not a uint8`);
  }
  const address = new TextEncoder().encode(response.clientAddress);
  const code = new TextEncoder().encode(response.assetCode);
  const data = [...varOctetString(address), response.assetScale, ...varOctetString(code)];
  return encodeIlpFulfill({ fulfillment: PEER_PROTOCOL_FULFILLMENT, data: Uint8Array.from(data) });
}

/**
 * Decodes the FULFILL answering an IL-DCP request; throws {@linkcode IldcpError} on anything
 * else (a REJECT, a wrong fulfillment, malformed data, an invalid address, trailing bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIldcpResponse, encodeIldcpResponse } from "./ildcp.ts";
 *
 * const reply = encodeIldcpResponse({ clientAddress: "g.town.alice", assetScale: 6, assetCode: "USD" });
 * const { clientAddress, assetScale, assetCode } = decodeIldcpResponse(reply);
 * assert.deepEqual([clientAddress, assetScale, assetCode], ["g.town.alice", 6, "USD"]);
 * ```
 */
export function decodeIldcpResponse(bytes: Uint8Array): IldcpResponse {
  const { fulfillment, data } = wrap(() => decodeIlpFulfill(bytes));
  if (!equalBytes(fulfillment, PEER_PROTOCOL_FULFILLMENT)) {
    throw new IldcpError("IL-DCP response does not carry the all-zero fulfillment");
  }
  const reader = { bytes: data, offset: 0 };
  const addressBytes = readVarOctetString(reader);
  if (!/^[\x21-\x7e]*$/.test(latin1(addressBytes))) {
    throw new IldcpError("client address is not ASCII");
  }
  const clientAddress = latin1(addressBytes);
  if (!isValidIlpAddress(clientAddress)) {
    throw new IldcpError(`invalid client address "${clientAddress}"`);
  }
  if (reader.offset >= data.byteLength) throw new IldcpError("IL-DCP data ends before assetScale");
  const assetScale = data[reader.offset++];
  let assetCode: string;
  try {
    assetCode = new TextDecoder("utf-8", { fatal: true }).decode(readVarOctetString(reader));
  } catch (err) {
    if (err instanceof IldcpError) throw err;
    throw new IldcpError("asset code is not valid UTF-8");
  }
  if (reader.offset !== data.byteLength) {
    throw new IldcpError(`${data.byteLength - reader.offset} trailing bytes in IL-DCP data`);
  }
  return { clientAddress, assetScale, assetCode };
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof IlpPacketError) throw new IldcpError(`not an IL-DCP packet: ${err.message}`);
    throw err;
  }
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

// Hand-written OER var-octet-string: two tiny functions, where oer-utils (ilp-packet's own
// dependency) is not in the import map and would bring a Buffer-based API for three fields.
function varOctetString(bytes: Uint8Array): number[] {
  const n = bytes.byteLength;
  if (n < 128) return [n, ...bytes];
  const len: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
  return [0x80 | len.length, ...len, ...bytes];
}

function readVarOctetString(reader: { bytes: Uint8Array; offset: number }): Uint8Array {
  const { bytes } = reader;
  if (reader.offset >= bytes.byteLength) throw new IldcpError("IL-DCP data truncated");
  let length = bytes[reader.offset++];
  if (length & 0x80) {
    const lengthOfLength = length & 0x7f;
    if (lengthOfLength === 0 || lengthOfLength > 2) {
      throw new IldcpError(`invalid length prefix 0x${length.toString(16)}`);
    }
    if (reader.offset + lengthOfLength > bytes.byteLength) {
      throw new IldcpError("IL-DCP data truncated");
    }
    length = 0;
    for (let i = 0; i < lengthOfLength; i++) length = length * 256 + bytes[reader.offset++];
  }
  if (reader.offset + length > bytes.byteLength) throw new IldcpError("IL-DCP data truncated");
  const out = bytes.subarray(reader.offset, reader.offset + length);
  reader.offset += length;
  return out;
}

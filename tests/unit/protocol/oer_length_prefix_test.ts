/**
 * Canonical OER length prefixes, and the ILP/BTP decoders that now prove canonical form with
 * them instead of re-encoding: short and long forms, non-minimal forms refused, and packets
 * whose only fault is a non-minimal prefix or a non-ASCII address byte refused.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { OerLengthPrefixError, readCanonicalLength } from "../../../protocol/oer_length_prefix.ts";
import {
  decodeIlpFulfill,
  decodeIlpPrepare,
  encodeIlpFulfill,
  encodeIlpPrepare,
  IlpPacketError,
} from "../../../protocol/ilp_packet.ts";
import {
  BtpMessageError,
  decodeBtpFrame,
  encodeBtpFrame,
  ilpProtocolData,
} from "../../../protocol/btp_message.ts";

Deno.test("OER length: short and long forms are read, non-minimal ones refused", () => {
  assertEquals(readCanonicalLength(new Uint8Array([3, 1, 2, 3]), 0), { length: 3, start: 1 });
  const long = new Uint8Array(2 + 200);
  long.set([0x81, 200]);
  assertEquals(readCanonicalLength(long, 0), { length: 200, start: 2 });
  assertThrows(
    () => readCanonicalLength(new Uint8Array([0x81, 3, 1, 2, 3]), 0),
    OerLengthPrefixError,
    "shortest",
  );
  const padded = new Uint8Array(3 + 200);
  padded.set([0x82, 0, 200]);
  assertThrows(() => readCanonicalLength(padded, 0), OerLengthPrefixError, "shortest");
  assertThrows(() => readCanonicalLength(new Uint8Array([5, 1]), 0), OerLengthPrefixError, "past");
  assertThrows(() => readCanonicalLength(new Uint8Array([0x80]), 0), OerLengthPrefixError);
});

const prepare = {
  amount: "1000",
  destination: "test.town.relay.tag",
  expiresAt: new Date("2030-01-02T03:04:05.678Z"),
  executionCondition: new Uint8Array(32).fill(9),
  data: new Uint8Array(20).fill(65),
};

/** Re-encodes `bytes` with the length prefix at `at` (a short form) written in long form. */
function longForm(bytes: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength + 1);
  out.set(bytes.subarray(0, at));
  out[at] = 0x81;
  out.set(bytes.subarray(at), at + 1);
  return out;
}

Deno.test("ILP: canonical PREPARE and FULFILL decode; a long-form prefix or 8-bit address byte does not", () => {
  const bytes = encodeIlpPrepare(prepare);
  assertEquals(decodeIlpPrepare(bytes), prepare);
  // Destination prefix sits after type, envelope length (1 byte here) and 57 fixed bytes.
  const destAt = 2 + 8 + 17 + 32;
  assertEquals(bytes[destAt], prepare.destination.length);
  const lengthened = longForm(bytes, destAt);
  lengthened[1]++; // the envelope grows by the byte added
  assertThrows(() => decodeIlpPrepare(lengthened), IlpPacketError, "canonical");
  const eightBit = new Uint8Array(bytes);
  eightBit[destAt + 1] = "t".charCodeAt(0) | 0x80; // ilp-packet reads 7 bits: still "t"
  assertThrows(() => decodeIlpPrepare(eightBit), IlpPacketError, "canonical");
  const fulfill = { fulfillment: new Uint8Array(32).fill(1), data: new Uint8Array(5) };
  const f = encodeIlpFulfill(fulfill);
  assertEquals(decodeIlpFulfill(f), fulfill);
  const fLong = longForm(f, 2 + 32);
  fLong[1]++;
  assertThrows(() => decodeIlpFulfill(fLong), IlpPacketError, "canonical");
});

Deno.test("BTP: canonical MESSAGE decodes; long-form entry prefix and 8-bit protocol name do not", () => {
  const frame = {
    type: "message" as const,
    requestId: 7,
    protocolData: [ilpProtocolData(new Uint8Array(10).fill(2))],
  };
  const bytes = encodeBtpFrame(frame);
  assertEquals(decodeBtpFrame(bytes), frame);
  // type, requestId (4), envelope length (1), count size (1), count (1), then the name prefix.
  const nameAt = 8;
  assertEquals(bytes[nameAt], 3);
  const lengthened = longForm(bytes, nameAt);
  lengthened[5]++;
  assertThrows(() => decodeBtpFrame(lengthened), BtpMessageError, "canonical");
  const eightBit = new Uint8Array(bytes);
  eightBit[nameAt + 1] = "i".charCodeAt(0) | 0x80;
  assertThrows(() => decodeBtpFrame(eightBit), BtpMessageError, "canonical");
});

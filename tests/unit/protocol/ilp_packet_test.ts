import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  decodeIlpPacket,
  decodeIlpPrepare,
  decodeIlpReject,
  decodeIlpReply,
  encodeIlpFulfill,
  encodeIlpPrepare,
  encodeIlpReject,
  ILP_ERROR_CODES,
  ilpErrorName,
  IlpPacketError,
  isFinalError,
  isRelativeError,
  isTemporaryError,
  MAX_ILP_DATA_BYTES,
} from "../../../protocol/ilp_packet.ts";

const prepare = {
  amount: "18446744073709551615",
  destination: "test.conn.bob",
  expiresAt: new Date("2030-01-02T03:04:05.678Z"),
  executionCondition: new Uint8Array(32).fill(0xab),
  data: new TextEncoder().encode("kind: 1"),
};

Deno.test("PREPARE round-trips, including the largest uint64 amount", () => {
  const bytes = encodeIlpPrepare(prepare);
  assertEquals(bytes[0], 12);
  assertEquals(decodeIlpPrepare(bytes), prepare);
  assertEquals(decodeIlpPacket(bytes), { type: "prepare", ...prepare });
});

Deno.test("PREPARE wire layout matches RFC 27 (amount, 17-char time, condition, address, data)", () => {
  const bytes = encodeIlpPrepare({ ...prepare, amount: "107", data: new Uint8Array([1, 2]) });
  // type, length, uint64 amount
  assertEquals([...bytes.subarray(0, 2)], [12, bytes.length - 2]);
  assertEquals([...bytes.subarray(2, 10)], [0, 0, 0, 0, 0, 0, 0, 107]);
  assertEquals(new TextDecoder().decode(bytes.subarray(10, 27)), "20300102030405678");
  assertEquals([...bytes.subarray(27, 59)], new Array(32).fill(0xab));
  assertEquals(bytes[59], "test.conn.bob".length);
  assertEquals([...bytes.subarray(-3)], [2, 1, 2]);
});

Deno.test("FULFILL and REJECT round-trip through decodeIlpReply", () => {
  const fulfill = { fulfillment: new Uint8Array(32).fill(7), data: new Uint8Array([9]) };
  assertEquals(decodeIlpReply(encodeIlpFulfill(fulfill)), { type: "fulfill", ...fulfill });
  const reject = {
    code: "F02",
    triggeredBy: "test.conn",
    message: "no route ✓",
    data: new Uint8Array(0),
  };
  assertEquals(decodeIlpReply(encodeIlpReject(reject)), { type: "reject", ...reject });
  const anon = { ...reject, triggeredBy: "" };
  assertEquals(decodeIlpReject(encodeIlpReject(anon)), anon);
});

Deno.test("error-code table and classes", () => {
  assertEquals(Object.keys(ILP_ERROR_CODES).length, 21);
  assertEquals(ilpErrorName("T05"), "Rate Limited");
  assertEquals(ilpErrorName("R02"), "Insufficient Timeout");
  assertEquals(ilpErrorName("F42"), "Final Error");
  assertEquals(ilpErrorName("zzz"), "Unknown Error");
  assert(isFinalError("F05") && !isFinalError("T05") && !isFinalError("f05"));
  assert(isTemporaryError("T99") && !isTemporaryError("R00"));
  assert(isRelativeError("R00") && !isRelativeError("F00"));
});

Deno.test("encoders refuse what would be a wrong packet", () => {
  assertThrows(
    () => encodeIlpPrepare({ ...prepare, amount: "18446744073709551616" }),
    IlpPacketError,
    "uint64",
  );
  assertThrows(() => encodeIlpPrepare({ ...prepare, amount: "-1" }), IlpPacketError);
  assertThrows(() => encodeIlpPrepare({ ...prepare, amount: "01" }), IlpPacketError);
  assertThrows(
    () => encodeIlpPrepare({ ...prepare, destination: "not an address" }),
    IlpPacketError,
  );
  assertThrows(
    () => encodeIlpPrepare({ ...prepare, executionCondition: new Uint8Array(31) }),
    IlpPacketError,
  );
  assertThrows(() => encodeIlpPrepare({ ...prepare, expiresAt: new Date(NaN) }), IlpPacketError);
  assertThrows(
    () => encodeIlpPrepare({ ...prepare, data: new Uint8Array(MAX_ILP_DATA_BYTES + 1) }),
    IlpPacketError,
    "32767",
  );
  assertThrows(
    () => encodeIlpPrepare({ ...prepare, data: new Uint8Array(1000) }, { maxPacketBytes: 500 }),
    IlpPacketError,
    "limit of 500",
  );
  assertThrows(
    () => encodeIlpReject({ code: "X1", triggeredBy: "", message: "", data: new Uint8Array(0) }),
    IlpPacketError,
  );
  assertThrows(
    () => encodeIlpFulfill({ fulfillment: new Uint8Array(3), data: new Uint8Array(0) }),
    IlpPacketError,
  );
});

Deno.test("data of exactly 32767 bytes is accepted", () => {
  const big = { ...prepare, data: new Uint8Array(MAX_ILP_DATA_BYTES).fill(1) };
  assertEquals(decodeIlpPrepare(encodeIlpPrepare(big)).data.byteLength, MAX_ILP_DATA_BYTES);
});

Deno.test("decoders reject malformed bytes with IlpPacketError", () => {
  const good = encodeIlpPrepare(prepare);
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["unknown type", Uint8Array.from([99, ...good.subarray(1)])],
    ["trailing byte", Uint8Array.from([...good, 0])],
    ["truncated", good.subarray(0, good.length - 1)],
    ["bad length prefix", Uint8Array.from([12, 0x85, 0, 0, 0, 0, 0])],
  ];
  for (const [name, bytes] of cases) {
    assertThrows(() => decodeIlpPacket(bytes), IlpPacketError, undefined);
    assert(name);
  }
  const badTime = good.slice();
  badTime.set(new TextEncoder().encode("2030139903040567"), 10);
  assertThrows(() => decodeIlpPrepare(badTime), IlpPacketError);
  assertThrows(
    () =>
      decodeIlpPrepare(
        encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) }),
      ),
    IlpPacketError,
    "type 13",
  );
  assertThrows(() => decodeIlpPrepare(good, { maxPacketBytes: 10 }), IlpPacketError, "limit of 10");
  // a REJECT whose code is not F/T/R
  const reject = encodeIlpReject({
    code: "F02",
    triggeredBy: "",
    message: "",
    data: new Uint8Array(0),
  });
  reject.set(new TextEncoder().encode("Z99"), 2);
  assertThrows(() => decodeIlpReject(reject), IlpPacketError, "bad code");
});

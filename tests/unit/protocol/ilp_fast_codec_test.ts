import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { Buffer } from "node:buffer";
import * as IlpLib from "ilp-packet";
import { decodeIlpPrepareFast, encodeIlpFulfillFast } from "../../../protocol/ilp_fast_codec.ts";
import {
  decodeIlpPrepare,
  DEFAULT_MAX_ILP_PACKET_BYTES,
  IlpPacketError,
} from "../../../protocol/ilp_packet.ts";

const AMOUNTS = [
  "0",
  "1",
  "4294967295",
  "4294967296",
  "9007199254740991",
  "9007199254740992",
  "9007199254740993",
  "18446744073709551615",
];
const DATA_LENGTHS = [0, 1, 127, 128, 255, 256, 4000, 32767];
const DATES = [
  "1000-01-01T00:00:00.000Z",
  "2024-02-29T23:59:59.999Z",
  "2030-01-02T03:04:05.678Z",
  "9999-12-31T23:59:59.999Z",
];

function libPrepare(amount: string, expiresAt: Date, dataLength: number, destination: string) {
  const data = Buffer.alloc(dataLength);
  for (let i = 0; i < dataLength; i++) data[i] = (i * 31 + dataLength) & 0xff;
  const executionCondition = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) executionCondition[i] = (i * 7 + 1) & 0xff;
  return IlpLib.serializeIlpPrepare({ amount, expiresAt, executionCondition, destination, data });
}

Deno.test("a PREPARE decoded by hand equals ilp-packet's decode of the library's bytes", () => {
  let n = 0;
  for (const amount of AMOUNTS) {
    for (const date of DATES) {
      for (const dataLength of DATA_LENGTHS) {
        const destination = `g.town.r.${"a".repeat(n++ % 200)}x`;
        const bytes = libPrepare(amount, new Date(date), dataLength, destination);
        const lib = IlpLib.deserializeIlpPrepare(bytes);
        const fast = decodeIlpPrepareFast(new Uint8Array(bytes), DEFAULT_MAX_ILP_PACKET_BYTES);
        assert(fast, `${amount} ${date} ${dataLength}`);
        assertEquals(fast.amount, lib.amount);
        assertEquals(fast.expiresAt.toISOString(), lib.expiresAt.toISOString());
        assertEquals(fast.destination, lib.destination);
        assertEquals(fast.executionCondition, new Uint8Array(lib.executionCondition));
        assertEquals(fast.data, new Uint8Array(lib.data));
      }
    }
  }
});

Deno.test("a PREPARE the hand decoder is unsure of is left to the library path, which refuses it", () => {
  const good = new Uint8Array(libPrepare("5", new Date(DATES[2]), 10, "g.town.bob"));
  const at = 2 + 8; // the timestamp's first digit (one-byte envelope prefix)
  const withTime = (text: string) => {
    const bytes = good.slice();
    bytes.set(new TextEncoder().encode(text), at);
    return bytes;
  };
  const bad = {
    "month 13": withTime("20301302030405678"),
    "February 30": withTime("20300230030405678"),
    "hour 24": withTime("20300102240405678"),
    "year 0999": withTime("09990102030405678"),
    "a letter in the time": withTime("2030010203040567x"),
    "a trailing byte": new Uint8Array([...good, 0]),
    "a short envelope": good.subarray(0, good.length - 1),
    "a non-ASCII destination byte": (() => {
      const bytes = good.slice();
      bytes[2 + 8 + 17 + 32 + 1] = "g".charCodeAt(0) | 0x80;
      return bytes;
    })(),
    "a non-minimal envelope prefix": new Uint8Array([12, 0x81, good[1], ...good.subarray(2)]),
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assertEquals(decodeIlpPrepareFast(bytes, DEFAULT_MAX_ILP_PACKET_BYTES), undefined, what);
    assertThrows(() => decodeIlpPrepare(bytes), IlpPacketError);
  }
  assertEquals(decodeIlpPrepareFast(good, good.length - 1), undefined, "over the size limit");
});

Deno.test("a FULFILL encoded by hand is byte for byte ilp-packet's", () => {
  const fulfillment = new Uint8Array(32).map((_, i) => i * 9 + 3);
  for (const length of [0, 1, 127, 128, 200, 255, 256, 4000, 32767]) {
    const data = new Uint8Array(length).map((_, i) => (i * 13 + length) & 0xff);
    const lib = IlpLib.serializeIlpFulfill({
      fulfillment: Buffer.from(fulfillment),
      data: Buffer.from(data),
    });
    assertEquals(encodeIlpFulfillFast(fulfillment, data), new Uint8Array(lib), `data ${length}`);
  }
});

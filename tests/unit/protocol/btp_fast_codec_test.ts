import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { Buffer } from "node:buffer";
import * as BtpLib from "btp-packet";
import { decodeBtpMessageFast, encodeBtpMessageFast } from "../../../protocol/btp_fast_codec.ts";
import {
  BtpMessageError,
  type BtpMessageFrame,
  decodeBtpFrame,
  DEFAULT_MAX_BTP_FRAME_BYTES,
} from "../../../protocol/btp_message.ts";

function frames(): BtpMessageFrame[] {
  const out: BtpMessageFrame[] = [];
  const names = ["ilp", "auth", "auth_token", "payment-channel-claim", "x".repeat(130)];
  for (const type of ["message", "response"] as const) {
    for (const requestId of [0, 1, 255, 65536, 0x7fffffff, 0x80000000, 0xffffffff]) {
      for (const entries of [0, 1, 2, 3]) {
        for (const dataLength of [0, 1, 127, 128, 300, 40000]) {
          const protocolData = Array.from({ length: entries }, (_, e) => ({
            protocolName: names[(e + dataLength) % names.length],
            contentType: (e * 7 + requestId) % 3,
            data: new Uint8Array(dataLength).map((_, i) => (i * 17 + e) & 0xff),
          }));
          out.push({ type, requestId, protocolData });
        }
      }
    }
  }
  return out;
}

function libBytes(frame: BtpMessageFrame): Uint8Array {
  return new Uint8Array(BtpLib.serialize({
    type: frame.type === "message" ? BtpLib.Type.TYPE_MESSAGE : BtpLib.Type.TYPE_RESPONSE,
    requestId: frame.requestId,
    data: {
      protocolData: frame.protocolData.map((p) => ({ ...p, data: Buffer.from(p.data) })),
    },
  }));
}

Deno.test("a MESSAGE or RESPONSE encoded by hand is byte for byte btp-packet's", () => {
  for (const frame of frames()) {
    assertEquals(encodeBtpMessageFast(frame), libBytes(frame), JSON.stringify(frame).slice(0, 80));
  }
});

Deno.test("a MESSAGE or RESPONSE decoded by hand equals btp-packet's decode of its bytes", () => {
  for (const frame of frames()) {
    const bytes = libBytes(frame);
    const lib = BtpLib.deserialize(Buffer.from(bytes));
    const fast = decodeBtpMessageFast(bytes, Number.MAX_SAFE_INTEGER);
    assert(fast, JSON.stringify(frame).slice(0, 80));
    assertEquals(fast.requestId, lib.requestId);
    assertEquals(fast.type, lib.type === BtpLib.Type.TYPE_MESSAGE ? "message" : "response");
    const libData = (lib.data as { protocolData: BtpLib.ProtocolData[] }).protocolData;
    assertEquals(
      fast.protocolData,
      libData.map((p) => ({ ...p, data: new Uint8Array(p.data) })),
    );
  }
});

Deno.test("a frame the hand decoder is unsure of is left to the library path, which refuses it", () => {
  const good = libBytes({
    type: "message",
    requestId: 5,
    protocolData: [{ protocolName: "ilp", contentType: 0, data: new Uint8Array([12, 1, 0]) }],
  });
  const withByte = (at: number, value: number) => {
    const bytes = good.slice();
    bytes[at] = value;
    return bytes;
  };
  const bad = {
    "a trailing byte": new Uint8Array([...good, 0]),
    "a short frame": good.subarray(0, good.length - 1),
    "a protocol name byte that is not printable": withByte(9, 0xe9),
    "a count one more than the entries": withByte(7, 2),
    "a count in two bytes": new Uint8Array([6, 0, 0, 0, 5, good[5] + 1, 2, 0, ...good.subarray(7)]),
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assertEquals(decodeBtpMessageFast(bytes, DEFAULT_MAX_BTP_FRAME_BYTES), undefined, what);
    assertThrows(() => decodeBtpFrame(bytes), BtpMessageError);
  }
  assertEquals(decodeBtpMessageFast(good, good.length - 1), undefined, "over the size limit");
});

import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  authProtocolData,
  BtpContentType,
  type BtpFrame,
  BtpMessageError,
  decodeBtpFrame,
  encodeBtpFrame,
  getIlpData,
  getProtocolData,
  getTextProtocolData,
  ilpProtocolData,
  peekBtpRequestId,
} from "../../../protocol/btp_message.ts";

const ilp = Uint8Array.from([12, 3, 1, 2, 3]);

Deno.test("MESSAGE, RESPONSE, TRANSFER, ERROR round-trip", () => {
  const frames: BtpFrame[] = [
    { type: "message", requestId: 0xffffffff, protocolData: [ilpProtocolData(ilp)] },
    { type: "response", requestId: 0, protocolData: [] },
    { type: "transfer", requestId: 5, amount: "18446744073709551615", protocolData: [] },
    {
      type: "error",
      requestId: 6,
      code: "F00",
      name: "NotAcceptedError",
      triggeredAt: new Date("2030-01-02T03:04:05.678Z"),
      data: "invalid auth_token",
      protocolData: [{ protocolName: "x", contentType: 2, data: new TextEncoder().encode("{}") }],
    },
  ];
  for (const frame of frames) assertEquals(decodeBtpFrame(encodeBtpFrame(frame)), frame);
});

Deno.test("auth protocol data is what ilp-plugin-btp sends and checks", () => {
  const frame = decodeBtpFrame(encodeBtpFrame({
    type: "message",
    requestId: 1,
    protocolData: authProtocolData({ username: "alice", token: "s3cret" }),
  }));
  // ilp-plugin-btp: first entry must be "auth"; "auth_token" must be there, compared byte-wise
  assertEquals(frame.protocolData[0].protocolName, "auth");
  assertEquals(frame.protocolData[0].data.byteLength, 0);
  assertEquals(getTextProtocolData(frame, "auth_token"), "s3cret");
  assertEquals(getTextProtocolData(frame, "auth_username"), "alice");
  assertEquals(getProtocolData(frame, "auth_token")?.contentType, BtpContentType.textPlainUtf8);
  assertEquals(getIlpData(frame), undefined);
  assertEquals(getTextProtocolData(frame, "missing"), undefined);
  assertThrows(() => getTextProtocolData(frame, "auth"), BtpMessageError, "binary");
});

Deno.test("frame size limit both ways", () => {
  const big: BtpFrame = {
    type: "message",
    requestId: 1,
    protocolData: [ilpProtocolData(new Uint8Array(2000))],
  };
  assertThrows(
    () => encodeBtpFrame(big, { maxFrameBytes: 1000 }),
    BtpMessageError,
    "limit of 1000",
  );
  const bytes = encodeBtpFrame(big);
  assertThrows(
    () => decodeBtpFrame(bytes, { maxFrameBytes: 1000 }),
    BtpMessageError,
    "limit of 1000",
  );
  assertEquals(peekBtpRequestId(bytes), 1);
});

Deno.test("malformed frames throw BtpMessageError", () => {
  const good = encodeBtpFrame({
    type: "message",
    requestId: 7,
    protocolData: [ilpProtocolData(ilp)],
  });
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 5),
    Uint8Array.from([...good, 0]), // trailing byte
    good.subarray(0, good.length - 1), // truncated
    Uint8Array.from([3, ...good.subarray(1)]), // unknown type
    Uint8Array.from([6, 0, 0, 0, 1, 3, 1, 200, 0]), // protocol count past the end
  ];
  for (const bytes of cases) assertThrows(() => decodeBtpFrame(bytes), BtpMessageError);
  assertThrows(
    () => encodeBtpFrame({ type: "response", requestId: 2 ** 32, protocolData: [] }),
    BtpMessageError,
    "uint32",
  );
  assertThrows(
    () => encodeBtpFrame({ type: "transfer", requestId: 1, amount: "1.5", protocolData: [] }),
    BtpMessageError,
  );
});

import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  decodeIldcpRequest,
  decodeIldcpResponse,
  encodeIldcpRequest,
  encodeIldcpResponse,
  IldcpError,
  PEER_PROTOCOL_CONDITION,
} from "../../../protocol/ildcp.ts";
import {
  decodeIlpPrepare,
  encodeIlpFulfill,
  encodeIlpReject,
} from "../../../protocol/ilp_packet.ts";
import { conditionOf } from "../../../protocol/ilp_fulfillment.ts";

Deno.test("IL-DCP request: peer.config, amount 0, condition = SHA-256(32 zero bytes)", async () => {
  assertEquals(PEER_PROTOCOL_CONDITION, await conditionOf(new Uint8Array(32)));
  const expiresAt = new Date("2031-05-06T07:08:09.010Z");
  const prepare = decodeIlpPrepare(encodeIldcpRequest({ expiresAt }));
  assertEquals(prepare.destination, "peer.config");
  assertEquals(prepare.amount, "0");
  assertEquals(prepare.expiresAt, expiresAt);
  assertEquals(decodeIldcpRequest(encodeIldcpRequest({ expiresAt })), { expiresAt });
});

Deno.test("IL-DCP response round-trips; bytes as ilp-protocol-ildcp writes them", () => {
  const info = { clientAddress: "test.conn.alice", assetScale: 9, assetCode: "XRP" };
  const bytes = encodeIldcpResponse(info);
  assertEquals(decodeIldcpResponse(bytes), info);
  const data = [15, ...new TextEncoder().encode("test.conn.alice"), 9, 3, 88, 82, 80];
  assertEquals(
    bytes,
    encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: Uint8Array.from(data) }),
  );
});

Deno.test("bad IL-DCP responses throw IldcpError", () => {
  const fulfill = (data: number[], fulfillment = new Uint8Array(32)) =>
    encodeIlpFulfill({ fulfillment, data: Uint8Array.from(data) });
  const addr = [...new TextEncoder().encode("test.a")];
  assertThrows(
    () => decodeIldcpResponse(fulfill([6, ...addr, 2, 0], new Uint8Array(32).fill(1))),
    IldcpError,
    "fulfillment",
  );
  assertThrows(() => decodeIldcpResponse(fulfill([6, ...addr])), IldcpError, "assetScale");
  assertThrows(() => decodeIldcpResponse(fulfill([6, ...addr, 2, 5, 65])), IldcpError, "truncated");
  assertThrows(() => decodeIldcpResponse(fulfill([6, ...addr, 2, 0, 0])), IldcpError, "trailing");
  assertThrows(() => decodeIldcpResponse(fulfill([3, 32, 32, 32, 2, 0])), IldcpError, "ASCII");
  assertThrows(
    () => decodeIldcpResponse(fulfill([2, 97, 46, 2, 0])),
    IldcpError,
    "invalid client address",
  );
  assertThrows(
    () => decodeIldcpResponse(fulfill([6, ...addr, 2, 2, 0xff, 0xfe])),
    IldcpError,
    "UTF-8",
  );
  assertThrows(
    () =>
      decodeIldcpResponse(
        encodeIlpReject({ code: "F00", triggeredBy: "", message: "", data: new Uint8Array(0) }),
      ),
    IldcpError,
  );
  assertThrows(() => decodeIldcpResponse(new Uint8Array([13, 1])), IldcpError);
});

import { assertEquals } from "../../../harness/assert.ts";
import * as IlpLib from "ilp-packet";
import * as BtpLib from "btp-packet";
import { btpPacketLibrary, ilpPacketLibrary } from "../../../protocol/packet_libraries.ts";
import { ILP_ERROR, ILP_ERROR_CODES, isValidIlpAddress } from "../../../protocol/ilp_packet.ts";
import { BtpFrameType } from "../../../protocol/btp_message.ts";

Deno.test("the libraries loaded at first use are the ones the import map names", () => {
  assertEquals(ilpPacketLibrary().serializeIlpPrepare, IlpLib.serializeIlpPrepare);
  assertEquals(btpPacketLibrary().serialize, BtpLib.serialize);
});

Deno.test("the ILP error codes and names written out are ilp-packet's IlpError enum", () => {
  const fromLibrary = Object.fromEntries(
    Object.entries(IlpLib.IlpError).map(([name, code]) => [
      code,
      name.slice(4).toLowerCase().split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join(" "),
    ]),
  );
  assertEquals(ILP_ERROR_CODES, fromLibrary);
  assertEquals(Object.values(ILP_ERROR).sort(), Object.values(IlpLib.IlpError).sort());
});

Deno.test("the BTP frame types written out are btp-packet's", () => {
  assertEquals(BtpFrameType, {
    response: BtpLib.Type.TYPE_RESPONSE,
    error: BtpLib.Type.TYPE_ERROR,
    message: BtpLib.Type.TYPE_MESSAGE,
    transfer: BtpLib.Type.TYPE_TRANSFER,
  });
});

Deno.test("ILP addresses are judged as ilp-packet judges them", () => {
  const addresses = [
    "g.town",
    "test.conn.alice",
    "test3.a",
    "test4.a",
    "private.a~b_c-d",
    "g",
    "g.",
    "g..a",
    "G.town",
    "self.x y",
    "peer.config",
    `g.${"a".repeat(1021)}`,
    `g.${"a".repeat(1022)}`,
  ];
  assertEquals(addresses.map(isValidIlpAddress), addresses.map(IlpLib.isValidIlpAddress));
});

import { Buffer } from "node:buffer";
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

Deno.test("the ilp-prepare-sink stage, in a worker without read access, decodes a FULFILL by the library it imported statically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "packet_libraries_worker_" });
  try {
    const root = new URL("../../../", import.meta.url).href;
    const fulfill = IlpLib.serializeIlpFulfill({
      fulfillment: Buffer.alloc(32, 7),
      data: Buffer.from("receipt"),
    });
    await Deno.writeTextFile(
      `${dir}/inner.ts`,
      `import "${root}stages/ilp_prepare_sink.ts";
import { decodeIlpFulfill } from "${root}protocol/ilp_packet.ts";
self.onmessage = (e) => {
  try {
    const f = decodeIlpFulfill(new Uint8Array(e.data));
    self.postMessage({ data: new TextDecoder().decode(f.data), first: f.fulfillment[0] });
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
`,
    );
    const worker = new Worker(new URL(`file://${dir}/inner.ts`).href, {
      type: "module",
      deno: { permissions: "none" },
    });
    try {
      const answer = new Promise<unknown>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
      });
      worker.postMessage(new Uint8Array(fulfill).buffer);
      assertEquals(await answer, { data: "receipt", first: 7 });
    } finally {
      worker.terminate();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

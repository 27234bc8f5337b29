/**
 * The per-packet codec and hash work of a town's paid write, by hand against the libraries: the
 * BTP MESSAGE and its ILP PREPARE decoded, the FULFILL and its BTP RESPONSE encoded
 * (protocol/btp_fast_codec.ts, protocol/ilp_fast_codec.ts through btp_message.ts and
 * ilp_packet.ts, their checks included) against `btp-packet` and `ilp-packet`'s own calls alone
 * (without the checks the town added around them: a lower bound of what they cost it); and the
 * fulfillment's HMAC with its key absorbed once and cloned (roles/town/spsp/spsp_secrets.ts)
 * against noble's one-shot HMAC and node:crypto's createHmac. A packet of the size the paid-write
 * bench sends (a signed TOON event with 200 characters of content). Microseconds of the process's
 * CPU a packet (user + system, so other work on the machine does not count), the least of
 * seven rounds (the one the machine's other work disturbed least).
 *
 * Run: deno run -A bench/paid_write_codec_bench_script.ts [packets=20000] (in a worktree of an
 * older tree, the town's codecs line measures that tree's)
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { cpuUsage } from "node:process";
import * as BtpLib from "btp-packet";
import * as IlpLib from "ilp-packet";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeBtpFrame, encodeBtpFrame, ilpProtocolData } from "../protocol/btp_message.ts";
import { decodeIlpPrepare, encodeIlpFulfill, encodeIlpPrepare } from "../protocol/ilp_packet.ts";
import { SpspSecrets } from "../roles/town/spsp/spsp_secrets.ts";

const packets = Number(Deno.args[0] ?? 20_000);
const data = new TextEncoder().encode(`kind: 1\ncontent: ${"x".repeat(200)}\n`.padEnd(420, " "));
const prepareBytes = encodeIlpPrepare({
  amount: "4200",
  destination: "g.town.r.AbCdEfGhIjKlMnOpQrStUv",
  expiresAt: new Date(Date.now() + 30_000),
  executionCondition: new Uint8Array(32).fill(9),
  data,
});
const messageBytes = encodeBtpFrame({
  type: "message",
  requestId: 77,
  protocolData: [ilpProtocolData(prepareBytes)],
});
const fulfillment = new Uint8Array(32).fill(4);

/** The least of seven rounds, microseconds of CPU a call. */
function time(fn: () => unknown): number {
  for (let i = 0; i < 2_000; i++) fn(); // JIT
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    // CPU time, not wall time: on a shared machine a round's wall time is mostly the others'.
    const t0 = cpuUsage();
    for (let i = 0; i < packets; i++) fn();
    const used = cpuUsage(t0);
    rounds.push((used.user + used.system) / packets);
  }
  return Math.min(...rounds);
}

const hand = time(() => {
  const frame = decodeBtpFrame(messageBytes);
  decodeIlpPrepare(frame.protocolData[0].data);
  const reply = encodeIlpFulfill({ fulfillment, data: new Uint8Array(0) });
  encodeBtpFrame({ type: "response", requestId: 77, protocolData: [ilpProtocolData(reply)] });
});
const libraries = time(() => {
  const packet = BtpLib.deserialize(Buffer.from(messageBytes));
  const entries = (packet.data as { protocolData: BtpLib.ProtocolData[] }).protocolData;
  IlpLib.deserializeIlpPrepare(entries[0].data);
  const reply = IlpLib.serializeIlpFulfill({
    fulfillment: Buffer.from(fulfillment),
    data: Buffer.alloc(0),
  });
  BtpLib.serialize({
    type: BtpLib.Type.TYPE_RESPONSE,
    requestId: 77,
    data: { protocolData: [{ protocolName: "ilp", contentType: 0, data: reply }] },
  });
});
const secrets = new SpspSecrets({ seed: new Uint8Array(32).fill(1) });
const { tag } = secrets.grant("g.town");
const key = hmac(
  sha256,
  secrets.secretForTag(tag),
  new TextEncoder().encode("ilp_stream_fulfillment"),
);
const cloned = time(() => secrets.fulfillment(tag, data));
const oneShot = time(() => hmac(sha256, key, data));
const native = time(() => createHmac("sha256", key).update(data).digest());
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
console.log(
  `${packets} packets, ${messageBytes.length}-byte MESSAGE | codecs: by hand ${
    hand.toFixed(2)
  } us, ` +
    `the libraries' calls alone ${libraries.toFixed(2)} us | fulfillment HMAC: keyed once and ` +
    `cloned ${cloned.toFixed(2)} us, noble one-shot ${oneShot.toFixed(2)} us, node:crypto ` +
    `createHmac ${native.toFixed(2)} us | load ${load}`,
);

/**
 * Fuzzes the ILP, BTP and IL-DCP decoders with random and mutated bytes: every input either
 * decodes to something that re-encodes and decodes to the same value, or throws the decoder's
 * documented error class. Seeded PRNG (printed); `FUZZ_SEED=<n>` replays a run.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  decodeIlpPacket,
  encodeIlpFulfill,
  encodeIlpPrepare,
  encodeIlpReject,
  type IlpPacket,
  IlpPacketError,
} from "../../protocol/ilp_packet.ts";
import {
  type BtpFrame,
  BtpMessageError,
  decodeBtpFrame,
  encodeBtpFrame,
  ilpProtocolData,
} from "../../protocol/btp_message.ts";
import { decodeIldcpResponse, encodeIldcpResponse, IldcpError } from "../../protocol/ildcp.ts";
import { fuzzSeed, seededRandom } from "../support/seeded_random.ts";

const PER_DECODER = 100_000;
const SEED = fuzzSeed();
console.log(`ilp_btp_fuzz: FUZZ_SEED=${SEED}`);

const rand = seededRandom(SEED);
const int = (n: number) => Math.floor(rand() * n);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

function mutate(input: Uint8Array): Uint8Array {
  let bytes = input.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const pos = int(Math.max(1, bytes.length));
    switch (int(7)) {
      case 0: // flip a bit
        if (bytes.length) bytes[pos] ^= 1 << int(8);
        break;
      case 1: // replace a byte, often with a length-prefix-looking value
        if (bytes.length) bytes[pos] = [0, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff][int(7)] ?? int(256);
        break;
      case 2: // insert bytes
        bytes = Uint8Array.from([
          ...bytes.subarray(0, pos),
          ...randomBytes(1 + int(4)),
          ...bytes.subarray(pos),
        ]);
        break;
      case 3: // delete bytes
        bytes = Uint8Array.from([...bytes.subarray(0, pos), ...bytes.subarray(pos + 1 + int(4))]);
        break;
      case 4: // truncate
        bytes = bytes.subarray(0, pos);
        break;
      case 5: // append
        bytes = Uint8Array.from([...bytes, ...randomBytes(1 + int(8))]);
        break;
      default: // random byte anywhere
        if (bytes.length) bytes[pos] = int(256);
    }
  }
  return bytes;
}

function inputs(corpus: Uint8Array[]): Uint8Array[] {
  return Array.from(
    { length: PER_DECODER },
    (_, i) =>
      i % 2 === 0 ? randomBytes(int(i % 10 === 0 ? 300 : 40)) : mutate(corpus[int(corpus.length)]),
  );
}

const cond = randomBytes(32);
const ilpCorpus = [
  encodeIlpPrepare({
    amount: "0",
    destination: "g.a",
    expiresAt: new Date(0),
    executionCondition: cond,
    data: new Uint8Array(0),
  }),
  encodeIlpPrepare({
    amount: "18446744073709551615",
    destination: "test.conn.bob.x~y",
    expiresAt: new Date(),
    executionCondition: cond,
    data: randomBytes(200),
  }),
  encodeIlpFulfill({ fulfillment: cond, data: randomBytes(3) }),
  encodeIlpReject({
    code: "F02",
    triggeredBy: "test.conn",
    message: "no route",
    data: randomBytes(2),
  }),
  encodeIlpReject({ code: "T00", triggeredBy: "", message: "", data: new Uint8Array(0) }),
];
const btpCorpus = [
  encodeBtpFrame({ type: "message", requestId: 1, protocolData: [ilpProtocolData(ilpCorpus[1])] }),
  encodeBtpFrame({
    type: "response",
    requestId: 2,
    protocolData: [ilpProtocolData(ilpCorpus[2]), {
      protocolName: "auth_token",
      contentType: 1,
      data: randomBytes(4),
    }],
  }),
  encodeBtpFrame({ type: "transfer", requestId: 3, amount: "77", protocolData: [] }),
  encodeBtpFrame({
    type: "error",
    requestId: 4,
    code: "F00",
    name: "NotAcceptedError",
    triggeredAt: new Date(),
    data: "x",
    protocolData: [],
  }),
];
const ildcpCorpus = [
  encodeIldcpResponse({ clientAddress: "test.conn.alice", assetScale: 6, assetCode: "USD" }),
  encodeIldcpResponse({ clientAddress: "g.x", assetScale: 255, assetCode: "" }),
];

function fuzz<T>(
  name: string,
  corpus: Uint8Array[],
  decode: (b: Uint8Array) => T,
  encode: (v: T) => Uint8Array,
  errorClass: new (...args: never) => Error,
) {
  let decoded = 0;
  const started = performance.now();
  for (const bytes of inputs(corpus)) {
    let value: T;
    try {
      value = decode(bytes);
    } catch (err) {
      assert(
        err instanceof errorClass,
        `${name}: ${(err as Error)?.name} "${(err as Error)?.message}" on ${bytesHex(bytes)}`,
      );
      continue;
    }
    decoded++;
    // Whatever decodes must mean the same thing after a round trip (no silent misreads).
    assertEquals(
      decode(encode(value)),
      value,
      `${name}: unstable round trip on ${bytesHex(bytes)}`,
    );
  }
  console.log(
    `${name}: ${PER_DECODER} inputs, ${decoded} decoded, ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );
}

function bytesHex(b: Uint8Array): string {
  return Array.from(b.subarray(0, 400), (x) => x.toString(16).padStart(2, "0")).join("");
}

function encodeIlp(p: IlpPacket): Uint8Array {
  if (p.type === "prepare") return encodeIlpPrepare(p);
  return p.type === "fulfill" ? encodeIlpFulfill(p) : encodeIlpReject(p);
}

Deno.test(`ILP decoder: ${PER_DECODER} random and mutated inputs`, () => {
  fuzz("ilp", ilpCorpus, (b) => decodeIlpPacket(b), encodeIlp, IlpPacketError);
});

Deno.test(`BTP decoder: ${PER_DECODER} random and mutated inputs`, () => {
  fuzz(
    "btp",
    btpCorpus,
    (b) => decodeBtpFrame(b),
    (f: BtpFrame) => encodeBtpFrame(f),
    BtpMessageError,
  );
});

Deno.test(`IL-DCP response decoder: ${PER_DECODER} random and mutated inputs`, () => {
  fuzz(
    "ildcp",
    [...ildcpCorpus, ...ilpCorpus],
    (b) => decodeIldcpResponse(b),
    encodeIldcpResponse,
    IldcpError,
  );
});

/**
 * The town's BTP server, router and write pipeline over real sockets, with our BtpClient as
 * the child peer: IL-DCP, SPSP, paid writes, forwarding to another child, and every reject path
 * with its documented code.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../../../harness/assert.ts";
import { connectPayingClient, startTestTown } from "../../../harness/town_test_node.ts";
import { BtpAuthError, BtpClient } from "../../../transport/btp_client.ts";
import { decodeIlpReply, encodeIlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import { buildPaidWrite } from "../../../roles/town_client/spsp_handshake.ts";
import { fulfillmentFor } from "../../../protocol/ilp_fulfillment.ts";
import { getPublicKey } from "nostr-tools";
import { generateSecretKey } from "nostr-tools";

const PEERS = [
  { account: "alice", token: "tok-alice" },
  { account: "bob", token: "tok-bob" },
  { account: "small", token: "tok-small", maxPacketAmount: 100n },
];

async function setup(extra: Parameters<typeof startTestTown>[0] = {}) {
  const secretKey = generateSecretKey();
  const town = await startTestTown({ peers: PEERS, secretKey, ...extra });
  const url = `btp+ws://127.0.0.1:${town.btpPort}`;
  const alice = await connectPayingClient({
    url,
    token: "tok-alice",
    townAddress: town.ilpAddress,
    townPubkey: getPublicKey(secretKey),
  });
  return {
    town,
    url,
    alice,
    async [Symbol.asyncDispose]() {
      await alice.close();
      await town.stop();
    },
  };
}

Deno.test("town BTP: IL-DCP, SPSP grant and a paid write is stored and fulfilled", async () => {
  await using t = await setup();
  assertEquals(t.alice.client.ilpAddress, "test.town.alice");
  assertMatch(t.alice.grant.destinationAccount, /^test\.town\.relay\.[A-Za-z0-9_-]{22}$/);
  const event = t.alice.sign({ content: "hello town" });
  const reply = await t.alice.write(event);
  assertEquals(reply.type, "fulfill");
  if (reply.type !== "fulfill") return;
  const { fulfillment } = await fulfillmentFor(
    t.alice.grant.sharedSecret,
    new TextEncoder().encode(encodeEventToon(event)),
  );
  assertEquals(reply.fulfillment, fulfillment);
  assertEquals(JSON.parse(new TextDecoder().decode(reply.data)), {
    eventId: event.id,
    status: "stored",
  });
  assertEquals((await t.town.store.query([{ ids: [event.id] }])).length, 1);
});

Deno.test("town BTP: the secret survives a restart (derived from the town key)", async () => {
  const secretKey = generateSecretKey();
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  try {
    const first = await startTestTown({ peers: PEERS, secretKey, databasePath: path });
    const alice = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${first.btpPort}`,
      token: "tok-alice",
      townAddress: first.ilpAddress,
      townPubkey: getPublicKey(secretKey),
    });
    await alice.close();
    await first.stop();
    const second = await startTestTown({ peers: PEERS, secretKey, databasePath: path });
    const client = new BtpClient({
      url: `btp+ws://127.0.0.1:${second.btpPort}`,
      authToken: "tok-alice",
      reconnect: false,
    });
    await client.connect();
    const event = alice.sign();
    const { prepare } = await buildPaidWrite({ event, grant: alice.grant, pricePerByte: 10n });
    const reply = await client.sendPrepare(prepare);
    assertEquals(reply.type, "fulfill");
    await client.close();
    await second.stop();
  } finally {
    await Deno.remove(path);
    await Deno.remove(path + "-wal").catch(() => {});
    await Deno.remove(path + "-shm").catch(() => {});
  }
});

Deno.test("town BTP: reject paths carry the documented codes and store nothing", async (t) => {
  await using s = await setup({ maxEventBytes: 4000 });
  const { alice, town } = s;
  const stored = () => town.store.size();
  const expectReject = async (reply: Promise<IlpReply>, code: string, before: number) => {
    const r = await reply;
    if (r.type !== "reject") throw new Error(`expected ${code}, got a FULFILL`);
    assertEquals(r.code, code, r.message);
    assertEquals(await stored(), before, "nothing stored");
    return r;
  };

  await t.step("too large -> F08", async () => {
    const before = await stored();
    await expectReject(alice.write(alice.sign({ content: "x".repeat(5000) })), "F08", before);
  });

  await t.step("malformed TOON -> F06", async () => {
    const before = await stored();
    const { prepare } = await buildPaidWrite({
      event: alice.sign(),
      grant: alice.grant,
      pricePerByte: 10n,
    });
    const data = new TextEncoder().encode("kind: 1\nid: nope\n");
    const { condition } = await fulfillmentFor(alice.grant.sharedSecret, data);
    const r = await expectReject(
      alice.client.sendPrepare({ ...prepare, data, executionCondition: condition }),
      "F06",
      before,
    );
    assertMatch(r.message, /malformed/);
  });

  await t.step("forged signature -> F06 even when paid", async () => {
    const before = await stored();
    const event = alice.sign();
    const forged = {
      ...event,
      sig: event.sig.slice(0, -2) + (event.sig.endsWith("00") ? "01" : "00"),
    };
    const r = await expectReject(alice.write(forged, { amount: 100_000n }), "F06", before);
    assertMatch(r.message, /bad-sig|bad-id/);
  });

  await t.step("underpaid -> F04 naming the required amount", async () => {
    const before = await stored();
    const event = alice.sign();
    const bytes = new TextEncoder().encode(encodeEventToon(event)).byteLength;
    const r = await expectReject(alice.write(event, { amount: 5n }), "F04", before);
    assertMatch(r.message, new RegExp(`required ${bytes * 10}\\b`));
  });

  await t.step("condition not from the sender's secret -> F05", async () => {
    const before = await stored();
    const event = alice.sign();
    const { prepare } = await buildPaidWrite({
      event,
      grant: { ...alice.grant, sharedSecret: crypto.getRandomValues(new Uint8Array(32)) },
      pricePerByte: 10n,
    });
    await expectReject(alice.client.sendPrepare(prepare), "F05", before);
    // Paid to the town's bare address (no tag): the town cannot fulfil it either.
    await expectReject(
      alice.client.sendPrepare({ ...prepare, destination: town.ilpAddress }),
      "F05",
      before,
    );
  });

  await t.step("expired -> R02", async () => {
    const before = await stored();
    const { prepare } = await buildPaidWrite({
      event: alice.sign(),
      grant: alice.grant,
      pricePerByte: 10n,
    });
    const bytes = encodeIlpPrepare({ ...prepare, expiresAt: new Date(Date.now() - 1000) });
    const reply = decodeIlpReply(await alice.client.sendData(bytes, { timeoutMs: 5000 }));
    await expectReject(Promise.resolve(reply), "R02", before);
  });

  await t.step("unknown destination -> F02", async () => {
    const before = await stored();
    const { prepare } = await buildPaidWrite({
      event: alice.sign(),
      grant: alice.grant,
      pricePerByte: 10n,
    });
    await expectReject(
      alice.client.sendPrepare({ ...prepare, destination: "test.elsewhere" }),
      "F02",
      before,
    );
    await expectReject(
      alice.client.sendPrepare({ ...prepare, destination: "test.town.carol" }),
      "F02",
      before,
    );
  });

  await t.step("over the peer's max packet amount -> F08 with RFC 27 amounts", async () => {
    const small = new BtpClient({ url: s.url, authToken: "tok-small", reconnect: false });
    await small.connect();
    try {
      const before = await stored();
      const { prepare } = await buildPaidWrite({
        event: alice.sign(),
        grant: alice.grant,
        pricePerByte: 10n,
      });
      const r = await expectReject(small.sendPrepare({ ...prepare, amount: "101" }), "F08", before);
      const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      assertEquals([view.getBigUint64(0), view.getBigUint64(8)], [101n, 100n]);
    } finally {
      await small.close();
    }
  });

  await t.step("wrong BTP token is refused", async () => {
    const bad = new BtpClient({ url: s.url, authToken: "nope", reconnect: false });
    await assertRejects(() => bad.connect(), BtpAuthError, "invalid auth_token");
    await bad.close();
  });
});

Deno.test("town BTP: packets for a connected child are forwarded and the reply relayed", async () => {
  await using s = await setup();
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const bob = new BtpClient({
    url: s.url,
    authToken: "tok-bob",
    reconnect: false,
    onPrepare: async (prepare) => ({
      type: "fulfill",
      fulfillment: (await fulfillmentFor(secret, prepare.data)).fulfillment,
      data: new TextEncoder().encode("bob got it"),
    }),
  });
  await bob.connect();
  try {
    const data = new TextEncoder().encode("for bob");
    const { condition } = await fulfillmentFor(secret, data);
    const prepare = {
      amount: "7",
      destination: "test.town.bob.invoice1",
      executionCondition: condition,
      expiresAt: new Date(Date.now() + 10_000),
      data,
    };
    const reply = await s.alice.client.sendPrepare(prepare);
    assertEquals(reply.type, "fulfill");
    assertEquals(new TextDecoder().decode(reply.data), "bob got it");
    // A fulfillment that does not match is not relayed as a FULFILL.
    const wrong = await s.alice.client.sendPrepare({
      ...prepare,
      executionCondition: new Uint8Array(32).fill(1),
    });
    assertEquals(wrong.type === "reject" ? wrong.code : "fulfill", "F05");
  } finally {
    await bob.close();
  }
  assert(s.town.writeCounters.spspAnswered >= 1);
});

Deno.test("town BTP: a stopping town answers the payment in flight before it closes, and refuses new ones T03", async () => {
  const secretKey = generateSecretKey();
  const town = await startTestTown({ peers: PEERS, secretKey });
  const url = `btp+ws://127.0.0.1:${town.btpPort}`;
  const alice = await connectPayingClient({
    url,
    token: "tok-alice",
    townAddress: town.ilpAddress,
    townPubkey: getPublicKey(secretKey),
  });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  let release: (() => void) | undefined;
  let reached: (() => void) | undefined;
  const atBob = new Promise<void>((resolve) => (reached = resolve));
  const bob = new BtpClient({
    url,
    authToken: "tok-bob",
    reconnect: false,
    // Bob answers only when told: the town stops while the payment waits on him.
    onPrepare: async (prepare) => {
      reached!();
      await new Promise<void>((resolve) => (release = resolve));
      return {
        type: "fulfill",
        fulfillment: (await fulfillmentFor(secret, prepare.data)).fulfillment,
        data: new Uint8Array(),
      };
    },
  });
  await bob.connect();
  try {
    const data = new TextEncoder().encode("paid while the town stops");
    const { condition } = await fulfillmentFor(secret, data);
    const prepare = (d: Uint8Array, c: Uint8Array) => ({
      amount: "7",
      destination: "test.town.bob.invoice",
      executionCondition: c,
      expiresAt: new Date(Date.now() + 10_000),
      data: d,
    });
    const paying = alice.client.sendPrepare(prepare(data, condition));
    await atBob;
    const stopping = town.stop();
    // Stopping: a new packet is refused T03 at once, and never reaches bob.
    const late = await alice.client.sendPrepare(prepare(data, condition));
    assertEquals(late.type === "reject" ? late.code : late.type, "T03");
    release!();
    const reply = await paying;
    assertEquals(reply.type, "fulfill", "the payment in flight is answered, not cut off");
    await stopping;
  } finally {
    await bob.close();
    await alice.close();
    await town.stop();
  }
});

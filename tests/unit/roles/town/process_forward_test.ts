/**
 * The bounds of forwarding between a town's processes (roles/town/btp/process_forward.ts),
 * through the real handler and real `Request`s: packets at once (503), a body that never ends
 * (408), a wrong MAC (401); the sender's answers when the holder is not heard from (T01), the
 * database cannot say (T00) or too many packets are on their way (T03); and the holder it
 * remembers, asked again when that process answers F02 (the peer moved).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import {
  createForwardHandler,
  createProcessForwarder,
  FORWARD_MAC_HEADER,
} from "../../../../roles/town/btp/process_forward.ts";
import { decodeIlpReply, encodeIlpReply } from "../../../../protocol/ilp_packet.ts";

const key = new Uint8Array(32).fill(3);
const body = new TextEncoder().encode("a prepare");
const signed = (payload: BodyInit = body.slice()) =>
  new Request("http://127.0.0.1/ilp", {
    method: "POST",
    body: payload,
    headers: { [FORWARD_MAC_HEADER]: bytesToHex(hmac(sha256, key, body)) },
  });

Deno.test("process forward handler: packets at once beyond the cap are 503, the MAC is checked", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const handle = createForwardHandler({
    key,
    maxInFlight: 1,
    route: async (packet) => {
      await held;
      return packet;
    },
  });
  const first = handle(signed());
  const second = await handle(signed());
  assertEquals(second.status, 503);
  await second.body?.cancel();
  release();
  const answered = await first;
  assertEquals(answered.status, 200);
  assertEquals(new Uint8Array(await answered.arrayBuffer()), body);
  const forged = await handle(
    new Request("http://127.0.0.1/ilp", {
      method: "POST",
      body: body.slice(),
      headers: { [FORWARD_MAC_HEADER]: "00".repeat(32) },
    }),
  );
  assertEquals(forged.status, 401);
  await forged.body?.cancel();
});

Deno.test("process forward handler: a body that never ends is 408 and frees its slot", async () => {
  let routed = 0;
  const handle = createForwardHandler({
    key,
    maxInFlight: 1,
    bodyTimeoutMs: 50,
    route: (packet) => {
      routed++;
      return Promise.resolve(packet);
    },
  });
  const endless = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(10));
    },
  });
  const slow = await handle(signed(endless));
  assertEquals(slow.status, 408);
  await slow.body?.cancel();
  assertEquals(routed, 0);
  const next = await handle(signed());
  assertEquals(next.status, 200, "the slot was freed");
  await next.body?.cancel();
});

Deno.test("process forwarder: no holder, a silent holder, the database away, too many in flight", async () => {
  const holders = new Map<string, { url: string; fresh: boolean; silentMs: number }>([
    ["silent", { url: "http://127.0.0.1:1", fresh: false, silentMs: 7_400 }],
    ["gone", { url: "http://127.0.0.1:1", fresh: false, silentMs: Infinity }],
  ]);
  // A real listener that holds every packet until released: the in-flight cap is reached.
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    await r.arrayBuffer();
    await held;
    return new Response(new Uint8Array([1, 2, 3]));
  });
  holders.set("bob", { url: `http://127.0.0.1:${server.addr.port}`, fresh: true, silentMs: 0 });
  const elsewhere = createProcessForwarder({
    key,
    maxInFlight: 1,
    holder: (account) =>
      account === "db-away"
        ? Promise.reject(new Error("connection refused"))
        : Promise.resolve(holders.get(account)),
  });
  try {
    assertEquals(await elsewhere("carol"), undefined);
    const silent = await elsewhere("silent");
    assert(silent !== undefined && "code" in silent);
    assertEquals(silent.code, "T01");
    assert(silent.message.includes("not heard from for 7 s"), silent.message);
    const gone = await elsewhere("gone");
    assert(gone !== undefined && "code" in gone && gone.message.includes("no longer running"));
    const away = await elsewhere("db-away");
    assert(away !== undefined && "code" in away);
    assertEquals(away.code, "T00");
    const route = await elsewhere("bob");
    assert(route !== undefined && "hop" in route);
    const first = route.hop.request(body, 30_000);
    // The first packet is on its way (the listener holds it): the next lookup is T03.
    const busy = await elsewhere("bob");
    assert(busy !== undefined && "code" in busy);
    assertEquals(busy.code, "T03");
    release();
    assertEquals(await first, new Uint8Array([1, 2, 3]));
    const after = await elsewhere("bob");
    assert(after !== undefined && "hop" in after, "the slot was freed");
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("process forwarder: a holder remembered for a second, asked again when it answers F02", async () => {
  const fulfill = encodeIlpReply({
    type: "fulfill",
    fulfillment: new Uint8Array(32),
    data: new Uint8Array(0),
  });
  const f02 = encodeIlpReply({
    type: "reject",
    code: "F02",
    triggeredBy: "test.town",
    message: "no route to test.town.bob.x: bob not connected",
    data: new Uint8Array(0),
  });
  // Two real listeners: x holds bob until he moves to y.
  let bobOnX = true;
  const posts: string[] = [];
  const listener = (name: string, answer: () => Uint8Array) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
      await r.arrayBuffer();
      posts.push(name);
      return new Response(answer().slice());
    });
  const x = listener("x", () => bobOnX ? fulfill : f02);
  const y = listener("y", () => fulfill);
  const urlOf = (s: Deno.HttpServer<Deno.NetAddr>) => `http://127.0.0.1:${s.addr.port}`;
  let lookups = 0;
  const elsewhere = createProcessForwarder({
    key,
    holderCacheMs: 1_000,
    now: () => 0, // the remembered holder never expires by time here
    holder: () => {
      lookups++;
      return Promise.resolve({ url: urlOf(bobOnX ? x : y), fresh: true, silentMs: 0 });
    },
  });
  const send = async () => {
    const route = await elsewhere("bob");
    assert(route !== undefined && "hop" in route);
    return decodeIlpReply(await route.hop.request(body, 30_000)).type;
  };
  try {
    assertEquals(await send(), "fulfill");
    assertEquals(await send(), "fulfill");
    assertEquals(lookups, 1, "the second packet used the remembered holder");
    bobOnX = false;
    // x answers F02 (bob left it): the database is asked again and y gets the packet.
    assertEquals(await send(), "fulfill");
    assertEquals(posts, ["x", "x", "x", "y"]);
    assertEquals(lookups, 2);
    assertEquals(await send(), "fulfill");
    assertEquals(posts.at(-1), "y");
  } finally {
    await x.shutdown();
    await y.shutdown();
  }
});

/**
 * The town's read side (NIP-01 over WebSocket, NIP-11, /health, /metrics) against independent
 * clients: nostr-tools (`SimplePool`, `Relay`) and raw WebSockets, on a real server (port 0) with
 * a real SQLite store in a temp dir.
 *
 * The paid ILP write path is built elsewhere: these tests insert events directly into the store
 * and push live ones with `hub.publish`, as the write side will after a paid insert. Test names
 * say "direct insert" / "hub.publish" where they do.
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { SimplePool } from "nostr-tools/pool";
import { Relay } from "nostr-tools/relay";
import { decode as decodeToon140 } from "toon-1.4.0";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { type EventStore, openEventStore } from "../../state/events/event_store.ts";
import {
  createTownHttpHandler,
  type TownHttpHandler,
  type TownHttpHandlerOptions,
} from "../../roles/town/town_http_handler.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";

const owner = generateSecretKey();
const ownerPub = getPublicKey(owner);
const alice = generateSecretKey();
const alicePub = getPublicKey(alice);
const bob = generateSecretKey();
const bobPub = getPublicKey(bob);
const NOW = Math.floor(Date.now() / 1000);
let clockTick = NOW - 10_000;

function makeEvent(
  key: Uint8Array,
  kind: number,
  tags: string[][] = [],
  content = "",
  createdAt = ++clockTick,
): NostrEvent {
  const signed = finalizeEvent({ kind, tags, content, created_at: createdAt }, key);
  return JSON.parse(JSON.stringify(signed)) as NostrEvent;
}

interface RunningTown {
  url: string;
  httpUrl: string;
  store: EventStore;
  town: TownHttpHandler;
  clock: { now: number };
  close(): Promise<void>;
}

async function startTown(
  options: Partial<Omit<TownHttpHandlerOptions, "store">> = {},
): Promise<RunningTown> {
  const dir = await Deno.makeTempDir({ prefix: "town_read_" });
  const clock = { now: NOW };
  const store = openEventStore({ path: `${dir}/events.sqlite`, now: () => clock.now });
  const town = createTownHttpHandler({
    store,
    ownerPubkey: ownerPub,
    ilpAddress: "g.test.town",
    purgeIntervalMs: 0,
    ...options,
  });
  const server = town.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = server;
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    store,
    town,
    clock,
    async close() {
      town.close();
      await server.close();
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A raw WebSocket client that records every message and waits for the ones a test expects. */
class RawClient {
  readonly messages: unknown[][] = [];
  #cursor = 0;
  #wake: (() => void) | null = null;
  #closed: Promise<CloseEvent>;
  closeEvent: CloseEvent | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (m) => {
      this.messages.push(JSON.parse(m.data));
      this.#wake?.();
    };
    this.#closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        this.closeEvent = e;
        this.#wake?.();
        resolve(e);
      });
    });
  }

  static open(url: string, protocols?: string[]): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const client = new RawClient(ws);
      ws.onopen = () => resolve(client);
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  send(message: unknown[] | string): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message (after those already taken) that satisfies `pred`. */
  async next(pred: (m: unknown[]) => boolean, what = "message"): Promise<unknown[]> {
    const timer = setTimeout(() => this.#wake?.(), 15_000);
    const started = Date.now();
    try {
      for (;;) {
        while (this.#cursor < this.messages.length) {
          const m = this.messages[this.#cursor++];
          if (pred(m)) return m;
        }
        if (this.closeEvent) throw new Error(`socket closed while waiting for ${what}`);
        if (Date.now() - started >= 15_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((r) => this.#wake = r);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a REQ and returns the events (JSON objects or TOON strings) before its EOSE. */
  async req(subId: string, ...filters: unknown[]): Promise<unknown[]> {
    this.send(["REQ", subId, ...filters]);
    const events: unknown[] = [];
    for (;;) {
      const m = await this.next((m) => m[1] === subId, `EOSE of ${subId}`);
      if (m[0] === "EOSE") return events;
      if (m[0] !== "EVENT") throw new Error(`unexpected ${JSON.stringify(m)}`);
      events.push(m[2]);
    }
  }

  async reqIds(subId: string, ...filters: unknown[]): Promise<string[]> {
    return (await this.req(subId, ...filters)).map((e) => (e as NostrEvent).id);
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.#closed;
  }
}

function byNewest(events: NostrEvent[]): string[] {
  return [...events].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1))
    .map((e) => e.id);
}

Deno.test({
  name:
    "town read: SimplePool gets stored events (direct insert), EOSE, then live ones (hub.publish)",
  // nostr-tools' pool keeps a timer after destroy() (its idle/ping bookkeeping).
  sanitizeOps: false,
  async fn() {
    const t = await startTown();
    const pool = new SimplePool();
    try {
      const stored = [1, 2, 3].map((i) => makeEvent(alice, 1, [["t", "town"]], `stored ${i}`));
      t.store.insertBatch(stored.map((event) => ({ event })));
      const received: NostrEvent[] = [];
      let eoseAt = -1;
      const gotLive = Promise.withResolvers<void>();
      const eose = Promise.withResolvers<void>();
      const sub = pool.subscribeMany([t.url], { kinds: [1], "#t": ["town"] }, {
        onevent(e) {
          received.push(JSON.parse(JSON.stringify(e)));
          if (received.length === 5) gotLive.resolve();
        },
        oneose() {
          eoseAt = received.length;
          eose.resolve();
        },
      });
      await eose.promise;
      assertEquals(eoseAt, 3);
      assertEquals(received.map((e) => e.id), byNewest(stored));
      const live = [makeEvent(bob, 1, [["t", "town"]], "live 1"), makeEvent(bob, 1, [], "no tag")];
      const live2 = makeEvent(alice, 1, [["t", "town"]], "live 2");
      for (const e of [...live, live2]) {
        t.store.insert(e);
        t.town.hub.publish(e);
      }
      await gotLive.promise;
      assertEquals(received.slice(3).map((e) => e.id), [live[0].id, live2.id]);
      assertEquals(received.slice(3), [live[0], live2]);
      sub.close();
    } finally {
      pool.destroy();
      await t.close();
    }
  },
});

Deno.test("town read: NIP-01 filter semantics over a raw WebSocket (direct insert)", async () => {
  const t = await startTown();
  const c = await RawClient.open(t.url);
  try {
    const jobId = "aa".repeat(32);
    const a1 = makeEvent(alice, 1, [["e", jobId]], "a1");
    const a2 = makeEvent(alice, 7000, [["p", bobPub], ["e", jobId]], "a2");
    const b1 = makeEvent(bob, 1, [], "b1");
    const b2 = makeEvent(bob, 31990, [["d", "svc"], ["k", "5050"]], "b2");
    const b3 = makeEvent(bob, 5050, [["p", alicePub]], "b3");
    const all = [a1, a2, b1, b2, b3];
    t.store.insertBatch(all.map((event) => ({ event })));
    assertEquals(await c.reqIds("all", {}), byNewest(all));
    assertEquals(await c.reqIds("ids", { ids: [a1.id, b2.id] }), byNewest([a1, b2]));
    assertEquals(await c.reqIds("authors", { authors: [alicePub] }), byNewest([a1, a2]));
    assertEquals(await c.reqIds("kinds", { kinds: [1, 5050] }), byNewest([a1, b1, b3]));
    assertEquals(await c.reqIds("e", { "#e": [jobId] }), byNewest([a1, a2]));
    assertEquals(await c.reqIds("p", { "#p": [alicePub, bobPub] }), byNewest([a2, b3]));
    assertEquals(await c.reqIds("d", { kinds: [31990], "#d": ["svc"] }), [b2.id]);
    assertEquals(
      await c.reqIds("range", { since: a2.created_at, until: b2.created_at }),
      byNewest([a2, b1, b2]),
    );
    assertEquals(
      await c.reqIds("or", { kinds: [7000] }, { authors: [bobPub], kinds: [1] }),
      byNewest([a2, b1]),
    );
    assertEquals(await c.reqIds("limit", { limit: 2 }), byNewest(all).slice(0, 2));
    assertEquals(await c.reqIds("none", { kinds: [9] }), []);
    // Full events come back exactly as stored.
    assertEquals(await c.req("exact", { ids: [b2.id] }), [b2]);
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test("town read: COUNT (NIP-45) via nostr-tools Relay and a raw socket", async () => {
  const t = await startTown();
  const relay = await Relay.connect(t.url);
  const c = await RawClient.open(t.url);
  try {
    const target = "bb".repeat(32);
    const reactions = [1, 2, 3].map(() => makeEvent(alice, 7, [["e", target]], "+"));
    t.store.insertBatch([...reactions, makeEvent(bob, 1)].map((event) => ({ event })));
    assertEquals(await relay.count([{ kinds: [7], "#e": [target] }], {}), 3);
    c.send(["COUNT", "c1", { kinds: [7] }, { authors: [bobPub] }]);
    assertEquals(await c.next((m) => m[1] === "c1"), ["COUNT", "c1", { count: 4 }]);
  } finally {
    relay.close();
    await c.close();
    await t.close();
  }
});

Deno.test("town read: replaceable and addressable events are replaced, live and stored (direct insert)", async () => {
  const t = await startTown();
  const c = await RawClient.open(t.url);
  try {
    const info1 = makeEvent(alice, 10032, [], '{"ilpAddress":"g.a.1"}');
    const info2 = makeEvent(alice, 10032, [], '{"ilpAddress":"g.a.2"}');
    const svc1 = makeEvent(alice, 31990, [["d", "translate"]], "v1");
    const svc2 = makeEvent(alice, 31990, [["d", "translate"]], "v2");
    const other = makeEvent(alice, 31990, [["d", "summarise"]], "other");
    t.store.insertBatch([info1, svc1, other].map((event) => ({ event })));
    assertEquals(
      await c.req("live", { authors: [alicePub], kinds: [10032, 31990] }),
      [
        other,
        svc1,
        info1,
      ].sort((a, b) => b.created_at - a.created_at),
    );
    for (const e of [info2, svc2]) {
      assertEquals(t.store.insert(e).status, "replaced");
      t.town.hub.publish(e);
    }
    assertEquals((await c.next((m) => m[0] === "EVENT" && m[1] === "live"))[2], info2);
    assertEquals((await c.next((m) => m[0] === "EVENT" && m[1] === "live"))[2], svc2);
    assertEquals(
      await c.reqIds("after", { authors: [alicePub] }),
      byNewest([info2, svc2, other]),
    );
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test("town read: kind 5 deletion removes the author's events (direct insert)", async () => {
  const t = await startTown();
  const c = await RawClient.open(t.url);
  try {
    const job = makeEvent(alice, 5050, [], "job");
    const keep = makeEvent(alice, 1, [], "keep");
    t.store.insertBatch([job, keep].map((event) => ({ event })));
    assertEquals(await c.reqIds("before", { authors: [alicePub] }), byNewest([job, keep]));
    const deletion = makeEvent(alice, 5, [["e", job.id], ["k", "5050"]], "cancelled");
    assertEquals(t.store.insert(deletion).removedIds, [job.id]);
    t.town.hub.publish(deletion);
    assertEquals(await c.reqIds("after", { authors: [alicePub] }), byNewest([keep, deletion]));
    assertEquals(t.store.insert(job).status, "rejected-deleted");
    assertEquals(await c.reqIds("job", { ids: [job.id] }), []);
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test("town read: NIP-40 expired events are not served, then purged (direct insert)", async () => {
  const t = await startTown();
  const c = await RawClient.open(t.url);
  try {
    const expiring = makeEvent(alice, 1, [["expiration", String(NOW + 60)]], "expiring");
    const lasting = makeEvent(alice, 1, [], "lasting");
    t.store.insertBatch([expiring, lasting].map((event) => ({ event })));
    assertEquals(await c.reqIds("now", { kinds: [1] }), byNewest([expiring, lasting]));
    t.clock.now = NOW + 60;
    assertEquals(await c.reqIds("later", { kinds: [1] }), [lasting.id]);
    c.send(["COUNT", "n", { kinds: [1] }]);
    assertEquals(await c.next((m) => m[1] === "n"), ["COUNT", "n", { count: 1 }]);
    assertEquals(t.store.purgeExpired(), [expiring.id]);
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test({
  name:
    "town read: an unpaid EVENT is refused with payment-required; the owner's EVENT is stored and pushed live",
  sanitizeOps: false, // nostr-tools' pool keeps a timer after destroy()
  async fn() {
    const t = await startTown({ pricing: { pricePerByte: 7n, ownerPubkey: ownerPub } });
    const pool = new SimplePool();
    const watcher = await RawClient.open(t.url);
    try {
      await watcher.req("w", { kinds: [1] });
      const unpaid = makeEvent(alice, 1, [], "please store me for free");
      let refusal = "";
      try {
        await Promise.any(pool.publish([t.url], unpaid));
      } catch (err) {
        refusal = String((err as AggregateError).errors?.[0] ?? err);
      }
      assertStringIncludes(refusal, "payment-required: ");
      assertStringIncludes(refusal, "g.test.town");
      const toonBytes = new TextEncoder().encode(encodeEventToon(unpaid)).byteLength;
      assertStringIncludes(refusal, `${toonBytes} TOON bytes = ${toonBytes * 7} units`);
      assertEquals(t.store.size(), 0);

      const mine = makeEvent(owner, 1, [], "owner writes free");
      assertEquals(await Promise.any(pool.publish([t.url], mine)), "");
      assertEquals((await watcher.next((m) => m[0] === "EVENT"))[2], mine);
      assertEquals(t.store.query([{ ids: [mine.id] }])[0].toon, encodeEventToon(mine));
      // A forged owner event (bad signature) is refused as invalid.
      const forged = { ...makeEvent(owner, 1, [], "x"), content: "tampered" };
      watcher.send(["EVENT", forged]);
      const ok = await watcher.next((m) => m[0] === "OK");
      assertEquals(ok.slice(0, 3), ["OK", forged.id, false]);
      assertMatch(String(ok[3]), /^invalid: bad-(id|sig)/);
    } finally {
      pool.destroy();
      await watcher.close();
      await t.close();
    }
  },
});

Deno.test("town read: TOON mode via ?format=toon and via the toon subprotocol (direct insert + hub.publish)", async () => {
  const t = await startTown();
  const stored = makeEvent(alice, 1, [["p", bobPub]], "stored: [1] with a colon");
  const raw = encodeEventToon(stored);
  t.store.insert(stored, raw);
  const byQuery = await RawClient.open(`${t.url}/?format=toon`);
  const byProtocol = await RawClient.open(t.url, ["toon"]);
  const standard = await RawClient.open(t.url);
  try {
    assertEquals(byProtocol.ws.protocol, "toon");
    assertEquals(standard.ws.protocol, "");
    for (const client of [byQuery, byProtocol]) {
      const [text] = await client.req("s", { kinds: [1] });
      assertEquals(text, raw);
      assertEquals(decodeToon140(text as string), stored);
    }
    assertEquals(await standard.req("s", { kinds: [1] }), [stored]);
    const live = makeEvent(bob, 1, [], "");
    t.store.insert(live);
    t.town.hub.publish(live);
    for (const client of [byQuery, byProtocol]) {
      const m = await client.next((m) => m[0] === "EVENT");
      assertEquals(typeof m[2], "string");
      assertEquals(decodeToon140(m[2] as string), live);
    }
    assertEquals((await standard.next((m) => m[0] === "EVENT"))[2], live);
  } finally {
    await Promise.all([byQuery.close(), byProtocol.close(), standard.close()]);
    await t.close();
  }
});

Deno.test("town read: limits: too many subscriptions, too many filters, oversize and malformed messages", async () => {
  const t = await startTown({
    limits: { maxSubscriptions: 2, maxFilters: 2, maxMessageBytes: 1024 },
  });
  const c = await RawClient.open(t.url);
  try {
    await c.req("one", {});
    await c.req("two", {});
    await c.req("two", { kinds: [1] }); // replacing an open id is not a new subscription
    c.send(["REQ", "three", {}]);
    const closed = await c.next((m) => m[1] === "three");
    assertEquals(closed[0], "CLOSED");
    assertStringIncludes(String(closed[2]), "error: too many subscriptions (max 2)");
    c.send(["CLOSE", "one"]);
    await c.req("three", {});
    c.send(["REQ", "f", {}, {}, {}]);
    assertEquals(await c.next((m) => m[1] === "f"), [
      "CLOSED",
      "f",
      "invalid: REQ has more than 2 filters",
    ]);
    c.send(["REQ", "big", { "#t": ["x".repeat(2000)] }]);
    assertEquals(await c.next((m) => m[0] === "NOTICE"), [
      "NOTICE",
      "invalid: message over 1024 bytes",
    ]);
    c.send("not json");
    assertEquals(await c.next((m) => m[0] === "NOTICE"), [
      "NOTICE",
      "invalid: message is not valid JSON",
    ]);
    c.send(["REQ", "bad", { kinds: "1" }]);
    const bad = await c.next((m) => m[1] === "bad");
    assertEquals(bad.slice(0, 2), ["CLOSED", "bad"]);
    assertStringIncludes(String(bad[2]), "invalid: REQ filter 1");
    c.send(["CLOSE", "three"]);
    c.send(["REQ", "search", { search: "x" }]);
    assertEquals(await c.next((m) => m[1] === "search"), [
      "CLOSED",
      "search",
      "invalid: search (NIP-50) is not supported",
    ]);
    assertEquals(t.town.counters.oversizeMessagesTotal, 1);
    assertEquals(t.town.counters.tooManySubscriptionsTotal, 1);
  } finally {
    await c.close();
    await t.close();
  }
});

Deno.test("town read: rate limit answers rate-limited once the burst is spent", async () => {
  // A refill of one token per 1000 s: within this test only the burst of 3 is available.
  const t = await startTown({ limits: { messagesPerSecond: 0.001, messageBurst: 3 } });
  const c = await RawClient.open(t.url);
  try {
    for (let i = 0; i < 5; i++) c.send(["COUNT", `c${i}`, {}]);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await c.next((m) => m[1] === `c${i}`));
    assertEquals(answers.map((m) => m[0]), ["COUNT", "COUNT", "COUNT", "CLOSED", "CLOSED"]);
    assertMatch(String(answers[3][2]), /^rate-limited: /);
    c.send(["EVENT", makeEvent(alice, 1)]);
    const ok = await c.next((m) => m[0] === "OK");
    assertEquals(ok[2], false);
    assertMatch(String(ok[3]), /^rate-limited: /);
    assertEquals(t.town.counters.rateLimitedTotal, 3);
  } finally {
    await c.close();
    await t.close();
  }
});

/** Opens a WebSocket over raw TCP and then never reads: the slowest consumer there is. */
async function openNonReadingSocket(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa("turnpike-slow-01");
  const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  assertStringIncludes(new TextDecoder().decode(buf.subarray(0, n ?? 0)), " 101 ");
  // A masked client frame: ["REQ","s",{}]
  const payload = new TextEncoder().encode('["REQ","s",{}]');
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, 0, 0, 0, 0]);
  frame.set(payload, 6); // zero mask: the payload goes as is
  await conn.write(frame);
  return conn;
}

Deno.test("town read: a slow consumer gets a NOTICE and is disconnected (hub.publish)", async () => {
  const t = await startTown({ limits: { maxBufferedBytes: 256 * 1024 } });
  const port = Number(new URL(t.url).port);
  const conn = await openNonReadingSocket(port);
  const fast = await RawClient.open(t.url);
  try {
    await fast.req("f", { kinds: [1] });
    while (t.town.hub.size < 2) await new Promise((r) => setTimeout(r, 5));
    const big = makeEvent(alice, 1, [], "x".repeat(60_000));
    let published = 0;
    while (t.town.counters.slowConsumerDisconnectsTotal === 0 && published < 5000) {
      t.town.hub.publish(big);
      published++;
      // The fast client reads each event before the next is published: it never lags.
      await fast.next((m) => m[0] === "EVENT");
    }
    assertEquals(t.town.counters.slowConsumerDisconnectsTotal, 1);
    assertEquals(t.town.hub.size, 1); // only the fast client is still subscribed
    // The slow client, when it finally reads, finds the NOTICE after the events it did get.
    const seen = new Uint8Array(64 * 1024);
    let tail = "";
    const decoder = new TextDecoder();
    for (;;) {
      const n = await conn.read(seen);
      if (n === null) break;
      tail = (tail + decoder.decode(seen.subarray(0, n))).slice(-4096);
      if (tail.includes("slow consumer")) break;
    }
    assertMatch(
      tail,
      /\["NOTICE","error: slow consumer \(\d+ bytes unsent; max 262144\); closing"\]/,
    );
    // The fast client is still connected.
    fast.send(["COUNT", "alive", {}]);
    assertEquals((await fast.next((m) => m[1] === "alive"))[0], "COUNT");
  } finally {
    conn.close();
    await fast.close();
    await t.close();
  }
});

Deno.test("town read: NIP-11 document, /health and /metrics over HTTP", async () => {
  const t = await startTown({ limits: { maxSubscriptions: 7 } });
  try {
    const nip11 = await fetch(t.httpUrl, { headers: { accept: "application/nostr+json" } });
    assertEquals(nip11.headers.get("content-type"), "application/nostr+json");
    assertEquals(nip11.headers.get("access-control-allow-origin"), "*");
    const doc = await nip11.json();
    assertEquals(doc.pubkey, ownerPub);
    for (const nip of [1, 11, 40, 42, 45, 89, 90]) {
      assert(doc.supported_nips.includes(nip), `NIP-${nip}`);
    }
    assertEquals(doc.limitation.max_subscriptions, 7);
    assertEquals(doc.limitation.max_message_length, 65536);
    assertEquals(doc.limitation.payment_required, true);
    assertEquals(doc.limitation.auth_required, false); // AUTH for private kinds only
    assertEquals(doc.fees.publication[0].amount, 10);

    const c = await RawClient.open(t.url);
    await c.req("s", {});
    const health = await (await fetch(`${t.httpUrl}/health`)).json();
    assertEquals([health.status, health.connections, health.subscriptions], ["ok", 1, 1]);
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
    assertStringIncludes(metrics, "turnpike_town_connections_open 1\n");
    assertStringIncludes(metrics, "turnpike_town_eoses_sent_total 1\n");
    assertStringIncludes(metrics, 'turnpike_town_limit{name="max_subscriptions"} 7\n');
    await c.close();
    const missing = await fetch(`${t.httpUrl}/nope`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
  } finally {
    await t.close();
  }
});

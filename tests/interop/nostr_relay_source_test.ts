/**
 * The relay source against an independent relay (@nostr-relay/* under Node), with events
 * published by an independent client (nostr-tools `finalizeEvent`, sent over a raw WebSocket so
 * the publisher can keep retrying while the relay is being killed and restarted).
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { decode as decodeToon } from "@toon-format/toon";
import { decode as decodeToon140 } from "toon-1.4.0";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  createRelaySource,
  type RelaySourceChunk,
  type RelaySourceLogEntry,
  relaySourceStage,
  RelaySubscriptionRefusedError,
} from "../../stages/relay_source.ts";
import { StageOptionsError } from "../../stages/stage.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../harness/assert.ts";
import { startReferenceRelay } from "../../harness/reference_relay.ts";

const secretKey = generateSecretKey();
const pubkey = getPublicKey(secretKey);
let clock = Math.floor(Date.now() / 1000) - 1000;

function makeEvent(kind: number, tags: string[][] = [], content = "", createdAt = ++clock) {
  const signed = finalizeEvent({ kind, tags, content, created_at: createdAt }, secretKey);
  // A plain copy: nostr-tools marks signed events with a symbol deep equality would compare.
  return JSON.parse(JSON.stringify(signed)) as NostrEvent;
}

/** Publishes one event; resolves with the relay's OK, rejects if the socket fails first. */
function publishOnce(url: string, event: NostrEvent): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const done = (err?: Error) => {
      ws.onopen =
        ws.onmessage =
        ws.onerror =
        ws.onclose =
          null;
      ws.close();
      if (err) reject(err);
      else resolve();
    };
    ws.onopen = () => ws.send(JSON.stringify(["EVENT", event]));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg[0] !== "OK" || msg[1] !== event.id) return;
      if (msg[2] === true) done();
      else done(new Error(`relay refused event: ${msg[3]}`));
    };
    ws.onerror = () => done(new Error("socket error"));
    ws.onclose = () => done(new Error("socket closed before OK"));
  });
}

/** Publishes until the relay says OK (the relay de-duplicates by id, so retrying is safe). */
async function publish(url: () => string, event: NostrEvent): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      return await publishOnce(url(), event);
    } catch (err) {
      if (attempt > 200) throw err;
      await delay(50);
    }
  }
}

function delay(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function toonEvents(chunks: RelaySourceChunk[]): NostrEvent[] {
  return chunks.map((c) => {
    if (c.type !== "toon") throw new Error(`unexpected chunk ${JSON.stringify(c)}`);
    return decodeToon(c.toon) as unknown as NostrEvent;
  });
}

async function collect(stream: ReadableStream<RelaySourceChunk>): Promise<RelaySourceChunk[]> {
  return await Array.fromAsync(stream);
}

Deno.test("relay source: filters, EOSE, live events, TOON readable by toon 1.4.0", async (t) => {
  const relay = await startReferenceRelay();
  try {
    const jobA = makeEvent(5050, [["i", "hello", "text"]], "");
    const jobB = makeEvent(5050, [], "no tags at all");
    const other = makeEvent(1, [["t", "x"]], "a note");
    const fbA1 = makeEvent(7000, [["e", jobA.id], ["p", pubkey], ["status", "processing"]]);
    const fbA2 = makeEvent(7000, [["e", jobA.id], ["p", pubkey], ["status", "success"]]);
    const fbB = makeEvent(7000, [["e", jobB.id], ["status", "payment-required"]]);
    for (const e of [jobA, jobB, other, fbA1, fbA2, fbB]) await publish(() => relay.url, e);

    await t.step("kinds", async () => {
      const got = toonEvents(
        await collect(createRelaySource({
          relay: relay.url,
          filters: [{ kinds: [5050] }],
          untilEose: true,
        })),
      );
      assertEquals(new Set(got.map((e) => e.id)), new Set([jobA.id, jobB.id]));
    });

    await t.step("#e, and the stage's flag parsing", async () => {
      const options = relaySourceStage.parseOptions({
        relay: relay.url,
        kinds: "7000",
        e: jobA.id,
        "until-eose": "true",
      });
      const chunks = await collect(relaySourceStage.create(options));
      const got = toonEvents(chunks);
      assertEquals(new Set(got.map((e) => e.id)), new Set([fbA1.id, fbA2.id]));
      for (const c of chunks) {
        assert(c.type === "toon");
        assertEquals(c.source, relay.url);
        assert(typeof c.subId === "string" && typeof c.receivedAt === "number");
      }
    });

    await t.step("#p and since; several filters", async () => {
      const got = toonEvents(
        await collect(createRelaySource({
          relay: relay.url,
          filters: [{ "#p": [pubkey], since: fbA2.created_at }, { kinds: [1] }],
          untilEose: true,
        })),
      );
      assertEquals(new Set(got.map((e) => e.id)), new Set([fbA2.id, other.id]));
    });

    await t.step("TOON chunks decode to the published events with 4.4.0 and 1.4.0", async () => {
      const chunks = await collect(createRelaySource({
        relay: relay.url,
        filters: [{ ids: [jobB.id, jobA.id] }],
        untilEose: true,
      }));
      const byId = new Map(toonEvents(chunks).map((e) => [e.id, e]));
      assertEquals(byId.get(jobB.id), jobB);
      assertEquals(byId.get(jobA.id), jobA);
      for (const c of chunks) {
        assert(c.type === "toon");
        assertEquals(decodeToon140(c.toon), decodeToon(c.toon));
      }
    });

    await t.step("live events after EOSE", async () => {
      let eose!: () => void;
      const eoseSeen = new Promise<void>((r) => eose = r);
      const stream = createRelaySource({
        relay: relay.url,
        filters: [{ kinds: [6050] }],
        onLog: (e) => e.type === "eose" && eose(),
      });
      const reader = stream.getReader();
      await eoseSeen;
      const live = [makeEvent(6050), makeEvent(6050), makeEvent(6050)];
      for (const e of live) await publish(() => relay.url, e);
      const got: string[] = [];
      while (got.length < live.length) {
        const { value } = await reader.read();
        got.push(toonEvents([value!])[0].id);
      }
      await reader.cancel();
      assertEquals(got, live.map((e) => e.id));
    });
  } finally {
    await relay.stop();
  }
});

Deno.test("relay source: relay SIGKILLed and restarted while publishing: each event exactly once", async () => {
  const relay = await startReferenceRelay();
  const log: RelaySourceLogEntry[] = [];
  const stream = createRelaySource({
    relay: relay.url,
    filters: [{ kinds: [5999], authors: [pubkey] }],
    initialBackoffMs: 100,
    maxBackoffMs: 800,
    onLog: (e) => log.push(e),
  });
  const reader = stream.getReader();
  const total = 90;
  const published: string[] = [];
  const received: string[] = [];
  const receiving = (async () => {
    while (received.length < total) {
      const { value, done } = await reader.read();
      if (done) break;
      received.push(toonEvents([value])[0].id);
    }
  })();
  try {
    for (let i = 0; i < total; i++) {
      // Same-second and slightly out-of-order created_at, as real clients produce.
      const event = makeEvent(5999, [], `event ${i}`, clock - (i % 3));
      if (i % 3 === 0) clock++;
      await publish(() => relay.url, event);
      published.push(event.id);
      if (i === 30 || i === 60) {
        await relay.kill();
        // Keep publishing while it is down: the publisher retries until the restart.
        const restart = delay(300).then(() => relay.restart());
        const next = makeEvent(5999, [], `event ${++i}`, clock);
        await Promise.all([restart, publish(() => relay.url, next)]);
        published.push(next.id);
      }
    }
    const timeout = delay(60_000).then(() => "timeout");
    const outcome = await Promise.race([receiving.then(() => "done"), timeout]);
    assertEquals(outcome, "done", `received ${received.length} of ${total}`);
    assertEquals(received.length, published.length);
    assertEquals(new Set(received).size, received.length, "an event was delivered twice");
    assertEquals(new Set(received), new Set(published));
    assert(log.filter((e) => e.type === "disconnected").length >= 2, "relay was never lost");
  } finally {
    await reader.cancel();
    await relay.stop();
  }
});

Deno.test("relay source: a slow consumer pauses the socket and loses nothing", async () => {
  const relay = await startReferenceRelay();
  try {
    const events = Array.from({ length: 60 }, (_, i) => makeEvent(5998, [], `e${i}`));
    for (const e of events) await publish(() => relay.url, e);
    const log: RelaySourceLogEntry[] = [];
    const stream = createRelaySource({
      relay: relay.url,
      filters: [{ kinds: [5998] }],
      untilEose: true,
      highWaterMark: 4,
      onLog: (e) => log.push(e),
    });
    const ids: string[] = [];
    for await (const chunk of stream) {
      ids.push(toonEvents([chunk])[0].id);
      await delay(2);
    }
    assertEquals(ids.length, events.length);
    assertEquals(new Set(ids), new Set(events.map((e) => e.id)));
    assert(log.some((e) => e.type === "paused"), "the queue never filled");
  } finally {
    await relay.stop();
  }
});

Deno.test("relay source: refused subscription ends the stream with a named error", async () => {
  const relay = await startReferenceRelay();
  try {
    // The reference relay's validator accepts at most 20 kinds; ours accepts more.
    const kinds = Array.from({ length: 30 }, (_, i) => 5000 + i);
    const stream = createRelaySource({ relay: relay.url, filters: [{ kinds }] });
    await assertRejects(() => collect(stream), RelaySubscriptionRefusedError, "invalid:");
  } finally {
    await relay.stop();
  }
});

Deno.test("relay source: options and permissions", () => {
  assertThrows(
    () => relaySourceStage.parseOptions({ relay: "ws://relay.example.com" }),
    StageOptionsError,
    "non-loopback",
  );
  assertThrows(() => relaySourceStage.parseOptions({}), StageOptionsError, "--relay");
  assertThrows(
    () => relaySourceStage.parseOptions({ relay: "ws://127.0.0.1:1", kinds: "x" }),
    StageOptionsError,
  );
  const options = relaySourceStage.parseOptions({ relay: "wss://relay.example.com", kinds: "1" });
  assertEquals(relaySourceStage.permissions(options).net, ["relay.example.com:443"]);
  assertEquals(relaySourceStage.permissions(options).read, false);
});

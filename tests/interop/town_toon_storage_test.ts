/**
 * Events through a real town, written by a paying client over BTP/ILP and read back by
 * independent readers: nostr-tools (JSON) and a raw WebSocket in TOON mode decoded with
 * `@toon-format/toon` 1.4.0 (what deployed Crosstown clients decode with).
 *
 * - An event whose content holds U+0000 comes back byte-exact, stored and live.
 * - An event another client wrote as TOON that 1.4.0 cannot decode is served as TOON it can.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { Relay } from "nostr-tools/relay";
import { encode as encodeToon4 } from "@toon-format/toon";
import { decode as decodeToon140 } from "toon-1.4.0";
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  connectPayingClient,
  type PayingClient,
  startTestTown,
} from "../../harness/town_test_node.ts";
import type { TownNode } from "../../roles/town/town_node.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { fulfillmentFor } from "../../protocol/ilp_fulfillment.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";

const author = generateSecretKey();

function note(content: string, tags: string[][] = []): NostrEvent {
  const signed = finalizeEvent({
    kind: 1,
    created_at: Math.floor(Date.now() / 1000),
    tags,
    content,
  }, author);
  return JSON.parse(JSON.stringify(signed)) as NostrEvent;
}

/** Pays for and sends TOON text exactly as given (another client's encoder). */
async function writeToonText(client: PayingClient, text: string): Promise<IlpReply> {
  const data = new TextEncoder().encode(text);
  const { condition } = await fulfillmentFor(client.grant.sharedSecret, data);
  return await client.client.sendPrepare({
    amount: String(10n * BigInt(data.byteLength)),
    destination: client.grant.destinationAccount,
    executionCondition: condition,
    expiresAt: new Date(Date.now() + 30_000),
    data,
  });
}

/** A TOON-mode reader: every `EVENT` payload (TOON text) of one subscription, in order. */
class ToonReader {
  readonly texts: string[] = [];
  #waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data) as unknown[];
      if (msg[0] === "EVENT" && typeof msg[2] === "string") this.texts.push(msg[2]);
      for (const w of this.#waiters.splice(0)) w();
    };
  }

  static async open(town: TownNode, filter: Record<string, unknown>): Promise<ToonReader> {
    const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}/?format=toon`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("cannot reach the town"));
    });
    const reader = new ToonReader(ws);
    ws.send(JSON.stringify(["REQ", "r", filter]));
    return reader;
  }

  async count(n: number): Promise<string[]> {
    while (this.texts.length < n) await new Promise<void>((r) => this.#waiters.push(r));
    return this.texts.slice(0, n);
  }

  close(): void {
    this.ws.close();
  }
}

async function withTown(fn: (town: TownNode, writer: PayingClient) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "town_toon_storage_" });
  const town = await startTestTown({ acceptAnyToken: true, databasePath: `${dir}/events.sqlite` });
  const writer = await connectPayingClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    token: "writer",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  try {
    await fn(town, writer);
  } finally {
    await writer.close();
    await town.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("town TOON storage: an event holding U+0000 round-trips byte-exact, stored and live", async () => {
  await withTown(async (town, writer) => {
    const event = note("before\u0000after \u0000\u0000 end", [["t", "nul"]]);
    const live = await ToonReader.open(town, { "#t": ["nul"] });
    const reply = await writer.write(event);
    assertEquals(reply.type, "fulfill");
    const [pushed] = await live.count(1);
    live.close();
    const stored = await ToonReader.open(town, { ids: [event.id] });
    const [served] = await stored.count(1);
    stored.close();
    for (const text of [pushed, served]) {
      assertEquals(decodeToon140(text), event);
      assertEquals(decodeEventToon(text), event);
    }
    const relay = await Relay.connect(`ws://127.0.0.1:${town.httpPort}`);
    try {
      const got = await new Promise<NostrEvent>((resolve) => {
        const sub = relay.subscribe([{ ids: [event.id] }], {
          onevent: (e) => {
            sub.close();
            resolve(e as NostrEvent);
          },
        });
      });
      const utf8 = new TextEncoder();
      assertEquals(utf8.encode(got.content), utf8.encode("before\u0000after \u0000\u0000 end"));
      // nostr-tools marks what it verified with a symbol; the event's own fields are compared.
      assertEquals(JSON.parse(JSON.stringify(got)), event);
    } finally {
      relay.close();
    }
  });
});

Deno.test("town TOON storage: another client's TOON that 1.4.0 cannot read is served as TOON it can", async () => {
  await withTown(async (town, writer) => {
    // A bell and an array-header look-alike, with no tags: plain 4.x writes `\u0007`,
    // `tags: []` and an unquoted `content:` key holding `[2]:`, none of which 1.4.0 reads back.
    const event = note("bell \u0007 and [2]: x");
    const theirs = encodeToon4({ ...event });
    let unreadable = false;
    try {
      unreadable = JSON.stringify(decodeToon140(theirs)) !== JSON.stringify(event);
    } catch {
      unreadable = true;
    }
    assert(unreadable, "the client's TOON is one 1.4.0 cannot decode to the event");
    const live = await ToonReader.open(town, { authors: [event.pubkey] });
    const reply = await writeToonText(writer, theirs);
    assertEquals(reply.type, "fulfill");
    const [pushed] = await live.count(1);
    live.close();
    const stored = await ToonReader.open(town, { ids: [event.id] });
    const [served] = await stored.count(1);
    stored.close();
    for (const text of [pushed, served]) {
      assert(text !== theirs, "not served as received");
      assertEquals(decodeToon140(text), event);
      assertEquals(decodeEventToon(text), event);
    }
  });
});

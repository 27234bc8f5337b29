/**
 * The relay source against a relay that speaks the Crosstown wire (`["EVENT", sub, "<TOON>"]`):
 * our own town in TOON mode (`?format=toon`), with events written through paid ILP packets.
 */
import { assertEquals } from "../../harness/assert.ts";
import { connectPayingClient, startTestTown } from "../../harness/town_test_node.ts";
import { createRelaySource } from "../../stages/relay_source.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import * as toon140 from "toon-1.4.0";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

Deno.test("relay source reads TOON-text EVENTs from a town in TOON mode, exactly as written", async () => {
  const town = await startTestTown({ peers: [{ account: "alice", token: "a" }] });
  const alice = await connectPayingClient({
    url: `ws://127.0.0.1:${town.btpPort}`,
    token: "a",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  try {
    const written: NostrEvent[] = [];
    for (const content of ["plain", "kind: 7000 inside", "", "line\nbreak [2]: a,b"]) {
      const event = alice.sign({ kind: 1, content, tags: content === "" ? [] : [["t", "x"]] });
      assertEquals((await alice.write(event)).type, "fulfill");
      written.push(JSON.parse(JSON.stringify(event))); // without nostr-tools' verified marker
    }
    // The wire really is TOON text (the source would TOON-encode JSON events itself otherwise).
    const wire = await firstEventPayload(`ws://127.0.0.1:${town.httpPort}/?format=toon`);
    assertEquals(typeof wire, "string");
    const source = createRelaySource({
      relay: `ws://127.0.0.1:${town.httpPort}/?format=toon`,
      filters: [{ kinds: [1], authors: [alice.pubkey] }],
      untilEose: true,
    });
    const received: NostrEvent[] = [];
    for await (const chunk of source) {
      if (chunk.type !== "toon") throw new Error(`unexpected ${JSON.stringify(chunk)}`);
      const event = decodeEventToon(chunk.toon);
      received.push(event);
      // What a Crosstown relay (toon 1.4.0) would read from the same text.
      assertEquals(toon140.decode(chunk.toon), { ...event });
    }
    const byId = (a: NostrEvent, b: NostrEvent) => a.id.localeCompare(b.id);
    assertEquals(received.sort(byId), written.sort(byId));
  } finally {
    await alice.close();
    await town.stop();
  }
});

function firstEventPayload(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify(["REQ", "w", { kinds: [1], limit: 1 }]));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg[0] !== "EVENT") return;
      ws.onclose = () => resolve(msg[2]);
      ws.close();
    };
    ws.onerror = () => reject(new Error(`cannot reach ${url}`));
  });
}

/**
 * The town behind the Interledger reference connector (`ilp-connector` + `ilp-plugin-btp`, run
 * with Node): the town is a BTP child of the connector and learns its address by IL-DCP; a
 * requester connected to the CONNECTOR (not the town) does the SPSP handshake over ILP and pays
 * for an event, which the town stores and serves over NIP-01 to an independent client
 * (nostr-tools), live and from the store. Reject codes come back through the connector intact.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { Relay } from "nostr-tools/relay";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import { connectPayingClient, startTestTown } from "../../harness/town_test_node.ts";
import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { REFERENCE_PEERS_DIR } from "../../harness/reference_peers.ts";

Deno.test({
  name: "connector as parent: requester pays the town through the reference connector",
  async fn() {
    await using connector = await startReferenceConnector({
      ilpAddress: "test.conn",
      accounts: { town: {}, req: {} },
    });
    const townKey = generateSecretKey();
    const town = await startTestTown({
      secretKey: townKey,
      parent: { url: connector.accounts.town.url, token: connector.accounts.town.secret },
    });
    try {
      assertEquals(town.ilpAddress, "test.conn.town");
      assertEquals(town.assetCode, "USD");
      const requester = await connectPayingClient({
        url: connector.accounts.req.url,
        token: connector.accounts.req.secret,
        townAddress: town.ilpAddress,
        townPubkey: getPublicKey(townKey),
      });
      try {
        assertEquals(requester.client.ilpAddress, "test.conn.req");
        assertMatch(requester.grant.destinationAccount, /^test\.conn\.town\.relay\./);

        const relay = await Relay.connect(`ws://127.0.0.1:${town.httpPort}`);
        const live: NostrEvent[] = [];
        const liveSub = relay.subscribe([{ kinds: [1], authors: [requester.pubkey] }], {
          onevent: (e) => void live.push(e as NostrEvent),
        });

        const event = requester.sign({ content: "paid through the reference connector" });
        const reply = await requester.write(event);
        assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");

        // Served from the store to a fresh subscription.
        const stored = await new Promise<NostrEvent[]>((resolve) => {
          const got: NostrEvent[] = [];
          const sub = relay.subscribe([{ ids: [event.id] }], {
            onevent: (e) => void got.push(e as NostrEvent),
            oneose: () => {
              sub.close();
              resolve(got);
            },
          });
        });
        assertEquals(stored.map((e) => e.id), [event.id]);
        assertEquals(stored[0].sig, event.sig);
        for (let i = 0; i < 100 && live.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assertEquals(live.map((e) => e.id), [event.id], "pushed live to the subscriber");
        liveSub.close();

        // Rejects travel back through the connector with the town's code and message.
        const forged = { ...requester.sign(), content: "tampered" };
        const f06 = await requester.write(forged, { amount: 1_000_000n });
        assertEquals(f06.type === "reject" ? f06.code : "fulfill", "F06");
        const cheap = requester.sign();
        const bytes = new TextEncoder().encode(encodeEventToon(cheap)).byteLength;
        const f04 = await requester.write(cheap, { amount: 1n });
        assert(f04.type === "reject" && f04.code === "F04", "underpaid");
        assertMatch(f04.type === "reject" ? f04.message : "", new RegExp(`required ${bytes * 10}`));
        assertEquals((await town.store.query([{ ids: [forged.id, cheap.id] }])).length, 0);
        relay.close();
      } finally {
        await requester.close();
      }
    } finally {
      await town.stop();
    }
  },
});

Deno.test("direct BTP child: pays the town, event served over NIP-01 to nostr-tools", async () => {
  const townKey = generateSecretKey();
  const town = await startTestTown({
    secretKey: townKey,
    peers: [{ account: "alice", token: "tok-alice" }],
  });
  try {
    const alice = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      token: "tok-alice",
      townAddress: town.ilpAddress,
      townPubkey: getPublicKey(townKey),
    });
    const event = alice.sign({
      kind: 5100,
      content: "a job, paid directly",
      tags: [["i", "x", "text"]],
    });
    const reply = await alice.write(event);
    await alice.close();
    assertEquals(reply.type, "fulfill");
    const relay = await Relay.connect(`ws://127.0.0.1:${town.httpPort}`);
    const got = await new Promise<NostrEvent[]>((resolve) => {
      const events: NostrEvent[] = [];
      const sub = relay.subscribe([{ kinds: [5100], authors: [alice.pubkey] }], {
        onevent: (e) => void events.push(e as NostrEvent),
        oneose: () => {
          sub.close();
          resolve(events);
        },
      });
    });
    relay.close();
    assertEquals(got.map((e) => e.id), [event.id]);
  } finally {
    await town.stop();
  }
});

Deno.test("ilp-plugin-btp (the reference BTP client) authenticates and runs IL-DCP against the town", async () => {
  const town = await startTestTown({ peers: [{ account: "plug", token: "tok-plug" }] });
  const script = `
    const Plugin = require("ilp-plugin-btp");
    const ildcp = require("ilp-protocol-ildcp");
    const plugin = new Plugin({ server: process.argv[1] });
    plugin.connect().then(() => ildcp.fetch((d) => plugin.sendData(d)))
      .then((info) => { console.log(JSON.stringify(info)); return plugin.disconnect(); })
      .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
    setTimeout(() => { console.error("timeout"); process.exit(2); }, 10000);
  `;
  try {
    const out = await new Deno.Command("node", {
      args: ["-e", script, `btp+ws://:tok-plug@127.0.0.1:${town.btpPort}`],
      cwd: REFERENCE_PEERS_DIR.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    const info = JSON.parse(text.trim().split("\n")[0]);
    assertEquals(info.clientAddress, "test.town.plug");
    assertEquals(info.assetCode, "USD");
  } finally {
    await town.stop();
  }
});

/**
 * Private events on a real town (docs/PROTOCOL.md "Private events: NIP-42 AUTH"): a gift wrap
 * (kind 1059) for Bob, written and paid over ILP, is served only to a connection authenticated
 * as Bob. Readers: nostr-tools' `Relay` (an independent NIP-42 client: `auth` with the town's
 * challenge) and turnpike's own `queryRelay` answering with a node signer. Checked: a REQ naming
 * the kind without AUTH is CLOSED `auth-required:`; Mallory, authenticated as herself, gets
 * nothing; a REQ naming no kind leaks nothing; the live push goes to Bob only; COUNT of the
 * kind is refused; answers with another challenge or another relay are refused.
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { Relay } from "nostr-tools/relay";
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { connectPayingClient, startTestTown } from "../../harness/town_test_node.ts";
import { queryRelay, RelayQueryError } from "../../transport/relay_query.ts";
import { authenticateWith, authTemplate } from "../../protocol/nip42_auth.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

/** Opens a raw socket and returns the town's first message (its challenge) and a reader. */
async function rawSocket(url: string) {
  const ws = new WebSocket(url);
  const inbox: unknown[][] = [];
  const waiters: (() => void)[] = [];
  ws.onmessage = (m) => {
    inbox.push(JSON.parse(m.data as string));
    waiters.splice(0).forEach((w) => w());
  };
  await new Promise((r) => ws.onopen = r);
  const next = async (): Promise<unknown[]> => {
    while (inbox.length === 0) await new Promise<void>((r) => waiters.push(r));
    return inbox.shift()!;
  };
  return { ws, next };
}

/** Waits for the town's challenge on a nostr-tools relay (it keeps it in a private field). */
async function challenged(relay: Relay): Promise<void> {
  while ((relay as unknown as { challenge?: string }).challenge === undefined) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("town: gift wraps only to their recipient authenticated with NIP-42", async (t) => {
  const town = await startTestTown({ acceptAnyToken: true });
  const url = `ws://127.0.0.1:${town.httpPort}`;
  const writer = await connectPayingClient({
    url: `btp+ws://writer:w@127.0.0.1:${town.btpPort}`,
    token: "w",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const bob = generateSecretKey();
  const bobPub = getPublicKey(bob);
  const mallory = generateSecretKey();
  const ephemeral = generateSecretKey();
  const wrap = (content: string) =>
    finalizeEvent({
      kind: 1059,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["p", bobPub]],
      content,
    }, ephemeral) as NostrEvent;
  const stored = wrap("sealed for bob");
  const note = writer.sign({ content: "a public note" });
  try {
    for (const e of [stored, note]) {
      assertEquals((await writer.write(e)).type, "fulfill");
    }

    await t.step("nostr-tools: no AUTH, the REQ is closed auth-required", async () => {
      const relay = await Relay.connect(url);
      const reason = await new Promise<string>((resolve) => {
        relay.subscribe([{ kinds: [1059] }], {
          onevent: () => resolve("an event came"),
          onclose: (r) => resolve(r),
        });
      });
      assert(reason.startsWith("auth-required:"), reason);
      relay.close();
    });

    await t.step("nostr-tools: AUTH as Bob reads the wrap; as Mallory nothing", async () => {
      for (const [key, expected] of [[bob, [stored.id]], [mallory, []]] as const) {
        const relay = await Relay.connect(url);
        await challenged(relay);
        await relay.auth((template) => Promise.resolve(finalizeEvent(template, key)));
        const ids: string[] = [];
        await new Promise<void>((resolve) => {
          relay.subscribe([{ kinds: [1059] }], {
            onevent: (e) => void ids.push(e.id),
            oneose: resolve,
            onclose: (r) => {
              ids.push(`closed: ${r}`);
              resolve();
            },
          });
        });
        assertEquals(ids, expected);
        relay.close();
      }
    });

    await t.step("a REQ naming no kind serves the public note, not the wrap", async () => {
      const { events } = await queryRelay(url, [{ limit: 50 }], { maxEvents: 50 });
      const ids = events.map((e) => e.id);
      assert(ids.includes(note.id), JSON.stringify(ids));
      assert(!ids.includes(stored.id), "the wrap leaked to an unauthenticated reader");
    });

    await t.step("turnpike's client answers the challenge with a node signer", async () => {
      await assertRejects(() => queryRelay(url, [{ kinds: [1059] }]), RelayQueryError);
      const { events } = await queryRelay(url, [{ kinds: [1059], "#p": [bobPub] }], {
        authenticate: authenticateWith(localNodeSigner(bob)),
      });
      assertEquals(events.map((e) => e.id), [stored.id]);
    });

    await t.step("live: a new wrap is pushed to Bob's connection only", async () => {
      const listen = async (key: Uint8Array) => {
        const relay = await Relay.connect(url);
        await challenged(relay);
        await relay.auth((template) => Promise.resolve(finalizeEvent(template, key)));
        const ids: string[] = [];
        let eose!: () => void;
        const ready = new Promise<void>((r) => eose = r);
        relay.subscribe([{ kinds: [1059] }], {
          // The stored wrap comes with the history (to Bob): only what is pushed after counts.
          onevent: (e) => void (e.id === stored.id || ids.push(e.id)),
          oneose: () => eose(),
        });
        await ready;
        return { relay, ids };
      };
      const [b, m] = [await listen(bob), await listen(mallory)];
      const fresh = wrap("another for bob");
      assertEquals((await writer.write(fresh)).type, "fulfill");
      // A public note written after it: once Mallory's connection has it, the wrap is past too.
      const marker = writer.sign({ content: "marker" });
      const watcher = await Relay.connect(url);
      const seen = new Promise<void>((resolve) => {
        watcher.subscribe([{ ids: [marker.id] }], { onevent: () => resolve() });
      });
      assertEquals((await writer.write(marker)).type, "fulfill");
      await seen;
      while (b.ids.length === 0) await new Promise((r) => setTimeout(r, 5));
      assertEquals(b.ids, [fresh.id]);
      assertEquals(m.ids, []);
      for (const r of [b.relay, m.relay, watcher]) r.close();
    });

    await t.step(
      "COUNT of the kind and answers for another challenge or relay are refused",
      async () => {
        const { ws, next } = await rawSocket(url);
        const [type, challenge] = await next();
        assertEquals(type, "AUTH");
        ws.send(JSON.stringify(["COUNT", "c1", { kinds: [1059] }]));
        const count = await next();
        assertEquals([count[0], String(count[2]).split(":")[0]], ["CLOSED", "restricted"]);
        const answers = [
          authTemplate("not-the-challenge", url),
          authTemplate(String(challenge), "ws://elsewhere.example:7777"),
        ].map((tpl) => finalizeEvent(tpl, bob));
        for (const answer of answers) {
          ws.send(JSON.stringify(["AUTH", answer]));
          const ok = await next();
          assertEquals([ok[0], ok[1], ok[2]], ["OK", answer.id, false]);
        }
        ws.send(JSON.stringify(["REQ", "r1", { kinds: [1059] }]));
        const closed = await next();
        assertEquals(closed[0], "CLOSED");
        assert(String(closed[2]).startsWith("auth-required:"), String(closed[2]));
        ws.close();
      },
    );
  } finally {
    await writer.close();
    await town.stop();
  }
});

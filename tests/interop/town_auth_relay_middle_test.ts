/**
 * NIP-42 against a relay in the middle (docs/PROTOCOL.md "Private events: NIP-42 AUTH"), on a
 * real town and real sockets. Mallory runs a relay; Bob's turnpike client reads from it. Her relay
 * opens its own connection to the town with `Host:` naming her relay, hands the town's challenge
 * to Bob's client, and forwards his signed answer (its relay tag names her relay, the URL Bob
 * connected to) to the town: the town must refuse it, because the tag does not name the town,
 * whatever the connection's `Host` says, and must not serve her Bob's gift wrap. A COUNT, without
 * AUTH, counts only what a REQ would serve: no kind named, or a private event's id.
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { connectPayingClient, startTestTown } from "../../harness/town_test_node.ts";
import { openForgedHostSocket } from "../support/forged_host_socket.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { authenticateWith } from "../../protocol/nip42_auth.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

/** Reads until `done` is true for a message (EOSE, CLOSED, OK...); returns all read. */
async function readUntil(
  next: () => Promise<unknown[] | undefined>,
  done: (m: unknown[]) => boolean,
): Promise<unknown[][]> {
  const seen: unknown[][] = [];
  for (;;) {
    const m = await next();
    if (m === undefined) return seen;
    seen.push(m);
    if (done(m)) return seen;
  }
}

Deno.test("town: an AUTH answer relayed by a relay in the middle, Host forged to name it, is refused and the gift wrap is not served", async () => {
  const town = await startTestTown({ acceptAnyToken: true });
  const writer = await connectPayingClient({
    url: `btp+ws://writer:w@127.0.0.1:${town.btpPort}`,
    token: "w",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const bob = generateSecretKey();
  const bobPub = getPublicKey(bob);
  const wrap = finalizeEvent({
    kind: 1059,
    created_at: Math.floor(Date.now() / 1000),
    tags: [["p", bobPub]],
    content: "sealed for bob",
  }, generateSecretKey()) as NostrEvent;
  assertEquals((await writer.write(wrap)).type, "fulfill");
  await writer.close();

  // Mallory's relay: each reader that connects is handed the town's challenge of her own
  // connection (Host: her relay), and its answer is forwarded there.
  const relayed: Promise<unknown[][]>[] = [];
  let herPort = 0;
  const herRelay = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    relayed.push((async () => {
      const town_ = await openForgedHostSocket({
        port: town.httpPort,
        host: `127.0.0.1:${herPort}`,
      });
      const [type, challenge] = (await town_.next())!;
      assertEquals(type, "AUTH");
      const answer = new Promise<NostrEvent>((resolve) => {
        socket.onmessage = (m) => {
          const msg = JSON.parse(m.data as string);
          if (msg[0] === "AUTH") resolve(msg[1]);
        };
      });
      if (socket.readyState !== WebSocket.OPEN) await new Promise((r) => socket.onopen = r);
      socket.send(JSON.stringify(["AUTH", challenge]));
      const signed = await answer;
      // Bob's client signed for the URL it connected to: her relay's, not the town's.
      const tag = signed.tags.find((t) => t[0] === "relay")?.[1];
      assertEquals(tag, `ws://127.0.0.1:${herPort}`);
      await town_.send(["AUTH", signed]);
      const seen = await readUntil(() => town_.next(), (m) => m[0] === "OK");
      await town_.send(["REQ", "steal", { kinds: [1059], "#p": [bobPub] }]);
      seen.push(
        ...await readUntil(() => town_.next(), (m) => m[0] === "EOSE" || m[0] === "CLOSED"),
      );
      town_.close();
      socket.close();
      return seen;
    })());
    return response;
  });
  herPort = herRelay.addr.port;
  try {
    // Bob reads from her relay with his key: his client answers the challenge it got there.
    await queryRelay(`ws://127.0.0.1:${herPort}`, [{ kinds: [1059], "#p": [bobPub] }], {
      authenticate: authenticateWith(localNodeSigner(bob)),
    }).catch(() => undefined);
    assertEquals(relayed.length, 1);
    const seen = await relayed[0];
    const ok = seen.find((m) => m[0] === "OK")!;
    assertEquals(ok[2], false, `the town took the relayed answer: ${JSON.stringify(seen)}`);
    assert(/^(restricted|auth-required):/.test(String(ok[3])), String(ok[3]));
    assert(!seen.some((m) => m[0] === "EVENT"), `the wrap was served: ${JSON.stringify(seen)}`);
    const end = seen.at(-1)!;
    assertEquals(end[0], "CLOSED");
    assert(String(end[2]).startsWith("auth-required:"), String(end[2]));

    // Bob's own answer on his own connection to the town is still taken.
    const { events } = await queryRelay(`ws://127.0.0.1:${town.httpPort}`, [{
      kinds: [1059],
      "#p": [bobPub],
    }], {
      authenticate: authenticateWith(localNodeSigner(bob)),
    });
    assertEquals(events.map((e) => e.id), [wrap.id]);
  } finally {
    await herRelay.shutdown();
    await town.stop();
  }
});

Deno.test("town: a COUNT without AUTH counts only what a REQ serves, by no kind or by a private event's id", async () => {
  const town = await startTestTown({ acceptAnyToken: true });
  const writer = await connectPayingClient({
    url: `btp+ws://writer:w@127.0.0.1:${town.btpPort}`,
    token: "w",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const wrap = finalizeEvent({
    kind: 1059,
    created_at: Math.floor(Date.now() / 1000),
    tags: [["p", getPublicKey(generateSecretKey())]],
    content: "sealed",
  }, generateSecretKey()) as NostrEvent;
  const notes = [writer.sign({ content: "one" }), writer.sign({ content: "two" })];
  try {
    for (const e of [wrap, ...notes]) assertEquals((await writer.write(e)).type, "fulfill");
    const served = await queryRelay(`ws://127.0.0.1:${town.httpPort}`, [{}], { maxEvents: 50 });
    const byId = await queryRelay(`ws://127.0.0.1:${town.httpPort}`, [{ ids: [wrap.id] }]);
    const ws = await openForgedHostSocket({
      port: town.httpPort,
      host: `127.0.0.1:${town.httpPort}`,
    });
    try {
      await ws.send(["COUNT", "all", {}]);
      await ws.send(["COUNT", "wrap", { ids: [wrap.id] }]);
      await ws.send(["COUNT", "both", { ids: [wrap.id] }, { ids: [notes[0].id] }]);
      const counts = await readUntil(() => ws.next(), (m) => m[1] === "both");
      const count = (id: string) => counts.find((m) => m[0] === "COUNT" && m[1] === id)?.[2];
      assertEquals(count("all"), { count: served.events.length });
      assertEquals(count("wrap"), { count: byId.events.length });
      assertEquals(count("both"), { count: 1 });
      assertEquals(byId.events.length, 0);
    } finally {
      ws.close();
    }
  } finally {
    await writer.close();
    await town.stop();
  }
});

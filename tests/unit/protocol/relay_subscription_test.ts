/**
 * The live subscription against a relay that misbehaves on purpose (a real town refuses to store
 * what it would have to serve here): a forged event and an event outside the filters are
 * dropped, stored events come before EOSE and live ones after it, and a relay's CLOSED ends
 * the subscription with its reason.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { subscribeRelay } from "../../../transport/relay_subscription.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import { assertEquals } from "../../../harness/assert.ts";

const key = generateSecretKey();
const note = (kind: number, content: string): NostrEvent =>
  finalizeEvent({ kind, created_at: 1_800_000_000, tags: [], content }, key);

function serveOnce(
  script: (socket: WebSocket, subId: string) => void,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (m) => script(socket, JSON.parse(m.data as string)[1]);
    return response;
  });
}

Deno.test("relay subscription: verified, matching events; stored, EOSE, then live", async () => {
  const stored = note(7000, "stored");
  const forged = { ...note(7000, "forged"), content: "changed after signing" };
  const live = note(7000, "live");
  const server = serveOnce((socket, subId) => {
    socket.send(JSON.stringify(["EVENT", subId, stored]));
    socket.send(JSON.stringify(["EVENT", subId, forged]));
    socket.send(JSON.stringify(["EVENT", subId, note(1, "not asked for")]));
    socket.send(JSON.stringify(["EOSE", subId]));
    socket.send(JSON.stringify(["EVENT", subId, encodeEventToon(live)]));
  });
  const seen: string[] = [];
  const done = Promise.withResolvers<void>();
  const sub = subscribeRelay(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    onEvent: (e) => {
      seen.push(e.content);
      if (e.content === "live") done.resolve();
    },
    onEose: () => seen.push("EOSE"),
  });
  await done.promise;
  sub.close();
  await server.shutdown();
  assertEquals(seen, ["stored", "EOSE", "live"]);
});

Deno.test("relay subscription: CLOSED ends it with the relay's reason", async () => {
  const server = serveOnce((socket, subId) => {
    socket.send(JSON.stringify(["CLOSED", subId, "restricted: not for you"]));
  });
  const reason = Promise.withResolvers<string>();
  subscribeRelay(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    onEvent: () => {},
    onClose: reason.resolve,
  });
  assertEquals(
    await reason.promise,
    "the relay refused the subscription: restricted: not for you",
  );
  await server.shutdown();
});

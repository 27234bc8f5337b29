/**
 * The one NIP-01 client against a scripted relay: its modes (one-shot, live with reconnect and
 * resume point), how NOTICE, a bad message and CLOSED are surfaced, and its limits.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  type Nip01ClientError,
  type Nip01LogEntry,
  openNip01Client,
} from "../../../transport/nip01_client.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assertEquals } from "../../../harness/assert.ts";

const key = generateSecretKey();
const note = (createdAt: number, content: string): NostrEvent =>
  finalizeEvent({ kind: 7000, created_at: createdAt, tags: [], content }, key);

/** A relay that answers each REQ with `script(socket, subId, filter, connection)`. */
function scriptedRelay(
  script: (socket: WebSocket, subId: string, filter: Record<string, unknown>, n: number) => void,
): Deno.HttpServer<Deno.NetAddr> {
  let connections = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const n = connections++;
    socket.onmessage = (m) => {
      const [, subId, filter] = JSON.parse(m.data as string);
      script(socket, subId, filter, n);
    };
    return response;
  });
}

Deno.test("nip01 client: one-shot ends at EOSE; NOTICE logged, a bad message reported", async () => {
  const server = scriptedRelay((socket, subId) => {
    socket.send(JSON.stringify(["NOTICE", "hello"]));
    socket.send("not json");
    socket.send(JSON.stringify(["EVENT", subId, note(1_800_000_000, "stored")]));
    socket.send(JSON.stringify(["EOSE", subId]));
  });
  const seen: string[] = [];
  const ended = Promise.withResolvers<Nip01ClientError | undefined>();
  openNip01Client(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    untilEose: true,
    timeoutMs: 5000,
    onEvent: (m) => seen.push(`event ${m.event?.content}`),
    onEose: () => seen.push("eose"),
    onBadMessage: (err) => seen.push(`bad ${err.reason}`),
    onLog: (e) => e.type === "notice" && seen.push(`notice ${e.message}`),
    onEnd: ended.resolve,
  });
  assertEquals(await ended.promise, undefined);
  assertEquals(seen, [
    "notice hello",
    "bad invalid: message is not valid JSON",
    "event stored",
    "eose",
  ]);
  await server.shutdown();
});

Deno.test("nip01 client: live with reconnect resubscribes since the covered time", async () => {
  const sinces: unknown[] = [];
  const server = scriptedRelay((socket, subId, filter, n) => {
    sinces.push(filter.since);
    if (n === 0) {
      socket.send(JSON.stringify(["EVENT", subId, note(1_800_000_100, "first")]));
      socket.send(JSON.stringify(["EOSE", subId]));
      socket.close();
    } else {
      socket.send(JSON.stringify(["CLOSED", subId, "blocked: go away"]));
    }
  });
  const logs: Nip01LogEntry["type"][] = [];
  const ended = Promise.withResolvers<Nip01ClientError | undefined>();
  const client = openNip01Client(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    reconnect: { initialBackoffMs: 10, maxBackoffMs: 10, overlapSeconds: 5 },
    onEvent: (m) => client.covered(m.event!.created_at),
    onLog: (e) => logs.push(e.type),
    onEnd: ended.resolve,
  });
  const error = await ended.promise;
  assertEquals([error?.reason, error?.relayMessage], ["refused", "blocked: go away"]);
  assertEquals(sinces, [undefined, 1_800_000_095]);
  assertEquals(logs, [
    "connecting",
    "open",
    "eose",
    "disconnected",
    "connecting",
    "open",
    "closed",
  ]);
  await server.shutdown();
});

Deno.test("nip01 client: rate-limited is retried on the connection, up to maxRetries", async () => {
  let reqs = 0;
  const server = scriptedRelay((socket, subId) => {
    reqs++;
    socket.send(JSON.stringify(["CLOSED", subId, "rate-limited: busy"]));
  });
  const ended = Promise.withResolvers<Nip01ClientError | undefined>();
  openNip01Client(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    retryLater: { maxRetries: 2, initialMs: 10 },
    onEnd: ended.resolve,
  });
  const error = await ended.promise;
  assertEquals(error?.message, "the relay refused the subscription: rate-limited: busy");
  assertEquals(reqs, 3);
  await server.shutdown();
});

Deno.test("nip01 client: over maxEvents ends too-large; a closed client says nothing", async () => {
  const server = scriptedRelay((socket, subId) => {
    for (let i = 0; i < 3; i++) {
      socket.send(JSON.stringify(["EVENT", subId, note(1_800_000_000 + i, `e${i}`)]));
    }
  });
  const ended = Promise.withResolvers<Nip01ClientError | undefined>();
  openNip01Client(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    maxEvents: 2,
    onEnd: ended.resolve,
  });
  const error = await ended.promise;
  assertEquals([error?.reason, error?.message], ["too-large", "the relay sent over 2 events"]);
  let heard = false;
  const closed = openNip01Client(`ws://127.0.0.1:${server.addr.port}`, [{ kinds: [7000] }], {
    onEnd: () => heard = true,
  });
  closed.close();
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(heard, false);
  await server.shutdown();
});

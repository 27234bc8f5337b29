/**
 * Fair reads and fair slots against a town in its own process (its event loop is not the
 * attackers'): a REQ flood across many connections must not keep an honest client's REQ from its
 * EOSE, during the flood or right after it; sockets from many networks that each hold a
 * subscription and then say nothing must not keep an honest client out of a full town
 * (docs/OPERATIONS.md "A town's limits"). Source addresses 127.0.x.1 (one /24 each) come from
 * node:net, which can bind a client socket's local address.
 */
import net from "node:net";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { openEventStore } from "../../state/events/event_store.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

/** The goal of the fairness: an honest REQ's EOSE within this, whatever the flood. */
const EOSE_GOAL_MS = 5000;
/** A guard against a bug turning into a stuck test, far above any healthy wait. */
const HANG_GUARD_MS = 60_000;
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A SQLite store file with `count` events of about `bytes` each, for the town to read. */
async function filledStore(count: number, bytes: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "read_fairness_" });
  const path = `${dir}/events.sqlite`;
  const store = openEventStore({ path });
  const key = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i++) {
    const event = finalizeEvent(
      { kind: 1, created_at: now - i, tags: [], content: `${i} ${"x".repeat(bytes)}` },
      key,
    ) as NostrEvent;
    store.insert(event, encodeEventToon(event));
  }
  store.close();
  return path;
}

/** A NIP-01 client that keeps what it got. */
class Client {
  readonly messages: unknown[][] = [];
  closed = false;
  constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => this.messages.push(JSON.parse(String(e.data)));
    ws.onclose = () => this.closed = true;
  }
  /** Opens a connection; rejects when the town refuses it. */
  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("WebSocket did not open"));
    });
    return new Client(ws);
  }
  send(raw: unknown[]): void {
    this.ws.send(JSON.stringify(raw));
  }
  /** The first message `pred` accepts, or undefined after `ms` (or once closed). */
  async within(pred: (m: unknown[]) => boolean, ms: number): Promise<unknown[] | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.closed || Date.now() > deadline) return undefined;
      await sleep(5);
    }
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    const deadline = Date.now() + HANG_GUARD_MS;
    while (!this.closed && Date.now() < deadline) await sleep(5);
  }
}

/** What one honest REQ got: EOSE within the goal (and how long it took), or what instead. */
interface HonestOutcome {
  eose: boolean;
  ms: number;
  /** The CLOSED reason, "refused connection", or "no answer in 5 s". */
  instead?: string;
  /** REQs sent again after a CLOSED `rate-limited:`. */
  retries?: number;
}

/**
 * One REQ on `client`: its EOSE within {@linkcode EOSE_GOAL_MS}, else what came instead. As an
 * honest client does (transport/relay_query.ts), a CLOSED `rate-limited:` is sent again after a
 * pause (100 ms, doubled), within the same goal.
 */
async function honestReq(client: Client, id: string): Promise<HonestOutcome> {
  const t0 = performance.now();
  let refused: string | undefined;
  for (let attempt = 0, pause = 100;; attempt++, pause *= 2) {
    const sub = `${id}.${attempt}`;
    const left = EOSE_GOAL_MS - (performance.now() - t0);
    client.send(["REQ", sub, { kinds: [1], limit: 5 }]);
    const m = await client.within(
      (m) => (m[0] === "EOSE" || m[0] === "CLOSED") && m[1] === sub,
      Math.max(0, left),
    );
    const ms = Math.round(performance.now() - t0);
    if (m?.[0] === "EOSE") {
      client.send(["CLOSE", sub]);
      const late = ms <= EOSE_GOAL_MS ? undefined : "late";
      return { eose: ms <= EOSE_GOAL_MS, ms, instead: late, retries: attempt };
    }
    if (m === undefined) return { eose: false, ms, instead: refused ?? "no answer in 5 s" };
    refused = String(m[2]);
    if (!refused.startsWith("rate-limited:") || ms + pause > EOSE_GOAL_MS) {
      return { eose: false, ms, instead: refused };
    }
    await sleep(pause);
  }
}

function summary(label: string, outcomes: HonestOutcome[]): string {
  const answered = outcomes.filter((o) => o.eose).length;
  const worst = Math.max(...outcomes.map((o) => o.ms));
  const other = outcomes.filter((o) => !o.eose).map((o) => o.instead);
  const retries = outcomes.reduce((n, o) => n + (o.retries ?? 0), 0);
  return `${label}: honest REQs answered ${answered} of ${outcomes.length} (slowest ${worst} ms, ` +
    `${retries} sent again after rate-limited)` +
    (other.length ? `; instead: ${[...new Set(other)].join(" | ")}` : "");
}

Deno.test("fairness: during a REQ flood from 40 connections and right after it, every honest REQ gets EOSE within 5 s", async () => {
  // 200 events of 5 KB: a flooder's REQ reads and sends 1 MB.
  const databasePath = await filledStore(200, 5_000);
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    databasePath,
  });
  const url = `ws://127.0.0.1:${town.httpPort}`;
  const flooders = await Promise.all(Array.from({ length: 40 }, async () => {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("a flooder's WebSocket did not open"));
    });
    ws.onmessage = () => {};
    return ws;
  }));
  // Each flooder sends 18 REQs a second, under the town's 20 messages a second, so it is never
  // closed as rate-limited; its ids repeat (a REQ with a live id replaces it).
  let flooding = true;
  const flood = (async () => {
    for (let tick = 0; flooding; tick++) {
      for (const ws of flooders) {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(["REQ", `r${tick % 18}`, {}]));
      }
      await sleep(55);
    }
  })();
  const honest = await Client.open(url);
  const during: HonestOutcome[] = [];
  const after: HonestOutcome[] = [];
  try {
    await sleep(2000); // the flood in full swing: the budget spent, the flooders refused
    for (let i = 0; i < 10; i++) {
      // Every other REQ on a connection of its own, opened during the flood.
      if (i % 2 === 0) {
        during.push(await honestReq(honest, `during${i}`));
      } else {
        const fresh = await Client.open(url);
        during.push(await honestReq(fresh, `during${i}`));
        await fresh.close();
      }
      await sleep(500);
    }
    flooding = false;
    await flood;
    // Right after: the flooders stay connected with their answers still in flight.
    for (let i = 0; i < 10; i++) {
      after.push(await honestReq(honest, `after${i}`));
      await sleep(500);
    }
  } finally {
    flooding = false;
    await flood;
    await honest.close();
    for (const ws of flooders) ws.close();
  }
  const report = `${summary("during the flood", during)}; ${summary("right after it", after)}`;
  console.log(report);
  assertEquals(
    [during.filter((o) => o.eose).length, after.filter((o) => o.eose).length],
    [10, 10],
    report,
  );
});

/**
 * A raw client WebSocket from `localAddress` that subscribed once and then says nothing, or only
 * pings.
 */
interface Squatter {
  socket: net.Socket;
  /** Resolves when the town closes it. */
  closed: Promise<void>;
}

/** The masked client text frame of `text` (a zero mask key: the payload goes as is). */
function maskedText(text: string): Uint8Array {
  const payload = encoder.encode(text);
  assert(payload.length < 126);
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, 0, 0, 0, 0]);
  frame.set(payload, 6);
  return frame;
}

/** A masked client ping with no payload (zero mask key). */
const MASKED_PING = new Uint8Array([0x89, 0x80, 0, 0, 0, 0]);

/**
 * Opens a WebSocket from `localAddress`, sends one REQ that matches nothing and waits for its
 * EOSE, then pings every `pingEveryMs` (never without it); rejects when the town refuses the
 * connection.
 */
async function squat(port: number, localAddress: string, pingEveryMs?: number): Promise<Squatter> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  let received = "";
  let wake: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  let subscribed = false;
  socket.on("data", (d: Uint8Array) => {
    // Once subscribed, the next frame is the town's close (0x88): the squatter is gone then,
    // whether or not the town waits for its close frame back.
    if (subscribed && d[0] === 0x88) socket.destroy();
    received += new TextDecoder().decode(d);
    wake?.();
  });
  socket.on("close", () => wake?.());
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("turnpike-squat-01")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const until = async (pred: () => boolean): Promise<boolean> => {
    const deadline = Date.now() + HANG_GUARD_MS;
    while (!pred()) {
      if (socket.destroyed || Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return true;
  };
  await until(() => received.includes("\r\n\r\n"));
  if (!received.startsWith("HTTP/1.1 101")) {
    socket.destroy();
    throw new Error(received.split("\r\n")[0] || "no answer");
  }
  socket.write(maskedText(JSON.stringify(["REQ", "s", { kinds: [39_999], limit: 1 }])));
  if (!(await until(() => received.includes('["EOSE","s"]')))) {
    socket.destroy();
    throw new Error("no EOSE for the squatter's REQ");
  }
  subscribed = true;
  if (pingEveryMs !== undefined) {
    const pinger = setInterval(() => socket.write(MASKED_PING), pingEveryMs);
    closed.then(() => clearInterval(pinger));
  }
  return { socket, closed };
}

/** Squatters that hold `perAddress` sockets from each address and take back what is closed. */
class SquatterSwarm {
  squatting = true;
  evicted = 0;
  readonly held = new Set<Squatter>();
  readonly #holders: Promise<void>[] = [];

  constructor(port: number, addresses: string[], perAddress: number, pingEveryMs?: number) {
    // Each squatter holds its slot and takes it back at once when the town closes it (an
    // attacker does): the town stays full.
    const hold = async (address: string): Promise<void> => {
      while (this.squatting) {
        let s: Squatter;
        try {
          s = await squat(port, address, pingEveryMs);
        } catch {
          await sleep(50); // full for now
          continue;
        }
        if (!this.squatting) {
          s.socket.destroy();
          return;
        }
        this.held.add(s);
        await s.closed;
        this.held.delete(s);
        if (this.squatting) this.evicted++;
      }
    };
    for (const address of addresses) {
      for (let i = 0; i < perAddress; i++) this.#holders.push(hold(address));
    }
  }

  /** Resolves once `count` sockets are held. */
  async holding(count: number): Promise<void> {
    const deadline = Date.now() + HANG_GUARD_MS;
    while (this.held.size < count) {
      assert(Date.now() < deadline, `only ${this.held.size} squatters got in`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.squatting = false;
    for (const s of this.held) s.socket.destroy();
    await Promise.all(this.#holders);
  }
}

/** `count` honest clients in turn (from 127.0.0.1), each opening a socket and sending one REQ. */
async function honestClientsInTurn(url: string, count: number): Promise<HonestOutcome[]> {
  const outcomes: HonestOutcome[] = [];
  for (let i = 0; i < count; i++) {
    let client: Client;
    try {
      client = await Client.open(url);
    } catch {
      outcomes.push({ eose: false, ms: 0, instead: "refused connection" });
      await sleep(300);
      continue;
    }
    outcomes.push(await honestReq(client, `honest${i}`));
    await client.close();
    await sleep(300);
  }
  return outcomes;
}

Deno.test("fairness: sockets from 12 networks that subscribed and went quiet fill the town; an honest client is still admitted and served", async () => {
  // 12 addresses, one per /24, x 4 sockets = every one of the 48 slots.
  const addresses = Array.from({ length: 12 }, (_, i) => `127.0.${i + 10}.1`);
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    limits: {
      maxConnections: 48,
      maxConnectionsPerAddress: 4,
      maxConnectionsPerPrefix: 4,
      idleSubscriptionEvictAfterMs: 1500,
    },
  });
  const swarm = new SquatterSwarm(town.httpPort, addresses, 4);
  let outcomes: HonestOutcome[];
  try {
    await swarm.holding(48);
    await sleep(2000); // every squatter quiet for longer than the idle time
    outcomes = await honestClientsInTurn(`ws://127.0.0.1:${town.httpPort}`, 10);
  } finally {
    await swarm.stop();
  }
  const report = `${summary("town full of quiet subscribed sockets", outcomes)}; ` +
    `squatters evicted ${swarm.evicted}`;
  console.log(report);
  assertEquals(outcomes.filter((o) => o.eose).length, 10, report);
});

Deno.test("fairness: sockets from 3 networks that subscribed and ping every half second fill the town; an honest client from a fourth network is still admitted and served", async () => {
  // 3 addresses, one per /24, x 16 sockets = every one of the 48 slots. They ping far more
  // often than the quiet time (default 60 s) and the idle time: none is idle or quiet, so only
  // a fair share per network can make room.
  const addresses = ["127.0.20.1", "127.0.21.1", "127.0.22.1"];
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    limits: { maxConnections: 48, maxConnectionsPerAddress: 16, maxConnectionsPerPrefix: 24 },
  });
  const swarm = new SquatterSwarm(town.httpPort, addresses, 16, 500);
  let outcomes: HonestOutcome[];
  try {
    await swarm.holding(48);
    await sleep(1500); // a few pings each
    outcomes = await honestClientsInTurn(`ws://127.0.0.1:${town.httpPort}`, 10);
  } finally {
    await swarm.stop();
  }
  const report = `${summary("town full of pinging subscribed sockets", outcomes)}; ` +
    `squatters evicted ${swarm.evicted}`;
  console.log(report);
  assertEquals(outcomes.filter((o) => o.eose).length, 10, report);
});

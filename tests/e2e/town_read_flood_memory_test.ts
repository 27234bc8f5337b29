/**
 * A town process under a read flood that never reads: 200 raw WebSocket connections, each
 * sending 20 REQs that match 1,000 stored events of 16 KB (16 MB, 500 events an answer, 800 KB a
 * page) every 2 s and reading nothing, those the town drops opened again, on each store. The
 * town's memory stays under 300 MiB at its peak and after the attack, `/health` answers
 * throughout, and an honest client's REQs (a new connection a second) all end in EOSE
 * (docs/OPERATIONS.md "Peers that do not read"). Before:
 * every socket that stopped reading held a whole page read (its rows reachable from the answer's
 * suspended loop) and queued, and pages read side by side were all alive at once: 393 MiB on
 * SQLite. On PostgreSQL the read budget charged a query's wait for the pool as the event loop's
 * time: its debt grew as long as the flood lasted and refused honest REQs (`town busy`). Then on
 * PostgreSQL the peak was 304-352 MiB, 55 of it V8's young generation at its default size: the
 * town process now starts with a small one, as `town up` does (transport/small_young_generation.ts).
 *
 * @module
 */
import { assert } from "../../harness/assert.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { openEventStore } from "../../state/events/event_store.ts";
import { openPostgresEventStore } from "../../state/postgres/postgres_event_store.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { type NonReadingSocket, openNonReadingSocket } from "../support/non_reading_socket.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";

const EVENTS = 1000;
const EVENT_BYTES = 16_000;
const CONNECTIONS = 200;
const REQS = 20;
const ATTACK_MS = 15_000;
const BOUND_MIB = 300;
/** One address opens all the connections: its cap is raised so that none is refused. */
const LIMITS = { maxConnectionsPerAddress: 1024 };

function storedEvents(): { event: NostrEvent; toon: string }[] {
  const key = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: EVENTS }, (_, i) => {
    const event = finalizeEvent(
      { kind: 1, created_at: now - i, tags: [], content: `${i} ${"x".repeat(EVENT_BYTES)}` },
      key,
    ) as NostrEvent;
    return { event, toon: encodeEventToon(event) };
  });
}

function memoryMiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks `/health` one after another until `stop`; how many were asked and answered 200. */
async function probeHealth(port: number, stop: () => boolean) {
  let asked = 0;
  let answered = 0;
  while (!stop()) {
    asked++;
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    await response?.body?.cancel();
    if (response?.status === 200) answered++;
    await sleep(250);
  }
  return { asked, answered };
}

/**
 * Until `stop`: a new connection a second sending one REQ and reading it to EOSE; how many ended
 * so, and why the others did not.
 */
async function honestReqs(port: number, stop: () => boolean) {
  let asked = 0;
  let answered = 0;
  const failures: string[] = [];
  while (!stop()) {
    asked++;
    const failure = await honestReq(port);
    if (failure === undefined) answered++;
    else failures.push(failure);
    await sleep(1000);
  }
  return { asked, answered, failures };
}

/**
 * One REQ on a fresh connection: undefined once its EOSE came, else why not: refused (the
 * `CLOSED` message), the connection closed or failed, or 30 s passed (a liveness bound).
 */
function honestReq(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    let ended = false;
    const done = (failure?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      ws.close();
      resolve(failure);
    };
    const timer = setTimeout(() => done("no EOSE within 30 s"), 30_000);
    ws.onopen = () => ws.send(JSON.stringify(["REQ", "honest", { kinds: [1], limit: 5 }]));
    ws.onmessage = (e) => {
      const message = String(e.data);
      if (message.startsWith('["EOSE"')) done();
      else if (message.startsWith('["CLOSED"')) done(message);
    };
    ws.onclose = (e) => done(`closed ${e.code} ${e.reason}`);
    ws.onerror = () => done("connection error");
  });
}

/** Opens one non-reading connection and sends it `REQS` REQs for every stored event. */
async function nonReader(port: number): Promise<NonReadingSocket | undefined> {
  const socket = await openNonReadingSocket({ port }).catch(() => undefined);
  if (socket !== undefined && !(await sendReqs(socket))) return undefined;
  return socket;
}

/** False once the town has dropped the connection (a write failed). */
async function sendReqs(socket: NonReadingSocket): Promise<boolean> {
  try {
    for (let r = 0; r < REQS; r++) await socket.send(JSON.stringify(["REQ", `s${r}`, {}]));
    return true;
  } catch {
    socket.close();
    return false;
  }
}

/**
 * The attack on a running town for `ATTACK_MS`: `CONNECTIONS` non-readers opened four at a
 * time, each sent its REQs again every 2 s, one the town dropped opened again. Its peak and
 * after-attack RSS and the `/health` probes.
 */
async function flood(town: SharedTownProcess) {
  let over = false;
  const health = probeHealth(town.httpPort, () => over);
  const honest = honestReqs(town.httpPort, () => over);
  const until = Date.now() + ATTACK_MS;
  const worker = async () => {
    const held: NonReadingSocket[] = [];
    while (Date.now() < until) {
      while (held.length < CONNECTIONS / 4 && Date.now() < until) {
        const socket = await nonReader(town.httpPort);
        if (socket !== undefined) held.push(socket);
      }
      await sleep(2000);
      const alive = await Promise.all(held.map(sendReqs));
      held.splice(0, held.length, ...held.filter((_, i) => alive[i]));
    }
    for (const socket of held) socket.close();
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const peak = memoryMiB(town.pid, "VmHWM");
  over = true;
  const probes = await health;
  const served = await honest;
  await sleep(3000);
  const after = memoryMiB(town.pid, "VmRSS");
  console.log(
    `peak RSS ${peak.toFixed(0)} MiB, ${after.toFixed(0)} MiB 3 s after; ` +
      `/health ${probes.answered} of ${probes.asked}; honest REQs ${served.answered} of ${served.asked}`,
  );
  return { peak, after, probes, served };
}

function assertBounded(result: Awaited<ReturnType<typeof flood>>): void {
  const { peak, after, probes, served } = result;
  assert(peak < BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  assert(after < BOUND_MIB, `RSS after the attack ${after.toFixed(0)} MiB`);
  assert(probes.asked > 0 && probes.answered === probes.asked, JSON.stringify(probes));
  // Every honest REQ: one in 16 or 17 was refused `town busy (query time per second spent)` on
  // SQLite when the flood's fresh connections, as light as it, had taken the time overdraft.
  assert(served.asked > 0 && served.answered === served.asked, JSON.stringify(served));
}

Deno.test({
  name:
    "read flood on SQLite: 200 connections sending 20 REQs for 16 MB of events and never reading keep the town under 300 MiB; /health and honest REQs answered",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "read_flood_test_" });
    try {
      const store = openEventStore({ path: `${dir}/events.sqlite` });
      for (const { event, toon } of storedEvents()) store.insert(event, toon);
      store.close();
      await using town = await startSharedTownProcess({
        secretKey: generateSecretKey(),
        databasePath: `${dir}/events.sqlite`,
        limits: LIMITS,
      });
      assertBounded(await flood(town));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "read flood on PostgreSQL: 200 connections sending 20 REQs for 16 MB of events and never reading keep the town under 300 MiB; /health and honest REQs answered",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using pg = await startPostgresServer();
    const storeUrl = await freshDatabase(pg.url);
    const store = await openPostgresEventStore({ url: storeUrl });
    await store.insertBatch(storedEvents());
    await store.close();
    await using town = await startSharedTownProcess({
      secretKey: generateSecretKey(),
      storeUrl,
      limits: LIMITS,
    });
    assertBounded(await flood(town));
  },
});

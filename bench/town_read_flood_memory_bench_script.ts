/**
 * A town's memory and `/health` latency under read floods, the town in its own process on a
 * store filled beforehand: clients that send REQs and never read what comes back
 * ("non-readers"), and connections that send REQs as fast as the rate limit lets them and read
 * ("REQ flood"). Per attack: the town's peak RSS (VmHWM), its RSS a few seconds after the
 * attack ended, `/health` p50/p95/max (a probe in its own process every 50 ms) and the honest
 * REQs (one a second, a new connection each) answered with EOSE during the attack.
 *
 * `deno run -A bench/town_read_flood_memory_bench_script.ts [--root <repo checkout>]
 * [--store <postgres://...>] [--events 3000] [--bytes 4000] [--seconds 20] [--only non-readers]
 * [--limits '{"maxQueuedBytes":16777216}']`
 * (default root: this checkout, store: SQLite in the town's temp dir; `--store` names an empty
 * PostgreSQL database, filled once per attack).
 *
 * @module
 */
import net from "node:net";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { parseBenchFlags } from "./bench_flags.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { openEventStore } from "../state/events/event_store.ts";
import { healthProbe } from "./health_probe.ts";

const args = parseBenchFlags(Deno.args, {
  values: ["root", "store", "events", "bytes", "seconds", "only", "limits"],
  switches: [],
  usage: "Usage: deno run -A bench/town_read_flood_memory_bench_script.ts [--root <checkout>] " +
    "[--store <postgres://...>] [--events 3000] [--bytes 4000] [--seconds 20] [--only <attack>] " +
    "[--limits <JSON of town limits>]",
}).values;
const root = new URL(
  args.root ? `file://${Deno.realPathSync(args.root)}/` : "../",
  import.meta.url,
);
const EVENTS = Number(args.events ?? 3000);
const BYTES = Number(args.bytes ?? 4000);
const SECONDS = Number(args.seconds ?? 20);
const LIMITS = JSON.parse(args.limits ?? "{}") as Record<string, number>;
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Town extends AsyncDisposable {
  pid: number;
  httpPort: number;
}
const { startSharedTownProcess } = await import(
  new URL("harness/shared_town_process.ts", root).href
) as {
  startSharedTownProcess: (o: {
    secretKey: Uint8Array;
    storeUrl?: string;
    databasePath?: string;
    limits?: Record<string, number>;
  }) => Promise<Town>;
};

/** `EVENTS` events of about `BYTES` each, from one key. */
function events(): { event: NostrEvent; toon: string }[] {
  const key = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: EVENTS }, (_, i) => {
    const event = finalizeEvent(
      { kind: 1, created_at: now - i, tags: [], content: `${i} ${"x".repeat(BYTES)}` },
      key,
    ) as NostrEvent;
    return { event, toon: encodeEventToon(event) };
  });
}

/** A town on a filled store: SQLite written here, PostgreSQL through the first town's store. */
async function startTown(): Promise<Town> {
  const secretKey = generateSecretKey();
  if (args.store === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "read_flood_" });
    const store = openEventStore({ path: `${dir}/events.sqlite` });
    for (const { event, toon } of events()) store.insert(event, toon);
    store.close();
    return await startSharedTownProcess({
      secretKey,
      databasePath: `${dir}/events.sqlite`,
      limits: LIMITS,
    });
  }
  const { openPostgresEventStore } = await import("../state/postgres/postgres_event_store.ts");
  const store = await openPostgresEventStore({ url: args.store });
  for (const { event, toon } of events()) await store.insert(event, toon);
  await store.close();
  return await startSharedTownProcess({ secretKey, storeUrl: args.store, limits: LIMITS });
}

function rssMb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0) / 1024;
  } catch {
    return NaN; // the town is gone
  }
}

/** A fresh connection and one REQ every second; answered with EOSE within 5 s, of all. */
function honestDuring(port: number) {
  let running = true;
  let answered = 0;
  let asked = 0;
  const once = () =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      const timer = setTimeout(() => done(false), 5000);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        try {
          ws.close();
        } catch {
          // not open
        }
        resolve(ok);
      };
      ws.onopen = () => ws.send(JSON.stringify(["REQ", "h", { kinds: [1], limit: 5 }]));
      ws.onmessage = (e) => String(e.data).startsWith('["EOSE"') && done(true);
      ws.onerror = () => done(false);
    });
  const loop = (async () => {
    while (running) {
      asked++;
      if (await once()) answered++;
      await sleep(1000);
    }
  })();
  return {
    async stop(): Promise<string> {
      running = false;
      await loop;
      return `${answered}/${asked}`;
    },
  };
}

/** A masked text frame (zero mask key). */
function maskedText(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const head = payload.length < 126 ? [0x81, 0x80 | payload.length] : [
    0x81,
    0x80 | 126,
    payload.length >> 8,
    payload.length & 0xff,
  ];
  return new Uint8Array([...head, 0, 0, 0, 0, ...payload]);
}

/** Opens a raw client WebSocket from `localAddress` that never reads; undefined when refused. */
async function nonReader(port: number, localAddress: string): Promise<net.Socket | undefined> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  socket.on("error", () => {});
  const ok = await new Promise<boolean>((resolve) => {
    socket.once("connect", () => resolve(true));
    socket.once("error", () => resolve(false));
  });
  if (!ok) return undefined;
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("turnpike-flood-01")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  // The 101 is read (the one read), then nothing more: the kernel's buffers fill, then the town's.
  const head = await new Promise<string>((resolve) => {
    socket.once("data", (d: Uint8Array) => resolve(new TextDecoder().decode(d)));
    socket.once("close", () => resolve(""));
    setTimeout(() => resolve(""), 5000);
  });
  if (!head.startsWith("HTTP/1.1 101")) {
    socket.destroy();
    return undefined;
  }
  socket.pause();
  return socket;
}

/**
 * 200 connections (50 from each of 4 addresses), each sending 20 REQs for everything and never
 * reading; a connection the town closes is opened again, for `SECONDS`.
 */
async function nonReaders(port: number): Promise<string> {
  const until = Date.now() + SECONDS * 1000;
  let opened = 0;
  const worker = async (address: string) => {
    const held: net.Socket[] = [];
    while (Date.now() < until) {
      for (let i = held.length - 1; i >= 0; i--) if (held[i].destroyed) held.splice(i, 1);
      if (held.length >= 50) {
        await sleep(200);
        continue;
      }
      const socket = await nonReader(port, address);
      if (socket === undefined) {
        await sleep(200);
        continue;
      }
      opened++;
      socket.on("close", () => socket.destroy());
      for (let i = 0; i < 20; i++) socket.write(maskedText(JSON.stringify(["REQ", `s${i}`, {}])));
      held.push(socket);
    }
    for (const s of held) s.destroy();
  };
  await Promise.all(["127.0.50.1", "127.0.51.1", "127.0.52.1", "127.0.53.1"].map(worker));
  return `${opened} connections opened`;
}

/** 50 connections (reading) x 20 REQs a second for everything, for `SECONDS`. */
async function reqFlood(port: number): Promise<string> {
  const sockets = await Promise.all(Array.from({ length: 50 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => ws.onopen = r);
    return ws;
  }));
  let refused = 0;
  let answered = 0;
  for (const ws of sockets) {
    ws.onmessage = (e) => {
      const m = String(e.data);
      if (m.startsWith('["CLOSED"')) refused++;
      if (m.startsWith('["EOSE"')) answered++;
    };
  }
  for (let second = 0; second < SECONDS; second++) {
    for (let k = 0; k < 20; k++) {
      for (const ws of sockets) {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(["REQ", `r${k}`, {}]));
      }
    }
    await sleep(1000);
  }
  for (const ws of sockets) ws.close();
  return `${answered} answered, ${refused} refused`;
}

const ATTACKS: [string, (port: number) => Promise<string>][] = [
  ["non-readers", nonReaders],
  ["REQ flood", reqFlood],
];

console.log(
  `${EVENTS} events x ${BYTES} B, ${args.store === undefined ? "SQLite" : "PostgreSQL"}, ` +
    `root ${root.pathname}`,
);
console.log(
  "| attack | outcome | peak RSS MiB | RSS 5 s after | /health p50/p95/max ms | honest |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, attack] of ATTACKS) {
  if (args.only && !name.includes(args.only)) continue;
  await using town = await startTown();
  const before = rssMb(town.pid, "VmRSS");
  const probe = healthProbe(town.httpPort);
  await probe.ready();
  const honest = honestDuring(town.httpPort);
  const outcome = await attack(town.httpPort);
  const seen = await probe.stop();
  const latency = `${seen.p50.toFixed(0)}/${seen.p95.toFixed(0)}/${seen.max.toFixed(0)}`;
  const honestText = await honest.stop();
  const peak = rssMb(town.pid, "VmHWM");
  await sleep(5000);
  const after = rssMb(town.pid, "VmRSS");
  console.log(
    `| ${name} | ${outcome} | ${peak.toFixed(0)} (from ${before.toFixed(0)}) | ` +
      `${after.toFixed(0)} | ${latency} | ${honestText} |`,
  );
}

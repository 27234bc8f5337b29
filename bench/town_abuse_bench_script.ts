/**
 * A town under the loopback attacks of its threat model, one fresh town per attack, each in its
 * own process started under `prlimit --nofile=1024:1024` (Deno raises a soft limit to the hard
 * one by itself, so only a hard limit of 1024 reproduces a small host): per attack,
 * the town's peak RSS (VmHWM from /proc), /health latency while it runs (p50/max) and what an
 * honest client saw afterwards (a REQ answered with EOSE, a paid write fulfilled).
 *
 * `deno run -A bench/town_abuse_bench_script.ts [--root <repo checkout>]` (default: this one),
 * so the same attacks run against another checkout's town code; `--only "SPSP burst|ping"`
 * runs the attacks whose name contains one of the parts. "honest client during" is a fresh REQ
 * (EOSE) and a new SPSP handshake (another account) every second while the attack runs.
 *
 * @module
 */
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { BtpClient } from "../transport/btp_client.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../roles/town_client/spsp_handshake.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { IlpReply } from "../protocol/ilp_packet.ts";
import net from "node:net";
import { encodeBtpFrame } from "../protocol/btp_message.ts";
import { parseBenchFlags } from "./bench_flags.ts";
import { healthProbe } from "./health_probe.ts";

const args = parseBenchFlags(Deno.args, {
  values: ["root", "only"],
  switches: [],
  usage:
    `Usage: deno run -A bench/town_abuse_bench_script.ts [--root <repo checkout>] [--only "SPSP burst|ping"]`,
}).values;
const root = new URL(
  args.root ? `file://${Deno.realPathSync(args.root)}/` : "../",
  import.meta.url,
);
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Town {
  pid: number;
  httpPort: number;
  btpPort: number;
  pubkey: string;
  ilpAddress: string;
  child: Deno.ChildProcess;
}

const owner = generateSecretKey();

/** Starts a town from `root` in its own process (a runner written next to the state dir). */
async function startTown(): Promise<Town> {
  const dir = await Deno.makeTempDir({ prefix: "abuse_bench_" });
  const runner = `${dir}/runner.ts`;
  await Deno.writeTextFile(
    runner,
    `import { startTestTown } from "${new URL("harness/town_test_node.ts", root)}";
const town = await startTestTown({
  peers: [{ account: "alice", token: "tok-alice" }, { account: "bob", token: "tok-bob" }],
  databasePath: "${dir}/events.sqlite",
  pricing: { pricePerByte: 10n, ownerPubkey: "${getPublicKey(owner)}" },
  secretKey: new Uint8Array(32).fill(7),
});
console.log(JSON.stringify({ httpPort: town.httpPort, btpPort: town.btpPort,
  pubkey: town.pubkey, ilpAddress: town.ilpAddress }));
await new Promise(() => {});
`,
  );
  const child = new Deno.Command("prlimit", {
    args: [
      "--nofile=1024:1024",
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      new URL("deno.json", root).pathname,
      runner,
    ],
    stdout: "piped",
    stderr: Deno.env.get("ABUSE_TOWN_STDERR") ? "inherit" : "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("town did not start");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { ...JSON.parse(text.split("\n")[0]), pid: child.pid, child };
}

function peakRssMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
  } catch {
    return NaN; // the town is gone
  }
}

function alive(town: Town): boolean {
  try {
    Deno.statSync(`/proc/${town.pid}`);
    return !Deno.readTextFileSync(`/proc/${town.pid}/status`).includes("State:\tZ");
  } catch {
    return false;
  }
}

/** An honest client: a REQ answered with EOSE, then a paid write. */
async function honest(town: Town): Promise<string> {
  const read = await new Promise<string>((resolve) => {
    let ws: WebSocket;
    const timer = setTimeout(() => resolve("REQ timeout"), 10_000);
    try {
      ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
    } catch {
      return resolve("no connection");
    }
    ws.onopen = () => ws.send(JSON.stringify(["REQ", "h", { limit: 1 }]));
    ws.onmessage = (e) => {
      if (String(e.data).startsWith('["EOSE"')) {
        clearTimeout(timer);
        ws.close();
        resolve("read ok");
      }
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve("read refused");
    };
  });
  let write = "write failed";
  try {
    const client = new BtpClient({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      authToken: "tok-alice",
      reconnect: false,
    });
    await client.connect();
    const key = generateSecretKey();
    const grant = await requestSpspOverIlp({
      sender: client,
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(key),
    });
    const event = finalizeEvent(
      { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "honest" },
      key,
    ) as NostrEvent;
    const { prepare } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
    const reply = await client.sendPrepare(prepare);
    write = reply.type === "fulfill" ? "write ok" : `write ${reply.code}`;
    await client.close();
  } catch (err) {
    write = `write: ${(err as Error).message.slice(0, 40)}`;
  }
  return `${read}, ${write}`;
}

async function rawWebSocket(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("turnpike-bench-01")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  await conn.read(new Uint8Array(1024));
  return conn;
}

function frame(opcode: number, fin: boolean, payload: Uint8Array | number): Uint8Array[] {
  const length = typeof payload === "number" ? payload : payload.length;
  const head = new Uint8Array(14);
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = 0x80 | 127;
  new DataView(head.buffer).setBigUint64(2, BigInt(length));
  return typeof payload === "number" ? [head] : [head, payload];
}

function text(payload: string): Uint8Array {
  return new Uint8Array(frame(0x1, true, encoder.encode(payload)).flatMap((b) => [...b]));
}

/** Sends up to `totalMiB` of one message as 1 MiB continuation frames; MiB accepted. */
async function endlessMessage(port: number, totalMiB: number): Promise<string> {
  const conn = await rawWebSocket(port);
  const chunk = new Uint8Array(1024 * 1024);
  let sent = 0;
  try {
    for (const part of frame(0x2, false, chunk)) await conn.write(part);
    sent++;
    for (; sent < totalMiB; sent++) {
      for (const part of frame(0x0, false, chunk)) await conn.write(part);
    }
  } catch {
    // closed by the town
  }
  conn.close();
  return `${sent} MiB sent before close`;
}

async function bigFrame(port: number): Promise<string> {
  const conn = await rawWebSocket(port);
  const size = 50 * 1024 * 1024;
  let sent = 0;
  try {
    await conn.write(frame(0x2, true, size)[0]);
    const chunk = new Uint8Array(1024 * 1024);
    for (; sent < 50; sent++) await conn.write(chunk);
  } catch {
    // closed by the town
  }
  conn.close();
  return `${sent} of 50 MiB sent before close`;
}

async function idleConnections(town: Town, n: number): Promise<string> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) {
    try {
      conns.push(
        await Deno.connect({ hostname: "127.0.0.1", port: i % 2 ? town.btpPort : town.httpPort }),
      );
    } catch {
      break;
    }
  }
  await sleep(2000);
  const up = alive(town);
  for (const c of conns) c.close();
  return `${conns.length} opened; town ${up ? "up" : "EXITED"}`;
}

async function slowloris(town: Town, n: number): Promise<string> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: i % 2 ? town.btpPort : town.httpPort,
    });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    conns.push(conn);
  }
  await sleep(8000);
  let ended = 0;
  await Promise.all(conns.map(async (c) => {
    // EOF, a reset or an error status: the town is done with the request either way.
    const r = await Promise.race([
      c.read(new Uint8Array(64)).catch(() => null),
      sleep(50).then(() => "pending" as const),
    ]);
    if (r !== "pending") ended++;
    c.close();
  }));
  return `${ended}/${n} ended by the town within 8 s`;
}

/** Stores `count` events of `bytes` each, written by the owner (free) over NIP-01. */
async function fill(town: Town, count: number, bytes: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise((r) => ws.onopen = r);
  let acks = 0;
  ws.onmessage = () => acks++;
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i++) {
    const e = finalizeEvent(
      { kind: 1, created_at: now - i, tags: [], content: `${i} ${"x".repeat(bytes)}` },
      owner,
    );
    ws.send(JSON.stringify(["EVENT", e]));
    if (i % 20 === 19) await sleep(1100); // under the per-connection rate limit
  }
  while (acks < count) await sleep(20);
  ws.close();
}

async function nonReaders(town: Town): Promise<string> {
  await fill(town, 200, 30_000);
  const conns: Deno.TcpConn[] = [];
  for (let c = 0; c < 5; c++) {
    const conn = await rawWebSocket(town.httpPort);
    for (let i = 0; i < 20; i++) await conn.write(text(JSON.stringify(["REQ", `s${i}`, {}])));
    conns.push(conn);
  }
  await sleep(10_000);
  for (const c of conns) c.close();
  return "5 connections x 20 REQs over 200 x 30 KB, never read";
}

async function reqFlood(town: Town): Promise<string> {
  await fill(town, 100, 5_000);
  const sockets = await Promise.all(Array.from({ length: 50 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
    await new Promise((r) => ws.onopen = r);
    return ws;
  }));
  let limited = 0;
  let answered = 0;
  for (const ws of sockets) {
    ws.onmessage = (e) => {
      const m = String(e.data);
      if (m.startsWith('["CLOSED"')) limited++;
      if (m.startsWith('["EOSE"')) answered++;
    };
  }
  for (let second = 0; second < 4; second++) {
    for (let k = 0; k < 5; k++) {
      for (const ws of sockets) ws.send(JSON.stringify(["REQ", `r${second}_${k}`, {}]));
    }
    await sleep(1000);
  }
  await sleep(2000);
  for (const ws of sockets) ws.close();
  return `${answered} answered, ${limited} refused`;
}

async function garbage(town: Town): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise((r) => ws.onopen = r);
  let notices = 0;
  let closed = false;
  ws.onmessage = () => notices++;
  ws.onclose = () => closed = true;
  for (let i = 0; i < 2000 && !closed; i++) ws.send(`garbage ${i}`);
  await sleep(1500);
  ws.close();
  return `${notices} answers to 2000, ${closed ? "closed by the town" : "still open"}`;
}

async function authBruteForce(town: Town): Promise<string> {
  const until = performance.now() + 3000;
  let guesses = 0;
  let evaluated = 0;
  while (performance.now() < until) {
    guesses++;
    const c = new BtpClient({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      authToken: `guess-${guesses}`,
      reconnect: false,
    });
    try {
      await c.connect();
    } catch (err) {
      if ((err as Error).name === "BtpAuthError") evaluated++;
    }
    await c.close().catch(() => {});
  }
  return `${(evaluated / 3).toFixed(0)} guesses/s evaluated (${guesses} tried)`;
}

async function spspFlood(town: Town): Promise<string> {
  const client = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "tok-alice",
    reconnect: false,
  });
  await client.connect();
  let answered = 0;
  let t05 = 0;
  for (let batch = 0; batch < 30; batch++) {
    await Promise.all(Array.from({ length: 100 }, async () => {
      try {
        await requestSpspOverIlp({
          sender: client,
          townAddress: town.ilpAddress,
          townPubkey: town.pubkey,
          signer: localNodeSigner(generateSecretKey()),
        });
        answered++;
      } catch (err) {
        if ((err as Error).message.includes("T05")) t05++;
      }
    }));
  }
  await client.close();
  return `${answered} answered, ${t05} T05 of 3000`;
}

async function createdAtWindow(town: Town): Promise<string> {
  const client = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "tok-alice",
    reconnect: false,
  });
  await client.connect();
  const key = generateSecretKey();
  const grant = await requestSpspOverIlp({
    sender: client,
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
    signer: localNodeSigner(key),
  });
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (const created_at of [now + 10 * 365 * 86400, 0, Number.MAX_SAFE_INTEGER]) {
    const event = finalizeEvent({ kind: 1, created_at, tags: [], content: "t" }, key) as NostrEvent;
    const { prepare } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
    const reply: IlpReply = await client.sendPrepare(prepare);
    out.push(reply.type === "fulfill" ? "stored" : reply.code);
  }
  await client.close();
  return out.join(", ");
}

/** Resolves with `fallback` after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((r) => timer = setTimeout(() => r(fallback), ms)),
  ]);
}

/** Milliseconds for a fresh REQ to get EOSE (a new connection), or Infinity. */
async function reqLatency(port: number): Promise<number> {
  const t0 = performance.now();
  const ok = await within(
    new Promise<boolean>((resolve) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(`ws://127.0.0.1:${port}`);
      } catch {
        return resolve(false);
      }
      ws.onopen = () => ws.send(JSON.stringify(["REQ", "h", { limit: 1 }]));
      ws.onmessage = (e) => {
        const m = String(e.data);
        if (m.startsWith('["EOSE"') || m.startsWith('["CLOSED"')) {
          ws.close();
          resolve(m.startsWith('["EOSE"'));
        }
      };
      ws.onerror = () => resolve(false);
    }),
    10_000,
    false,
  );
  return ok ? performance.now() - t0 : Infinity;
}

/** Milliseconds for a new SPSP handshake on `client` (a fresh pubkey), or Infinity. */
async function spspLatency(town: Town, client: BtpClient): Promise<number> {
  const t0 = performance.now();
  const ok = await within(
    requestSpspOverIlp({
      sender: client,
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
    }).then(() => true, () => false),
    10_000,
    false,
  );
  return ok ? performance.now() - t0 : Infinity;
}

/**
 * An honest client while an attack runs: every second a fresh REQ (EOSE expected) and a new
 * SPSP handshake as bob; `stop()` gives the worst of each ("none" when one never answered).
 */
function honestDuring(town: Town) {
  let running = true;
  const req: number[] = [];
  const spsp: number[] = [];
  const loop = (async () => {
    const bob = new BtpClient({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      authToken: "tok-bob",
      reconnect: false,
    });
    await bob.connect();
    while (running) {
      const [r, s] = await Promise.all([reqLatency(town.httpPort), spspLatency(town, bob)]);
      req.push(r);
      spsp.push(s);
      await sleep(1000);
    }
    await bob.close().catch(() => {});
  })();
  const worst = (xs: number[]) => {
    const failed = xs.filter((x) => x === Infinity).length;
    const max = Math.max(...xs.filter((x) => x !== Infinity));
    return `max ${
      Number.isFinite(max) ? max.toFixed(0) : "-"
    } ms, ${failed}/${xs.length} unanswered`;
  };
  return {
    async stop(): Promise<string> {
      running = false;
      await loop;
      return `REQ ${worst(req)}; SPSP ${worst(spsp)}`;
    },
  };
}

/** A raw client WebSocket from `localAddress`, and its received bytes chunk by chunk. */
interface RawFrom {
  socket: net.Socket;
  /** The next chunk received, or null once the connection ended. */
  next(): Promise<Uint8Array | null>;
}

/** Opens a raw client WebSocket from `localAddress` (node:net can bind the source address). */
async function rawWebSocketFrom(port: number, localAddress: string): Promise<RawFrom> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  const chunks: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  socket.on("data", (d: Uint8Array) => {
    chunks.push(d);
    wake?.();
  });
  socket.on("close", () => {
    chunks.push(null);
    wake?.();
  });
  socket.on("error", () => {});
  const next = async (): Promise<Uint8Array | null> => {
    while (chunks.length === 0) await new Promise<void>((r) => wake = r);
    const chunk = chunks.shift()!;
    if (chunk === null) chunks.unshift(null);
    return chunk;
  };
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("turnpike-bench-01")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await within(next(), 5000, null);
  const text = head === null ? "" : new TextDecoder().decode(head);
  if (!text.startsWith("HTTP/1.1 101")) {
    socket.destroy();
    throw new Error(text.split("\r\n")[0] || "no answer");
  }
  return { socket, next };
}

/** A masked ping frame (zero mask key) with a 125-byte payload. */
const PING = new Uint8Array([0x89, 0x80 | 125, 0, 0, 0, 0, ...new Uint8Array(125)]);

/**
 * Pings as fast as the socket takes them for `ms`, never reading, on `connections` connections;
 * a connection the town closes is opened again (the attack lasts `ms` either way).
 */
async function pingFlood(port: number, connections: number, ms: number): Promise<string> {
  const burst = new Uint8Array(PING.length * 256);
  for (let i = 0; i < 256; i++) burst.set(PING, i * PING.length);
  const until = performance.now() + ms;
  let sent = 0;
  let closed = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      let conn: Deno.TcpConn;
      try {
        conn = await rawWebSocket(port);
      } catch {
        await sleep(100);
        continue;
      }
      try {
        while (performance.now() < until) {
          for (let at = 0; at < burst.length;) at += await conn.write(burst.subarray(at));
          sent += 256;
        }
      } catch {
        closed++;
      }
      conn.close();
    }
  }));
  return `${sent} pings sent, ${connections} connections closed by the town ${closed} times`;
}

/** 64 SPSP requests at once on one account, then new handshakes on another. */
async function spspBurst(town: Town, n: number): Promise<string> {
  const alice = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "tok-alice",
    reconnect: false,
  });
  await alice.connect();
  const t0 = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: n }, () =>
      within(
        requestSpspOverIlp({
          sender: alice,
          townAddress: town.ilpAddress,
          townPubkey: town.pubkey,
          signer: localNodeSigner(generateSecretKey()),
        }).then(() => "ok", (err: Error) => err.message.includes("T05") ? "T05" : "error"),
        30_000,
        "no reply",
      )),
  );
  const burstMs = performance.now() - t0;
  const count = (o: string) => outcomes.filter((x) => x === o).length;
  await sleep(5000); // the honest probe runs meanwhile
  await alice.close();
  return `${n} at once: ${count("ok")} ok, ${count("T05")} T05, ${count("no reply")} no reply ` +
    `in ${(burstMs / 1000).toFixed(1)} s`;
}

/** 5 source addresses x 64 idle upgraded WebSockets, then honest REQs from another address. */
async function slotSquat(town: Town): Promise<string> {
  const squatters: net.Socket[] = [];
  for (let a = 2; a < 7; a++) {
    for (let i = 0; i < 64; i++) {
      try {
        squatters.push((await rawWebSocketFrom(town.httpPort, `127.0.0.${a}`)).socket);
      } catch {
        break;
      }
    }
  }
  await sleep(2000); // squatters stay (the probe saw them stay 65 s)
  let refused = 0;
  for (let i = 0; i < 7; i++) {
    if ((await reqLatency(town.httpPort)) === Infinity) refused++;
    await sleep(500);
  }
  const held = squatters.filter((s) => !s.destroyed && s.readyState === "open").length;
  for (const s of squatters) s.destroy();
  return `${squatters.length} idle sockets opened, ${held} still open; honest REQ refused ${refused}/7`;
}

/** 50 connections x 9 REQ/s for 8 s; an honest REQ every 300 ms on its own connection. */
async function reqFairness(town: Town): Promise<string> {
  await fill(town, 100, 5_000);
  const sockets = await Promise.all(Array.from({ length: 50 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
    await new Promise((r) => ws.onopen = r);
    ws.onmessage = () => {};
    return ws;
  }));
  const honest = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise((r) => honest.onopen = r);
  let refused = 0;
  let eose = 0;
  honest.onmessage = (e) => {
    const m = String(e.data);
    if (m.startsWith('["CLOSED"')) refused++;
    if (m.startsWith('["EOSE"')) eose++;
  };
  let asked = 0;
  const until = performance.now() + 8000;
  let tick = 0;
  while (performance.now() < until) {
    for (const ws of sockets) ws.send(JSON.stringify(["REQ", `r${tick % 18}`, {}]));
    // Ids reused (a REQ with a live id replaces it): the honest client stays under its 20.
    if (tick % 3 === 0) honest.send(JSON.stringify(["REQ", `h${asked++ % 10}`, { limit: 5 }]));
    tick++;
    await sleep(111);
  }
  await sleep(2000);
  for (const ws of [...sockets, honest]) ws.close();
  return `honest REQs: ${eose} EOSE, ${refused} refused of ${asked}`;
}

/** Token guesses from 100 source addresses, then the right token from a blocked address. */
async function distributedGuessing(town: Town): Promise<string> {
  let evaluated = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 100 }, async (_, a) => {
    for (let g = 0; g < 10; g++) {
      const raw = await rawWebSocketFrom(town.btpPort, `127.0.1.${a + 1}`).catch(() => null);
      if (raw === null) return;
      raw.socket.write(maskedBinary(authFrame(`guess-${a}-${g}`)));
      // A BTP frame back (type 2, ERROR) is an evaluated guess.
      const reply = await within(raw.next(), 3000, null);
      if (reply !== null && btpType(reply) === 2) evaluated++;
      raw.socket.destroy();
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  // The right token from an address that guessed, once its trial interval has passed: accepted?
  await sleep(10_500);
  const right = await rawWebSocketFrom(town.btpPort, "127.0.1.1").then(async (raw) => {
    raw.socket.write(maskedBinary(authFrame("tok-alice")));
    const reply = await within(raw.next(), 5000, null);
    raw.socket.destroy();
    return reply === null ? "no answer" : btpType(reply) === 1 ? "accepted" : "refused";
  }, (err: Error) => `connection refused (${err.message.slice(0, 30)})`);
  return `${evaluated} guesses evaluated in ${seconds.toFixed(1)} s; right token from a ` +
    `guessing address 10 s later: ${right}`;
}

/** The BTP frame type (1 RESPONSE, 2 ERROR) in the first server frame of `bytes`. */
function btpType(bytes: Uint8Array): number {
  return bytes[(bytes[1] & 0x7f) === 126 ? 4 : 2];
}

/** A BTP auth MESSAGE (request id 1) with `auth` and `auth_token`. */
function authFrame(token: string): Uint8Array {
  return encodeBtpFrame({
    type: "message",
    requestId: 1,
    protocolData: [
      { protocolName: "auth", contentType: 0, data: new Uint8Array() },
      { protocolName: "auth_token", contentType: 1, data: encoder.encode(token) },
    ],
  });
}

function maskedBinary(payload: Uint8Array): Uint8Array {
  return new Uint8Array([0x82, 0x80 | payload.length, 0, 0, 0, 0, ...payload]);
}

/** Paid writes with amount 2^64-1 and expiry in 9999: fulfilled or refused (code)? */
async function hugePayment(town: Town): Promise<string> {
  const client = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "tok-alice",
    reconnect: false,
  });
  await client.connect();
  const key = generateSecretKey();
  const grant = await requestSpspOverIlp({
    sender: client,
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
    signer: localNodeSigner(key),
  });
  const out: string[] = [];
  for (const variant of ["amount", "expiry"]) {
    const event = finalizeEvent(
      { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: variant },
      key,
    ) as NostrEvent;
    const { prepare } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
    if (variant === "amount") prepare.amount = "18446744073709551615";
    else prepare.expiresAt = new Date("9999-12-31T00:00:00Z");
    const reply: IlpReply = await client.sendPrepare(prepare);
    out.push(`${variant}: ${reply.type === "fulfill" ? "fulfilled" : reply.code}`);
  }
  // An unpaid EVENT with a forged signature over NIP-01.
  const forged = finalizeEvent(
    { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "forged" },
    generateSecretKey(),
  );
  forged.sig = "00".repeat(64);
  const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise((r) => ws.onopen = r);
  const answer = await new Promise<string>((resolve) => {
    ws.onmessage = (e) => resolve(String(JSON.parse(String(e.data))[3]).split(":")[0]);
    ws.send(JSON.stringify(["EVENT", forged]));
  });
  ws.close();
  await client.close();
  return `${out.join(", ")}; forged unpaid EVENT: ${answer}`;
}

const ATTACKS: [string, (town: Town) => Promise<string>][] = [
  ["idle connections (1200, file limit 1024)", (t) => idleConnections(t, 1200)],
  ["slowloris (600 unfinished requests, both ports)", (t) => slowloris(t, 600)],
  ["endless continuation frames, NIP-01 (256 MiB)", (t) => endlessMessage(t.httpPort, 256)],
  ["endless continuation frames, BTP before auth", (t) => endlessMessage(t.btpPort, 256)],
  ["single 50 MiB frame, NIP-01", (t) => bigFrame(t.httpPort)],
  ["single 50 MiB frame, BTP", (t) => bigFrame(t.btpPort)],
  ["non-reading clients", nonReaders],
  ["REQ flood, 50 connections x 5/s over 100 x 5 KB", reqFlood],
  ["2000 invalid messages", garbage],
  ["BTP auth brute force (3 s)", authBruteForce],
  ["SPSP from 3000 fresh pubkeys", spspFlood],
  ["paid created_at now+10y, 0, 2^53-1", createdAtWindow],
  ["SPSP burst, 64 at once on one account", (t) => spspBurst(t, 64)],
  ["SPSP burst, 300 at once on one account", (t) => spspBurst(t, 300)],
  [
    "ping flood, NIP-01, 1 connection never reading (15 s)",
    (t) => pingFlood(t.httpPort, 1, 15_000),
  ],
  ["ping flood, BTP before auth, 10 connections (5 s)", (t) => pingFlood(t.btpPort, 10, 5_000)],
  ["slot squatting, 5 addresses x 64 idle WebSockets", slotSquat],
  ["REQ fairness, 50 connections x 9 REQ/s", reqFairness],
  ["BTP auth guessing from 100 addresses", distributedGuessing],
  ["paid write 2^64-1 / expiry 9999, forged unpaid EVENT", hugePayment],
];

console.log(
  `| attack | outcome | peak RSS MB | /health p50/p95/max ms | honest client during | after |`,
);
console.log(`| --- | --- | --- | --- | --- | --- |`);
for (const [name, attack] of ATTACKS) {
  // `--only a|b`: the attacks whose name contains one of the parts.
  if (args.only && !args.only.split("|").some((part) => name.includes(part))) continue;
  const town = await startTown();
  const probe = healthProbe(town.httpPort);
  await probe.ready();
  const during = honestDuring(town);
  let outcome: string;
  try {
    outcome = await attack(town);
  } catch (err) {
    outcome = `attack error: ${(err as Error).message.slice(0, 60)}`;
  }
  const seen = await probe.stop();
  const latency = `${seen.p50.toFixed(1)}/${seen.p95.toFixed(0)}/${seen.max.toFixed(0)} ` +
    `(${seen.count} probes)`;
  const duringText = await during.stop();
  const rss = peakRssMb(town.pid);
  const after = alive(town) ? await honest(town) : "town exited";
  console.log(
    `| ${name} | ${outcome} | ${rss.toFixed(0)} | ${latency} | ${duringText} | ${after} |`,
  );
  try {
    town.child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await town.child.status;
}

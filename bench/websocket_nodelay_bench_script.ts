/**
 * Nagle + delayed-ACK stalls on loopback WebSockets, per client x server pair.
 *
 * The pattern (one round): the client sends a small note the server does not answer, then 2 ms
 * later a small request; the server answers the request with two small messages 2 ms apart
 * (a "progress" then a "result", as the town does with OK + EVENT). The figure is request sent ->
 * result received. With Nagle on, the request waits for the ACK of the note and the result for
 * the ACK of the progress: each is the peer's delayed ACK (~40 ms on Linux), so a side with
 * TCP_NODELAY off shows up as ~40 ms added to the ~2 ms floor.
 *
 * Clients: Deno's built-in WebSocket, transport/nodelay_websocket.ts (Deno.connect +
 * setNoDelay), npm `ws` under Deno's Node compatibility (it calls socket.setNoDelay()).
 * Servers: Deno.serve + Deno.upgradeWebSocket, NoDelayWebSocket.accept on Deno.listen +
 * setNoDelay, npm `ws` WebSocketServer on node:http.
 *
 *   deno run -A bench/websocket_nodelay_bench_script.ts [rounds=100]
 *
 * @module
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket as NodeWebSocket, WebSocketServer } from "ws";
import { NoDelayWebSocket } from "../transport/nodelay_websocket.ts";

/** What this script uses of a `ws` socket (the package ships no types). */
interface WsSocket {
  readyState: number;
  send(text: string): void;
  on(event: "message", listener: (data: unknown, isBinary: boolean) => void): void;
}

const ROUNDS = Number(Deno.args[0] ?? 100);
const WARMUP = 10;
const GAP_MS = 2;
const PUSH_DELAY_MS = 20;

interface BenchServer {
  name: string;
  url: string;
  close(): Promise<void>;
}

/** The server half of a round: ignore the note, answer the request twice, 2 ms apart. */
function answer(send: (text: string) => void, text: string) {
  if (text === "request") {
    send("progress");
    setTimeout(() => send("result"), GAP_MS);
  } else if (text === "push") {
    // Server-side pattern: two pushes 2 ms apart a while after the client last spoke.
    setTimeout(() => {
      send("progress");
      setTimeout(() => send("result"), GAP_MS);
    }, PUSH_DELAY_MS);
  }
}

function denoServe(): BenchServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => answer((t) => socket.readyState === 1 && socket.send(t), e.data);
    return response;
  });
  return {
    name: "Deno.serve",
    url: `ws://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

function denoListenNoDelay(): BenchServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets: NoDelayWebSocket[] = [];
  (async () => {
    for await (const conn of listener) {
      NoDelayWebSocket.accept(conn).then((ws) => {
        sockets.push(ws);
        ws.onmessage = (e) => answer((t) => ws.readyState === 1 && ws.send(t), e.data);
      }, () => {});
    }
  })().catch(() => {});
  return {
    name: "Deno.listen+nodelay",
    url: `ws://127.0.0.1:${listener.addr.port}`,
    close: async () => {
      listener.close();
      await Promise.all(sockets.map((ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === 3) return resolve();
          ws.addEventListener("close", () => resolve());
          ws.close();
        })
      ));
    },
  };
}

async function nodeWs(): Promise<BenchServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let noDelayOk = "untested";
  wss.on("connection", (ws: WsSocket, req: IncomingMessage) => {
    try {
      req.socket.setNoDelay(true); // ws sets it too; checked here to report whether it holds
      noDelayOk = "setNoDelay did not throw";
    } catch (err) {
      noDelayOk = `setNoDelay threw: ${(err as Error).message}`;
    }
    ws.on("message", (data: unknown, isBinary: boolean) => {
      if (!isBinary) answer((t) => ws.readyState === 1 && ws.send(t), String(data));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    get name() {
      return `node:http+ws (${noDelayOk})`;
    },
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A client reduced to what a round needs. */
interface BenchClient {
  send(text: string): void;
  next(): Promise<string>;
  close(): Promise<void>;
}

function queueing(): { push(text: string): void; next(): Promise<string> } {
  const texts: string[] = [];
  const waiters: ((t: string) => void)[] = [];
  return {
    push: (t) => waiters.length ? waiters.shift()!(t) : texts.push(t),
    next: () =>
      texts.length ? Promise.resolve(texts.shift()!) : new Promise((r) => waiters.push(r)),
  };
}

async function webClient(ws: WebSocket): Promise<BenchClient> {
  const q = queueing();
  ws.onmessage = (e) => q.push(String(e.data));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot open ${ws.url}`));
  });
  return {
    send: (t) => ws.send(t),
    next: q.next,
    close: () =>
      new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
        ws.close();
      }),
  };
}

async function nodeClient(url: string): Promise<BenchClient> {
  const ws = new NodeWebSocket(url);
  const q = queueing();
  ws.on("message", (data: unknown) => q.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.on("open", () => resolve());
    ws.on("error", reject);
  });
  return {
    send: (t) => ws.send(t),
    next: q.next,
    close: () =>
      new Promise<void>((resolve) => {
        ws.on("close", () => resolve());
        ws.close();
      }),
  };
}

const clients: Record<string, (url: string) => Promise<BenchClient>> = {
  "Deno WebSocket": (url) => webClient(new WebSocket(url)),
  "NoDelayWebSocket": (url) => webClient(new NoDelayWebSocket(url)),
  "npm ws": nodeClient,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function rounds(client: BenchClient, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    client.send("note");
    await sleep(GAP_MS);
    const t0 = performance.now();
    client.send("request");
    if (await client.next() !== "progress") throw new Error("expected progress");
    if (await client.next() !== "result") throw new Error("expected result");
    times.push(performance.now() - t0);
    await sleep(GAP_MS);
  }
  return times.sort((a, b) => a - b);
}

/** Server-side stall alone: progress received -> result received, the client silent between. */
async function pushes(client: BenchClient, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    client.send("push");
    if (await client.next() !== "progress") throw new Error("expected progress");
    const t0 = performance.now();
    if (await client.next() !== "result") throw new Error("expected result");
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

console.log(
  `round: request -> result; push gap: progress -> result pushed ${GAP_MS} ms apart ` +
    `(floor ${GAP_MS} ms for both); ${ROUNDS} of each per pair`,
);
for (const makeServer of [denoServe, denoListenNoDelay, nodeWs]) {
  for (const [clientName, makeClient] of Object.entries(clients)) {
    const server = await makeServer();
    const client = await makeClient(server.url);
    await rounds(client, WARMUP);
    const t = await rounds(client, ROUNDS);
    await pushes(client, WARMUP);
    const p = await pushes(client, ROUNDS);
    await client.close();
    console.log(
      `${clientName.padEnd(17)} -> ${server.name.padEnd(20)} round p50 ${
        pct(t, 0.5).toFixed(1)
      } p99 ${pct(t, 0.99).toFixed(1)} ms | push gap p50 ${pct(p, 0.5).toFixed(1)} p99 ${
        pct(p, 0.99).toFixed(1)
      } ms`,
    );
    await server.close();
  }
}

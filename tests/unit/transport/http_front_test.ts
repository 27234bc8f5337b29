/**
 * The bounded HTTP front over real loopback sockets: plain requests reach the handler with their
 * body (through its Unix socket) one per connection, WebSocket upgrades are routed with the
 * chosen subprotocol, and what it must shed it sheds: slow heads, oversized heads, idle bodies,
 * connections past the caps, refused addresses.
 */
import { assert, assertEquals, assertMatch } from "../../../harness/assert.ts";
import {
  type HttpFrontOptions,
  listenHttpFront,
  OPERATOR_LANE_SLOTS,
} from "../../../transport/http_front.ts";

const encoder = new TextEncoder();

function front(overrides: Partial<HttpFrontOptions> = {}) {
  return listenHttpFront({
    hostname: "127.0.0.1",
    port: 0,
    headTimeoutMs: 5_000,
    maxConnectionsPerAddress: 8,
    maxConnections: 64,
    upgrade: (head) => ({
      maxMessageBytes: 1024,
      protocol: head.headers.get("sec-websocket-protocol")?.includes("toon") ? "toon" : undefined,
      onSocket: (ws) => ws.addEventListener("message", (e) => ws.send(`echo ${e.data}`)),
    }),
    handler: async (request) =>
      new Response(`${request.method} ${new URL(request.url).pathname} ${await request.text()}`),
    ...overrides,
  });
}

/** Sends raw bytes and reads everything until the server closes. */
async function exchange(port: number, raw: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(raw)).catch(() => {});
    return await readAll(conn);
  } finally {
    conn.close();
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: string[] = [];
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return chunks.join("");
    chunks.push(decoder.decode(buf.subarray(0, n), { stream: true }));
  }
}

Deno.test("http front: a plain request and its body reach the handler; fetch works", async () => {
  const f = front();
  try {
    const res = await fetch(`http://127.0.0.1:${f.port}/things`, { method: "POST", body: "hi" });
    assertEquals(await res.text(), "POST /things hi");
    // One request per connection: the answer says close, even to a keep-alive request.
    const raw = await exchange(
      f.port,
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    );
    assertMatch(raw, /^HTTP\/1\.1 200 /);
    assertMatch(raw, /\r\nconnection: close\r\n/i);
    assertMatch(raw, /GET \/a $/);
    assertEquals(f.stats().requestsPassedTotal, 2);
  } finally {
    await f.close();
  }
});

Deno.test("http front: an HTTP/1.0 request without Host (a load balancer's health check) is served", async () => {
  const f = front({ operatorPaths: ["/health"] });
  try {
    const probe = await exchange(f.port, "GET /health HTTP/1.0\r\n\r\n");
    assertMatch(probe, /^HTTP\/1\.[01] 200 /);
    assertMatch(probe, /GET \/health $/);
    assert(!probe.includes("Error"), probe);
    const options = await exchange(f.port, "OPTIONS / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n");
    assertMatch(options, /^HTTP\/1\.[01] 200 /);
    // HTTP/1.1 requires Host (RFC 9112 3.2): without it, a plain 400, never a stack trace.
    const bare11 = await exchange(f.port, "GET / HTTP/1.1\r\n\r\n");
    assertMatch(bare11, /^HTTP\/1\.1 400 /);
    assert(!bare11.includes("    at "), bare11);
  } finally {
    await f.close();
  }
});

Deno.test("http front: a WebSocket upgrade is routed, with the subprotocol chosen", async () => {
  const f = front();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${f.port}/`, ["toon"]);
    const answer = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("hello");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("socket error"));
    });
    assertEquals([answer, ws.protocol], ["echo hello", "toon"]);
    const closed = new Promise((resolve) => ws.onclose = resolve);
    ws.close();
    await closed;
  } finally {
    await f.close();
  }
});

Deno.test("http front: a message over the cap closes the socket with 1009", async () => {
  const f = front();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${f.port}/`);
    const code = await new Promise<number>((resolve) => {
      ws.onopen = () => ws.send("x".repeat(4096));
      ws.onclose = (e) => resolve(e.code);
    });
    assertEquals(code, 1009);
  } finally {
    await f.close();
  }
});

Deno.test("http front: heads that are slow or too large are shed", async () => {
  const f = front({ headTimeoutMs: 100 });
  try {
    assertEquals(await exchange(f.port, "GET /slow HTTP/1.1\r\nHost: x\r\n"), "");
    const big = await exchange(f.port, `GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`);
    assertMatch(big, /^HTTP\/1\.1 431 /);
    assertEquals(f.stats().handshakesFailedTotal, 2);
    assertEquals(f.stats().connectionsOpen, 0);
  } finally {
    await f.close();
  }
});

Deno.test("http front: a body that stops coming is closed when idle", async () => {
  const f = front({ idleTimeoutMs: 100 });
  try {
    const raw = await exchange(
      f.port,
      "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
    );
    assertEquals(raw, "");
    assertEquals(f.stats().idleClosedTotal, 1);
  } finally {
    await f.close();
  }
});

Deno.test("http front: connections past the per-address cap and refused addresses get an answer", async () => {
  const f = front({ maxConnectionsPerAddress: 2 });
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: f.port }));
    }
    // Accepted asynchronously: wait until both count.
    while (f.stats().connectionsOpen < 2) await new Promise((r) => setTimeout(r, 5));
    const refused = await exchange(f.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(refused, /^HTTP\/1\.1 503 [^]*from this address \(max 2\)/);
    assertEquals(f.stats().connectionsRefusedTotal, 1);
  } finally {
    for (const c of held) c.close();
    await f.close();
  }
  const blocked = front({ refuse: () => "go away" });
  try {
    const answer = await exchange(blocked.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(answer, /^HTTP\/1\.1 429 [^]*go away/);
    assertEquals(blocked.stats().addressesRefusedTotal, 1);
  } finally {
    await blocked.close();
  }
});

Deno.test("http front: operator paths are still served when the caps are full, others are not", async () => {
  const f = front({ maxConnectionsPerAddress: 2, operatorPaths: ["/health"] });
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: f.port }));
    }
    while (f.stats().connectionsOpen < 2) await new Promise((r) => setTimeout(r, 5));
    const health = await exchange(f.port, "GET /health?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(health, /^HTTP\/1\.1 200 [^]*GET \/health $/);
    const other = await exchange(f.port, "GET /things HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(other, /^HTTP\/1\.1 503 [^]*from this address \(max 2\)/);
    const post = await exchange(f.port, "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assertMatch(post, /^HTTP\/1\.1 503 /);
    assertEquals(f.stats().operatorLaneServedTotal, 1);
    assertEquals(f.stats().connectionsRefusedTotal, 3);
    // Refused connections that send nothing fill the lane; a probe still gets through.
    for (let i = 0; i < OPERATOR_LANE_SLOTS * 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: f.port }));
    }
    while (f.stats().connectionsRefusedTotal < 3 + OPERATOR_LANE_SLOTS * 2) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const probe = await exchange(f.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(probe, /^HTTP\/1\.1 200 /);
  } finally {
    for (const c of held) c.close();
    await f.close();
  }
});

Deno.test("http front: operator paths skip the cap on requests passed at once", async () => {
  let release!: () => void;
  const stuck = new Promise<void>((r) => release = r);
  const f = front({
    maxPassedThrough: 1,
    operatorPaths: ["/health"],
    handler: async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/slow") await stuck;
      return new Response(path);
    },
  });
  try {
    const slow = fetch(`http://127.0.0.1:${f.port}/slow`);
    while (f.stats().requestsPassedTotal < 1) await new Promise((r) => setTimeout(r, 5));
    const busy = await exchange(f.port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(busy, /^HTTP\/1\.1 503 [^]*busy: 1 requests in progress/);
    assertEquals(await (await fetch(`http://127.0.0.1:${f.port}/health`)).text(), "/health");
    release();
    assertEquals(await (await slow).text(), "/slow");
  } finally {
    release();
    await f.close();
  }
});

Deno.test("http front: without a handler a plain request is 400, without upgrade a WebSocket is", async () => {
  const wsOnly = front({ handler: undefined });
  const httpOnly = front({ upgrade: undefined });
  try {
    const plain = await exchange(wsOnly.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertMatch(plain, /^HTTP\/1\.1 400 [^]*WebSocket upgrades only/);
    const upgrade = await exchange(
      httpOnly.port,
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assertMatch(upgrade, /^HTTP\/1\.1 400 [^]*no WebSocket/);
    assert(
      wsOnly.stats().handshakesFailedTotal === 1 && httpOnly.stats().handshakesFailedTotal === 1,
    );
  } finally {
    await wsOnly.close();
    await httpOnly.close();
  }
});

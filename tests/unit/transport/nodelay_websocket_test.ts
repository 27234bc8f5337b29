/**
 * NoDelayWebSocket over real loopback sockets: against Deno.serve + upgradeWebSocket (the town's
 * servers), against its own server side (accept), and against a raw TCP peer that writes
 * hand-made frames (fragments, pings, masked or oversized frames, a peer that just goes away).
 */
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  NoDelayWebSocket,
  openWebSocket,
  WebSocketProtocolError,
} from "../../../transport/nodelay_websocket.ts";

interface EchoServer {
  url: string;
  /** Close events the server side saw. */
  closes: { code: number; reason: string }[];
  /** Server-side sockets, to close from the server. */
  sockets: WebSocket[];
  close(): Promise<void>;
}

/** Deno.serve echoing every message back, as the town's servers are built. */
function echoServer(): EchoServer {
  const closes: { code: number; reason: string }[] = [];
  const sockets: WebSocket[] = [];
  const closed: Promise<void>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    sockets.push(socket);
    closed.push(
      new Promise((resolve) =>
        socket.addEventListener("close", (e) => {
          closes.push({ code: e.code, reason: e.reason });
          resolve();
        })
      ),
    );
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/path?q=1`,
    closes,
    sockets,
    close: async () => {
      for (const s of sockets) if (s.readyState < 2) s.close();
      await Promise.all(closed);
      await server.shutdown();
    },
  };
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("close", (e) => reject(new Error(`closed ${e.code} before open`)));
  });
}

function closedEvent(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e)));
}

function nextMessage(ws: WebSocket): Promise<MessageEvent> {
  return new Promise((resolve) =>
    ws.addEventListener("message", (e) => resolve(e), { once: true })
  );
}

Deno.test("nodelay websocket: text and binary echo through Deno.serve", async () => {
  const server = echoServer();
  const ws = new NoDelayWebSocket(server.url);
  ws.binaryType = "arraybuffer";
  await opened(ws);
  assertEquals(ws.readyState, WebSocket.OPEN);
  ws.send("héllo");
  assertEquals((await nextMessage(ws)).data, "héllo");
  ws.send(new Uint8Array([1, 2, 3, 255]));
  assertEquals([...new Uint8Array((await nextMessage(ws)).data)], [1, 2, 3, 255]);
  // A view into a larger buffer sends only the view.
  ws.send(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
  assertEquals([...new Uint8Array((await nextMessage(ws)).data)], [8, 7]);
  ws.binaryType = "blob";
  ws.send(new Uint8Array([5]).buffer);
  const blob = (await nextMessage(ws)).data as Blob;
  assertEquals([...new Uint8Array(await blob.arrayBuffer())], [5]);
  // Back-to-back sends arrive in order (one write may carry several frames).
  const got: string[] = [];
  const all = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      got.push((e as MessageEvent).data as string);
      if (got.length === 50) resolve();
    })
  );
  for (let i = 0; i < 50; i++) ws.send(`m${i}`);
  await all;
  assertEquals(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
  const closed = closedEvent(ws);
  ws.close();
  assertEquals((await closed).wasClean, true);
  await server.close();
});

Deno.test("nodelay websocket: big messages both ways (16-bit and 64-bit lengths)", async () => {
  const server = echoServer();
  const ws = new NoDelayWebSocket(server.url);
  ws.binaryType = "arraybuffer";
  await opened(ws);
  for (const size of [125, 126, 65_535, 65_536, 3 * 1024 * 1024 + 7]) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff;
    const echoed = nextMessage(ws);
    ws.send(data);
    assert(ws.bufferedAmount <= size, "bufferedAmount counts payload bytes");
    const back = new Uint8Array((await echoed).data as ArrayBuffer);
    assertEquals(back.length, size);
    assert(back.every((b, i) => b === ((i * 31) & 0xff)), `payload of ${size} bytes intact`);
  }
  const text = "x".repeat(200_000);
  const echoed = nextMessage(ws);
  ws.send(text);
  assertEquals((await echoed).data, text);
  assertEquals(ws.bufferedAmount, 0);
  ws.close();
  await closedEvent(ws);
  await server.close();
});

Deno.test("nodelay websocket: close codes in both directions", async () => {
  const server = echoServer();
  const a = new NoDelayWebSocket(server.url);
  await opened(a);
  const aClosed = closedEvent(a);
  a.close(4000, "bye");
  assertEquals(a.readyState, WebSocket.CLOSING);
  const ea = await aClosed;
  assertEquals([ea.code, ea.reason, ea.wasClean], [4000, "bye", true]);
  assertEquals(a.readyState, WebSocket.CLOSED);

  const b = new NoDelayWebSocket(server.url);
  let onclose: CloseEvent | undefined;
  b.onclose = (e) => (onclose = e);
  await opened(b);
  const bClosed = closedEvent(b);
  server.sockets[1].close(4001, "server says");
  const eb = await bClosed;
  assertEquals([eb.code, eb.reason, eb.wasClean], [4001, "server says", true]);
  assertEquals(onclose?.code, 4001);
  b.send("ignored after close"); // discarded, as the built-in does
  await server.close();
  assertEquals(server.closes.map((c) => c.code).sort(), [4000, 4001]);
  assertThrows(() => new NoDelayWebSocket(server.url).close(1001), DOMException);
});

Deno.test("nodelay websocket: unreachable server and close while connecting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const ws = new NoDelayWebSocket(`ws://127.0.0.1:${port}`);
  let errors = 0;
  ws.onerror = () => errors++;
  const e = await closedEvent(ws);
  assertEquals([e.code, e.wasClean, errors], [1006, false, 1]);
  assertThrows(() => new NoDelayWebSocket("http://127.0.0.1:1"), SyntaxError);

  const server = echoServer();
  const early = new NoDelayWebSocket(server.url);
  const earlyClosed = closedEvent(early);
  early.close();
  assertEquals((await earlyClosed).code, 1006);
  assertEquals(early.readyState, WebSocket.CLOSED);
  await server.close();
});

/** A TCP peer that completes the handshake by hand, then plays the bytes the test gives it. */
function rawPeer(
  script: (conn: Deno.Conn, read: () => Promise<Uint8Array | null>) => Promise<void>,
): { url: string; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buf = new Uint8Array(64 * 1024);
    const read = async () => {
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    };
    const head = new TextDecoder().decode((await read())!);
    const key = /sec-websocket-key: (.+)\r\n/i.exec(head)![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(
      new TextEncoder().encode(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ),
    );
    try {
      await script(conn, read);
    } finally {
      try {
        conn.close();
      } catch {
        // the script closed it
      }
    }
  })();
  return { url: `ws://127.0.0.1:${listener.addr.port}`, done };
}

const text = (s: string) => new TextEncoder().encode(s);
function frame(first: number, payload: Uint8Array): Uint8Array {
  return new Uint8Array([first, payload.length, ...payload]);
}

/** Reads client frames until a close frame; returns its code. */
async function readCloseCode(read: () => Promise<Uint8Array | null>): Promise<number | null> {
  while (true) {
    const bytes = await read();
    if (bytes === null) return null;
    if ((bytes[0] & 0x0f) === 0x8) {
      const mask = bytes.subarray(2, 6);
      return ((bytes[6] ^ mask[0]) << 8) | (bytes[7] ^ mask[1]);
    }
  }
}

Deno.test("nodelay websocket: fragments reassembled, ping answered with pong", async () => {
  let pong: Uint8Array | null = null;
  const peer = rawPeer(async (conn, read) => {
    await conn.write(new Uint8Array([...frame(0x01, text("frag")), ...frame(0x89, text("p!"))]));
    pong = await read();
    await conn.write(new Uint8Array([...frame(0x00, text("men")), ...frame(0x80, text("ted"))]));
    await conn.write(frame(0x88, new Uint8Array([0x03, 0xe8])));
    await readCloseCode(read);
  });
  const ws = new NoDelayWebSocket(peer.url);
  const message = nextMessage(ws);
  const closed = closedEvent(ws);
  assertEquals((await message).data, "fragmented");
  assertEquals((await closed).code, 1000);
  await peer.done;
  const p = pong! as Uint8Array;
  assertEquals(p[0], 0x8a, "a final pong frame");
  assertEquals(p[1], 0x80 | 2, "masked, 2 bytes");
  assertEquals(String.fromCharCode(p[6] ^ p[2], p[7] ^ p[3]), "p!");
});

Deno.test("nodelay websocket: message above maxMessageBytes closes with 1009 unbuffered", async () => {
  let code: number | null = null;
  const peer = rawPeer(async (conn, read) => {
    // Announces 1 GiB (64-bit length) and sends none of it: refused from the header alone.
    const header = new Uint8Array(10);
    header[0] = 0x82;
    header[1] = 127;
    new DataView(header.buffer).setBigUint64(2, 1n << 30n);
    await conn.write(header);
    code = await readCloseCode(read);
  });
  const ws = new NoDelayWebSocket(peer.url, { maxMessageBytes: 1000 });
  let errors = 0;
  ws.onerror = () => errors++;
  const e = await closedEvent(ws);
  await peer.done;
  assertEquals([e.code, code, errors], [1009, 1009, 1]);

  let code2: number | null = null;
  const peer2 = rawPeer(async (conn, read) => {
    // Two fragments of 600 bytes: each fits, the message does not.
    const part = new Uint8Array([0x02, 126, 600 >> 8, 600 & 0xff, ...new Uint8Array(600)]);
    await conn.write(part);
    await conn.write(new Uint8Array([0x80, ...part.subarray(1)]));
    code2 = await readCloseCode(read);
  });
  const ws2 = new NoDelayWebSocket(peer2.url, { maxMessageBytes: 1000 });
  let messages = 0;
  ws2.onmessage = () => messages++;
  assertEquals((await closedEvent(ws2)).code, 1009);
  await peer2.done;
  assertEquals([code2, messages], [1009, 0]);
});

Deno.test("nodelay websocket: protocol errors close with 1002 / 1007", async () => {
  for (
    const [bytes, expected] of [
      [new Uint8Array([0x81, 0x81, 1, 2, 3, 4, 5]), 1002], // masked frame from a server
      [frame(0x80, text("x")), 1002], // continuation without a message
      [frame(0x81, new Uint8Array([0xff, 0xfe])), 1007], // text that is not UTF-8
    ] as const
  ) {
    let code: number | null = null;
    const peer = rawPeer(async (conn, read) => {
      await conn.write(bytes);
      code = await readCloseCode(read);
    });
    const ws = new NoDelayWebSocket(peer.url);
    const e = await closedEvent(ws);
    await peer.done;
    assertEquals([e.code, code], [expected, expected]);
  }
});

Deno.test("nodelay websocket: server going away mid-message is a 1006 close", async () => {
  const peer = rawPeer(async (conn) => {
    await conn.write(new Uint8Array([...frame(0x81, text("last words")), 0x82, 100, 1, 2]));
    conn.close();
  });
  const ws = new NoDelayWebSocket(peer.url);
  const got: string[] = [];
  ws.onmessage = (e) => got.push(e.data as string);
  const e = await closedEvent(ws);
  await peer.done;
  assertEquals([e.code, e.wasClean, got], [1006, false, ["last words"]]);
  assertEquals(ws.readyState, WebSocket.CLOSED);
});

Deno.test("nodelay websocket: accept() serves the built-in client; refuses plain HTTP", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: NoDelayWebSocket[] = [];
  const refusals: Error[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      NoDelayWebSocket.accept(conn).then((ws) => {
        accepted.push(ws);
        ws.binaryType = "arraybuffer";
        ws.onmessage = (e) => ws.send(e.data);
      }, (err) => refusals.push(err));
    }
  })();
  const url = `ws://127.0.0.1:${listener.addr.port}`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await opened(ws);
  ws.send("hi");
  assertEquals((await nextMessage(ws)).data, "hi");
  assertThrows(() => accepted[0].send(new Blob(["x"])), TypeError);
  ws.send(new Uint8Array(70_000).fill(7));
  assertEquals(((await nextMessage(ws)).data as ArrayBuffer).byteLength, 70_000);
  const serverClosed = closedEvent(accepted[0]);
  const closed = closedEvent(ws);
  ws.close(4002, "done");
  assertEquals((await closed).code, 4002);
  assertEquals((await serverClosed).code, 4002);

  const res = await fetch(`http://127.0.0.1:${listener.addr.port}/`);
  assertEquals(res.status, 400);
  await res.body?.cancel();
  listener.close();
  await loop.catch(() => {});
  assert(refusals[0] instanceof WebSocketProtocolError);
});

Deno.test("nodelay websocket: openWebSocket switch picks the implementation", async () => {
  const server = echoServer();
  const fast = openWebSocket(server.url);
  const builtIn = openWebSocket(server.url, { noDelay: false });
  assert(fast instanceof NoDelayWebSocket);
  assert(!(builtIn instanceof NoDelayWebSocket));
  await Promise.all([opened(fast), opened(builtIn)]);
  for (const ws of [fast, builtIn]) {
    ws.send("same surface");
    assertEquals((await nextMessage(ws)).data, "same surface");
    const closed = closedEvent(ws);
    ws.close();
    await closed;
  }
  await server.close();
});

Deno.test("nodelay websocket: a ping flood from a peer that does not read holds one pong, each ping dispatched", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const ws = await NoDelayWebSocket.accept(await listener.accept());
    let pings = 0;
    ws.addEventListener("ping", () => pings++);
    return { ws, pings: () => pings };
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await conn.write(text(
    `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const head = new Uint8Array(1024);
  await conn.read(head);
  const { ws, pings } = await server;
  // 100,000 masked pings of 125 bytes (12.7 MB of pongs if each were answered), not read.
  const ping = new Uint8Array([0x89, 0x80 | 125, 0, 0, 0, 0, ...new Uint8Array(125)]);
  const burst = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) burst.set(ping, i * ping.length);
  for (let i = 0; i < 100; i++) {
    for (let at = 0; at < burst.length;) at += await conn.write(burst.subarray(at));
  }
  // Bounded wait (a guard, not a timing): a socket that dispatches no ping event never gets there.
  for (let i = 0; i < 3000 && pings() < 100_000; i++) await new Promise((r) => setTimeout(r, 10));
  assertEquals(pings(), 100_000);
  // What the server still has to send for those pings: at most one pong owed, plus what the
  // kernel's buffers took. Read it all: a few thousand pongs at most, not 100,000.
  const closed = closedEvent(ws);
  ws.close(1000);
  let bytes = 0;
  const buf = new Uint8Array(64 * 1024);
  for (let n; (n = await conn.read(buf)) !== null;) {
    bytes += n;
    if (buf[n - 4] === 0x88 || bytes > 20_000_000) break;
  }
  conn.close();
  await closed;
  listener.close();
  assert(bytes < 127 * 50_000, `${bytes} bytes of pongs for 100,000 pings`);
});

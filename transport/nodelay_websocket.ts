/**
 * A WebSocket (RFC 6455) over a raw TCP connection with `TCP_NODELAY` set, for the latency-bound
 * job path.
 *
 * Why: Deno's built-in `WebSocket` client sets `TCP_NODELAY` to 0 on its socket (strace shows
 * it; `Deno.serve`'s accepted sockets have it on) and offers no way to change it. A small message
 * written while an earlier one is still unacknowledged then waits for the peer's delayed ACK:
 * 30-40 ms per stall on loopback (bench/websocket_nodelay_bench_script.ts measures it).
 * Why by hand and not npm `ws` (as fast in the same bench): `ws` runs through Node compat, which
 * needs more than the `net` permission the relay-source stage worker is given, and it would add
 * a dependency to every stage; the framing below is small and its tests cover fragments, limits and protocol errors. Here the socket is a
 * `Deno.TcpConn` on which `setNoDelay(true)` is called before the handshake; `wss://` runs TLS
 * over that same socket (`Deno.startTls`), so the option holds there too.
 *
 * The class implements the browser `WebSocket` interface (`readyState`, `bufferedAmount`,
 * `binaryType`, `send`, `close`, `open`/`message`/`close`/`error` events through
 * `addEventListener` and `on*`; no extensions), so {@linkcode openWebSocket} hands back either
 * this or the built-in one behind one switch and callers keep their `WebSocket` types. Incoming messages are bounded (`maxMessageBytes`,
 * default 64 MiB as Deno's own client): a larger one closes the socket with 1009 before it is
 * buffered. {@linkcode NoDelayWebSocket.accept} is the server side of the same code, over a
 * connection from `Deno.listen`. A ping is answered by one pong owed at a time (a flood of
 * pings from a peer that never reads holds one pong, not one per ping) and dispatched as a
 * `ping` event, so a server counts pings in the same rate limit as its messages.
 *
 * @module
 */

import { TransportError } from "./transport_error.ts";
import { type HttpHead, readHttpHead } from "./http_head.ts";
import { trustedCaCerts, trustedClient, untrustedCertificate } from "./tls_trust.ts";

/** Options for {@linkcode openWebSocket} and {@linkcode NoDelayWebSocket}. */
export interface NoDelayWebSocketOptions {
  /** Largest incoming message (after reassembly); larger closes with 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  /** How long `close()` waits for the peer's close frame before dropping the TCP connection. Default 2 s. */
  closeTimeoutMs?: number;
  /** Sub-protocols offered (`Sec-WebSocket-Protocol`). */
  protocols?: string[];
  /**
   * Read nothing more from the peer while over this many bytes are queued for it and not yet
   * written (`bufferedAmount`): a peer that does not read what it is sent is not read either, so
   * TCP slows its writes (docs/OPERATIONS.md "Peers that do not read"). Default: always read.
   */
  pauseReadingAboveBytes?: number;
  /** CAs trusted for `wss://` besides the system's. Default: the process's (transport/tls_trust.ts). */
  caCerts?: readonly string[];
}

/** Options for {@linkcode NoDelayWebSocket.accept}. */
export interface AcceptWebSocketOptions extends NoDelayWebSocketOptions {
  /** The request head, when the caller has read it already (to route on it). */
  head?: HttpHead;
  /** The subprotocol selected (answered in `Sec-WebSocket-Protocol`), if any. */
  protocol?: string;
}

/** Options for {@linkcode openWebSocket}. */
export interface OpenWebSocketOptions extends NoDelayWebSocketOptions {
  /**
   * Use {@linkcode NoDelayWebSocket} (TCP_NODELAY). Default true; false falls back to Deno's
   * built-in `WebSocket` (Nagle on), which is the easy revert if this transport misbehaves.
   * The environment variable `TURNPIKE_WS_NODELAY=0` does the same for a whole process.
   */
  noDelay?: boolean;
}

/** The handshake, a frame or the peer broke the WebSocket protocol. */
export class WebSocketProtocolError extends TransportError {
  override name = "WebSocketProtocolError";
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CONTROL_PAYLOAD = 125;
/**
 * Bytes read from the socket at a time, and the receive queue's first size (it grows to the
 * largest frame and shrinks back once drained). Small, because every open socket holds both:
 * at 64 KiB each they were 0.5 MiB of an agent pair's memory (four sockets; docs/SCALE.md).
 */
const READ_CHUNK = 16 * 1024;
const QUEUE_START_BYTES = 4 * 1024;
/** What a peer may still send after a close for a protocol error before the TCP connection is dropped. */
const MAX_DISCARDED_BYTES = 1024 * 1024;
/** What a peer may still send, parsed, once our close frame is out (waiting for its close frame). */
const MAX_BYTES_AFTER_CLOSE = 64 * 1024;
const encoder = new TextEncoder();
const SERVER_CLOSE_CODES = new Set([1001, 1008, 1009, 1011]);
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Whether `TURNPIKE_WS_NODELAY` turns the no-delay transport off for this process. */
function noDelayDisabledByEnv(): boolean {
  const variable = "TURNPIKE_WS_NODELAY";
  // Without env permission keep the default rather than prompting.
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return false;
  return Deno.env.get(variable) === "0";
}

/**
 * Opens a client WebSocket: a {@linkcode NoDelayWebSocket} by default, Deno's built-in one with
 * `noDelay: false` (or `TURNPIKE_WS_NODELAY=0`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoDelayWebSocket, openWebSocket } from "./nodelay_websocket.ts";
 * const ws = openWebSocket("ws://127.0.0.1:9"); // nothing listens there: it fails, then closes
 * assert(ws instanceof NoDelayWebSocket); // the default: TCP_NODELAY on
 * await new Promise((done) => ws.addEventListener("close", done));
 * ```
 */
export function openWebSocket(url: string, options: OpenWebSocketOptions = {}): WebSocket {
  if (options.noDelay === false || noDelayDisabledByEnv()) {
    return new WebSocket(url, { protocols: options.protocols, ...trustedClient() });
  }
  return new NoDelayWebSocket(url, options);
}

/** Accumulates received bytes; frames are parsed from the front. */
class ByteQueue {
  #buf = new Uint8Array(QUEUE_START_BYTES);
  #start = 0;
  #end = 0;
  get length(): number {
    return this.#end - this.#start;
  }
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }
  push(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buf.length) {
      const need = this.length + bytes.length;
      const next = need > this.#buf.length
        ? new Uint8Array(Math.max(need, this.#buf.length * 2))
        : this.#buf;
      next.set(this.view());
      this.#end = this.length;
      this.#start = 0;
      this.#buf = next;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }
  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // A large message grew it: not kept for the socket's whole life.
      if (this.#buf.length > READ_CHUNK) this.#buf = new Uint8Array(QUEUE_START_BYTES);
    }
  }
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** A connection accepted by {@linkcode NoDelayWebSocket.accept}, handed to the constructor. */
let acceptedConn: { conn: Deno.Conn; queue: ByteQueue } | undefined;

/** Thrown inside the read loop to close with a code. */
class CloseWith extends Error {
  constructor(readonly code: number, reason: string) {
    super(reason);
  }
}

/**
 * A WebSocket on a TCP connection with TCP_NODELAY (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoDelayWebSocket } from "./nodelay_websocket.ts";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = new NoDelayWebSocket(`ws://127.0.0.1:${listener.addr.port}`);
 * const server = await NoDelayWebSocket.accept(await listener.accept());
 * const got = new Promise((done) => client.addEventListener("message", done));
 * server.send("hello");
 * assert.equal(((await got) as MessageEvent).data, "hello");
 * client.close();
 * await new Promise((done) => server.addEventListener("close", done));
 * ```
 */
export class NoDelayWebSocket extends EventTarget implements WebSocket {
  /** `readyState`s: CONNECTING (in the handshake), OPEN, CLOSING (a close frame out or in), CLOSED. */
  static readonly CONNECTING: 0 = CONNECTING;
  static readonly OPEN: 1 = OPEN;
  static readonly CLOSING: 2 = CLOSING;
  static readonly CLOSED: 3 = CLOSED;
  /** The four `readyState` values on the instance too, as the built-in has them. */
  readonly CONNECTING: 0 = CONNECTING;
  readonly OPEN: 1 = OPEN;
  readonly CLOSING: 2 = CLOSING;
  readonly CLOSED: 3 = CLOSED;
  /** No extension is ever negotiated. */
  readonly extensions = "";

  /** The URL connected to (normalised); on the server side `ws://<Host header><path>`. */
  readonly url: string;
  /** How binary messages are delivered: `"blob"` (default, as the built-in) or `"arraybuffer"`. */
  binaryType: BinaryType = "blob";
  /** Called on the `open` event, before the `addEventListener` listeners. */
  onopen: ((event: Event) => void) | null = null;
  /** Called on each `message` event; `data` is a string, Blob or ArrayBuffer per `binaryType`. */
  onmessage: ((event: MessageEvent) => void) | null = null;
  /** Called on the `close` event, with the code, reason and `wasClean`. */
  onclose: ((event: CloseEvent) => void) | null = null;
  /** Called on the `error` event (a failed handshake, a protocol error); a close follows. */
  onerror: ((event: Event) => void) | null = null;
  /** The sub-protocol the server chose ("" when none). */
  protocol = "";

  #readyState = CONNECTING;
  #conn?: Deno.Conn;
  #isClient: boolean;
  #maxMessageBytes: number;
  #closeTimeoutMs: number;
  #pauseReadingAbove: number;
  #caCerts: readonly string[];
  /** The read loop, waiting for `bufferedAmount` to come down (see `pauseReadingAboveBytes`). */
  #drainWaiters: (() => void)[] = [];
  /** Frames, or a frame's header and payload as two parts, in the order they leave. */
  #queued: Uint8Array[] = [];
  /** Payload bytes in `#queued`. */
  #queuedPayload = 0;
  #bufferedAmount = 0;
  #writing = false;
  #closeSent = false;
  #closeTimer?: ReturnType<typeof setTimeout>;
  #closeCode = 1006;
  #closeReason = "";
  #wasClean = false;

  /** Opens a client connection to `url` (`ws://` or `wss://`). */
  constructor(url: string, options: NoDelayWebSocketOptions = {}) {
    super();
    this.#maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.#pauseReadingAbove = options.pauseReadingAboveBytes ?? Infinity;
    this.#caCerts = options.caCerts ?? trustedCaCerts();
    const accepted = acceptedConn;
    acceptedConn = undefined;
    this.#isClient = accepted === undefined;
    if (accepted) {
      this.url = url;
      this.#conn = accepted.conn;
      this.#readyState = OPEN;
      queueMicrotask(() => this.#run(accepted.queue));
      return;
    }
    const parsed = new URL(url); // throws on a malformed URL, like the built-in
    if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
      throw new SyntaxError(`WebSocket URL must be ws:// or wss://, got "${url}"`);
    }
    if (parsed.hash) throw new SyntaxError(`WebSocket URL must not have a fragment: "${url}"`);
    this.url = parsed.href;
    this.#connect(parsed, options.protocols ?? []).then(
      (rest) => this.#run(rest),
      (err: Error) => this.#fail(err),
    );
  }

  /**
   * Server side: completes the upgrade of a connection from `Deno.listen` (sets TCP_NODELAY,
   * reads the request head, answers 101) and returns the open socket (the class's example).
   * @throws {WebSocketProtocolError} when the request is not a WebSocket upgrade (answered 400).
   */
  static async accept(
    conn: Deno.Conn,
    options: AcceptWebSocketOptions = {},
  ): Promise<NoDelayWebSocket> {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    let head: HttpHead;
    try {
      head = options.head ?? await readHttpHead(conn, { maxBytes: MAX_HEAD_BYTES });
    } catch (err) {
      conn.close();
      throw new WebSocketProtocolError((err as Error).message);
    }
    const key = head.headers.get("sec-websocket-key");
    if (!isWebSocketUpgrade(head) || head.headers.get("sec-websocket-version") !== "13" || !key) {
      await writeAll(conn, encoder.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
        .catch(() => {});
      conn.close();
      throw new WebSocketProtocolError("not a WebSocket upgrade request");
    }
    const path = head.startLine.split(" ")[1] ?? "/";
    const protocol = options.protocol ? `Sec-WebSocket-Protocol: ${options.protocol}\r\n` : "";
    await writeAll(
      conn,
      encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n${protocol}\r\n`,
      ),
    );
    const queue = new ByteQueue();
    queue.push(head.rest);
    acceptedConn = { conn, queue };
    const socket = new NoDelayWebSocket(
      `ws://${head.headers.get("host") ?? "localhost"}${path}`,
      options,
    );
    socket.protocol = options.protocol ?? "";
    return socket;
  }

  /** {@linkcode NoDelayWebSocket.CONNECTING}, `OPEN`, `CLOSING` or `CLOSED`. */
  get readyState(): number {
    return this.#readyState;
  }

  /** Payload bytes queued by `send` and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** Queues a text (string) or binary message; a Blob is refused (TypeError): send its bytes. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#readyState === CONNECTING) {
      throw new DOMException("WebSocket is still connecting", "InvalidStateError");
    }
    // Reading a Blob is asynchronous and would reorder messages; no caller sends one.
    if (data instanceof Blob) throw new TypeError("NoDelayWebSocket does not send Blobs");
    if (this.#readyState !== OPEN) return; // the built-in discards after close as well
    if (typeof data === "string") {
      this.#queueFrame(0x1, encoder.encode(data), true);
    } else if (ArrayBuffer.isView(data)) {
      this.#queueFrame(0x2, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      this.#queueFrame(0x2, new Uint8Array(data));
    }
  }

  /**
   * Starts the closing handshake (or aborts a connection still being opened). A client may use
   * 1000 and 3000-4999, as in browsers; a server also the RFC 6455 codes it is the one to send
   * (1001 going away, 1008 policy, 1009 too big, 1011 internal error).
   */
  close(code?: number, reason = ""): void {
    const serverCode = !this.#isClient && code !== undefined && SERVER_CLOSE_CODES.has(code);
    if (code !== undefined && !serverCode && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(`invalid close code ${code}`, "InvalidAccessError");
    }
    const reasonBytes = encoder.encode(reason);
    if (reasonBytes.length > 123) throw new DOMException("close reason too long", "SyntaxError");
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#closeCode = 1006;
      this.#conn?.close(); // #connect notices and fails; without a conn yet it checks the state
      return;
    }
    this.#readyState = CLOSING;
    this.#sendClose(code, reasonBytes);
  }

  #sendClose(code: number | undefined, reason: Uint8Array = new Uint8Array()) {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const payload = new Uint8Array(code === undefined ? 0 : 2 + reason.length);
    if (code !== undefined) {
      new DataView(payload.buffer).setUint16(0, code);
      payload.set(reason, 2);
    }
    this.#queueFrame(0x8, payload);
    // A peer that never answers the close frame must not keep the socket (and a test) alive.
    this.#closeTimer = setTimeout(() => this.#dropConn(), this.#closeTimeoutMs);
  }

  async #connect(url: URL, protocols: string[]): Promise<ByteQueue> {
    const secure = url.protocol === "wss:";
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (secure ? 443 : 80));
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    let conn: Deno.Conn = tcp;
    if (this.#readyState !== CONNECTING) {
      tcp.close();
      throw new WebSocketProtocolError("closed before the connection was established");
    }
    this.#conn = conn;
    if (secure) {
      conn = await Deno.startTls(tcp, { hostname, caCerts: [...this.#caCerts] });
      this.#conn = conn;
    }
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const request = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...(protocols.length ? [`Sec-WebSocket-Protocol: ${protocols.join(", ")}`] : []),
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, encoder.encode(request));
    const head = await readHttpHead(conn, { maxBytes: MAX_HEAD_BYTES }).catch((err: Error) => {
      throw new WebSocketProtocolError(err.message);
    });
    const queue = new ByteQueue();
    queue.push(head.rest);
    const status = head.startLine.split(" ")[1];
    if (status !== "101") {
      throw new WebSocketProtocolError(`server answered "${head.startLine}" instead of 101`);
    }
    const headers = head.headers;
    if (headers.get("sec-websocket-accept") !== await acceptKey(key)) {
      throw new WebSocketProtocolError("server sent a wrong Sec-WebSocket-Accept");
    }
    this.protocol = headers.get("sec-websocket-protocol") ?? "";
    if (this.#readyState !== CONNECTING) {
      throw new WebSocketProtocolError("closed before the handshake completed");
    }
    return queue;
  }

  /** The connection could not be established: error, then close 1006, as the built-in does. */
  #fail(failure: Error) {
    const err = untrustedCertificate(failure, this.url) ?? failure;
    this.#dropConn();
    this.#readyState = CLOSED;
    this.#emit("error", new ErrorEvent("error", { message: err.message, error: err }));
    this.#emitClose();
  }

  async #run(queue: ByteQueue) {
    if (this.#isClient) {
      this.#readyState = OPEN;
      this.#emit("open", new Event("open"));
    }
    const conn = this.#conn!;
    const chunk = new Uint8Array(READ_CHUNK);
    const fragments: Uint8Array[] = [];
    let fragmentOpcode = 0;
    let fragmentBytes = 0;
    let afterClose = 0;
    try {
      reading: while (true) {
        let frame: Frame | undefined;
        while ((frame = this.#parseFrame(queue)) !== undefined) {
          const { fin, opcode, payload } = frame;
          if (opcode >= 0x8) {
            if (this.#onControl(opcode, payload)) break reading;
            continue;
          }
          if (opcode === 0x0 && fragmentOpcode === 0) {
            throw new CloseWith(1002, "continuation frame without a message");
          }
          if (opcode !== 0x0 && fragmentOpcode !== 0) {
            throw new CloseWith(1002, "new message inside a fragmented one");
          }
          if (opcode !== 0x0 && opcode !== 0x1 && opcode !== 0x2) {
            throw new CloseWith(1002, `unknown opcode ${opcode}`);
          }
          fragmentBytes += payload.length;
          if (fragmentBytes > this.#maxMessageBytes) {
            throw new CloseWith(1009, `message above ${this.#maxMessageBytes} bytes`);
          }
          if (opcode !== 0x0) fragmentOpcode = opcode;
          fragments.push(payload.slice());
          if (!fin) continue;
          const message = fragments.length === 1 ? fragments[0] : concat(fragments, fragmentBytes);
          const type = fragmentOpcode;
          fragments.length = 0;
          fragmentOpcode = fragmentBytes = 0;
          if (this.#readyState === OPEN) this.#deliver(type, message);
        }
        while (this.#bufferedAmount > this.#pauseReadingAbove && this.#conn) {
          await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
        }
        const n = await conn.read(chunk);
        if (n === null) break;
        // Once our close frame is out, a peer that keeps sending (a flood that was closed for
        // it) is read for at most 64 KiB more, then dropped: closing costs a bounded amount.
        if (this.#closeSent && (afterClose += n) > MAX_BYTES_AFTER_CLOSE) break;
        queue.push(chunk.subarray(0, n));
      }
    } catch (err) {
      if (err instanceof CloseWith) {
        this.#closeCode = err.code;
        this.#closeReason = err.message;
        if (this.#readyState === OPEN) this.#readyState = CLOSING;
        this.#sendClose(err.code, encoder.encode(err.message.slice(0, 123)));
        await this.#flushed();
        await this.#discardUntilPeerCloses(conn, chunk);
        this.#emit("error", new ErrorEvent("error", { message: err.message }));
      }
      // Any other error is the connection breaking: closed abnormally (1006) below.
    }
    await this.#flushed();
    this.#dropConn();
    this.#readyState = CLOSED;
    this.#emitClose();
  }

  /** Handles a control frame; true when the connection is finished. */
  #onControl(opcode: number, payload: Uint8Array): boolean {
    if (opcode === 0x9) {
      if (this.#readyState !== OPEN) return false;
      // One pong owed at a time, for the latest ping (RFC 6455 section 5.5.3 allows it): a peer
      // that pings and never reads cannot make pongs pile up in memory.
      this.#pong = payload.slice();
      if (!this.#writing) this.#writeLoop();
      // Listeners (the town's sessions) count pings in the same rate limit as messages.
      this.dispatchEvent(new Event("ping"));
      return false;
    }
    if (opcode === 0xA) return false;
    if (opcode !== 0x8) throw new CloseWith(1002, `unknown control opcode ${opcode}`);
    if (payload.length === 1) throw new CloseWith(1002, "close frame with a 1-byte payload");
    let code = 1005;
    let reason = "";
    if (payload.length >= 2) {
      code = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
      try {
        reason = strictDecoder.decode(payload.subarray(2));
      } catch {
        throw new CloseWith(1007, "close reason is not UTF-8");
      }
    }
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#wasClean = true;
    this.#readyState = CLOSING;
    // Echo the code (RFC 6455 §5.5.1), then let the TCP connection go once it is written.
    this.#sendClose(code === 1005 ? undefined : code);
    return true;
  }

  #deliver(opcode: number, payload: Uint8Array) {
    let data: string | ArrayBuffer | Blob;
    if (opcode === 0x1) {
      try {
        data = strictDecoder.decode(payload);
      } catch {
        throw new CloseWith(1007, "text message is not UTF-8");
      }
    } else {
      const buffer = payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength
        ? payload.buffer as ArrayBuffer
        : payload.slice().buffer as ArrayBuffer;
      data = this.binaryType === "arraybuffer" ? buffer : new Blob([buffer]);
    }
    this.#emit("message", new MessageEvent("message", { data, origin: this.url }));
  }

  /** One frame from the front of `queue`, or undefined when it is not all there yet. */
  #parseFrame(queue: ByteQueue): Frame | undefined {
    const bytes = queue.view();
    if (bytes.length < 2) return undefined;
    const fin = (bytes[0] & 0x80) !== 0;
    if ((bytes[0] & 0x70) !== 0) throw new CloseWith(1002, "reserved bits set (no extension)");
    const opcode = bytes[0] & 0x0f;
    const masked = (bytes[1] & 0x80) !== 0;
    if (masked === this.#isClient) {
      throw new CloseWith(
        1002,
        this.#isClient ? "server frame is masked" : "client frame is not masked",
      );
    }
    let length = bytes[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (bytes.length < 4) return undefined;
      length = (bytes[2] << 8) | bytes[3];
      offset = 4;
    } else if (length === 127) {
      if (bytes.length < 10) return undefined;
      const big = new DataView(bytes.buffer, bytes.byteOffset + 2, 8).getBigUint64(0);
      if (big > BigInt(this.#maxMessageBytes)) {
        throw new CloseWith(1009, `message above ${this.#maxMessageBytes} bytes`);
      }
      length = Number(big);
      offset = 10;
    }
    if (opcode >= 0x8 && (length > MAX_CONTROL_PAYLOAD || !fin)) {
      throw new CloseWith(1002, "control frame too long or fragmented");
    }
    // Refuse before buffering: the bound must hold on what is held in memory, not after.
    if (length > this.#maxMessageBytes) {
      throw new CloseWith(1009, `message above ${this.#maxMessageBytes} bytes`);
    }
    const maskAt = offset;
    if (masked) offset += 4;
    if (bytes.length < offset + length) return undefined;
    const payload = bytes.subarray(offset, offset + length);
    if (masked) unmask(payload, bytes.subarray(maskAt, maskAt + 4));
    queue.consume(offset + length);
    return { fin, opcode, payload };
  }

  /** `owned`: nobody else holds `payload`, so it can be queued as is instead of copied. */
  #queueFrame(opcode: number, payload: Uint8Array, owned = false) {
    // A server's frame is its header then the payload unchanged: queued as two parts, joined
    // once per write (a flush of many small events is one copy, not two).
    if (owned && !this.#isClient) this.#queued.push(frameHeader(opcode, payload.length), payload);
    else this.#queued.push(encodeFrame(opcode, payload, this.#isClient));
    this.#queuedPayload += payload.length;
    this.#bufferedAmount += payload.length;
    if (!this.#writing) this.#writeLoop();
  }

  async #writeLoop() {
    this.#writing = true;
    try {
      while ((this.#queued.length > 0 || this.#pong) && this.#conn) {
        // Everything queued leaves in one write: fewer syscalls, and with NODELAY no waiting.
        const { bytes, payloadBytes } = this.#takeQueued();
        await writeAll(this.#conn, bytes);
        this.#bufferedAmount -= payloadBytes;
        this.#wakeReader();
      }
    } catch {
      this.#queued = [];
      this.#queuedPayload = 0;
      this.#bufferedAmount = 0;
      this.#dropConn(); // the read loop sees the connection gone and closes with 1006
    } finally {
      this.#writing = false;
      this.#flushWaiters.splice(0).forEach((w) => w());
    }
  }

  /** The queue joined, a pong owed first (apart: a suspended write keeps its frames, too). */
  #takeQueued(): { bytes: Uint8Array; payloadBytes: number } {
    if (this.#pong && !this.#closeSent) {
      this.#queued.unshift(encodeFrame(0xA, this.#pong, this.#isClient));
    }
    const [frames, payloadBytes] = [this.#queued, this.#queuedPayload];
    [this.#queued, this.#queuedPayload, this.#pong] = [[], 0, undefined];
    return { bytes: frames.length === 1 ? frames[0] : concat(frames), payloadBytes };
  }

  /** Lets a read loop paused for `pauseReadingAboveBytes` look again. */
  #wakeReader() {
    if (this.#drainWaiters.length > 0) this.#drainWaiters.splice(0).forEach((w) => w());
  }

  #flushWaiters: (() => void)[] = [];
  /** The payload of the pong owed for the latest ping, not yet queued for writing. */
  #pong?: Uint8Array;

  #flushed(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /**
   * After a close for a protocol error: our side is shut for writing and what the peer still
   * sends is read and dropped, for at most `closeTimeoutMs` and 1 MiB. Closing with unread bytes would
   * send a TCP reset, and the peer would lose the close frame that says why.
   */
  async #discardUntilPeerCloses(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
    const timer = setTimeout(() => this.#dropConn(), this.#closeTimeoutMs);
    try {
      await conn.closeWrite();
      let left = MAX_DISCARDED_BYTES;
      for (let n; left > 0 && (n = await conn.read(chunk)) !== null;) left -= n;
    } catch {
      // Already gone, or dropped by the timer.
    } finally {
      clearTimeout(timer);
    }
  }

  #dropConn() {
    clearTimeout(this.#closeTimer);
    const conn = this.#conn;
    this.#conn = undefined;
    this.#wakeReader();
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }

  #emitClose() {
    clearTimeout(this.#closeTimer);
    this.#emit(
      "close",
      new CloseEvent("close", {
        code: this.#closeCode,
        reason: this.#closeReason,
        wasClean: this.#wasClean,
      }),
    );
  }

  #emit(type: "open" | "message" | "close" | "error", event: Event) {
    const handler = {
      open: this.onopen,
      message: this.onmessage,
      close: this.onclose,
      error: this.onerror,
    }[type] as ((e: Event) => void) | null;
    try {
      handler?.call(this, event);
    } catch (err) {
      reportError(err);
    }
    this.dispatchEvent(event);
  }
}

/** An unmasked frame's header (FIN set) for a payload of `len` bytes. */
function frameHeader(opcode: number, len: number, extra = 0): Uint8Array {
  const header = new Uint8Array((len < 126 ? 2 : len < 65536 ? 4 : 10) + extra);
  header[0] = 0x80 | opcode;
  const view = new DataView(header.buffer);
  if (len < 126) {
    header[1] = len;
  } else if (len < 65536) {
    header[1] = 126;
    view.setUint16(2, len);
  } else {
    header[1] = 127;
    view.setBigUint64(2, BigInt(len));
  }
  return header;
}

function encodeFrame(opcode: number, payload: Uint8Array, mask: boolean): Uint8Array {
  const header = frameHeader(opcode, payload.length, mask ? 4 : 0);
  const frame = new Uint8Array(header.length + payload.length);
  frame.set(header);
  let offset = header.length;
  if (mask) {
    frame[1] |= 0x80;
    offset -= 4;
    const key = crypto.getRandomValues(new Uint8Array(4));
    frame.set(key, offset);
    offset += 4;
    frame.set(payload, offset);
    unmask(frame.subarray(offset), key);
  } else {
    frame.set(payload, offset);
  }
  return frame;
}

/** Payload length of an encoded frame (for bufferedAmount bookkeeping). */
function unmask(payload: Uint8Array, key: Uint8Array) {
  for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
}

function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let n = 0; n < bytes.length;) n += await conn.write(bytes.subarray(n));
}

/**
 * Whether a request head asks for a WebSocket (RFC 6455 section 4.2.1: GET, `Upgrade:
 * websocket`, `Connection` naming `upgrade`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWebSocketUpgrade } from "./nodelay_websocket.ts";
 * const headers = new Map([["upgrade", "websocket"], ["connection", "keep-alive, Upgrade"]]);
 * assert(isWebSocketUpgrade({ startLine: "GET / HTTP/1.1", headers, lines: [], rest: Uint8Array.of() }));
 * ```
 */
export function isWebSocketUpgrade(head: HttpHead): boolean {
  return head.startLine.startsWith("GET ") &&
    head.headers.get("upgrade")?.toLowerCase() === "websocket" &&
    (head.headers.get("connection") ?? "").toLowerCase().split(",").some((t) =>
      t.trim() === "upgrade"
    );
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

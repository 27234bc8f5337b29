/**
 * A WebSocket-only listener on `Deno.listen`, bounded where `Deno.serve` cannot be: the
 * connection caps are applied at accept (before a byte is read), the HTTP head must arrive
 * within `handshakeTimeoutMs`, every message (fragments included) is capped while it is read
 * ({@linkcode NoDelayWebSocket}), and an accept that fails (EMFILE/ENFILE: out of file
 * descriptors) is counted and retried after a pause instead of ending the listener.
 *
 * @module
 */
import { ConnectionGate } from "./connection_gate.ts";
import { NoDelayWebSocket } from "./nodelay_websocket.ts";

/** Options for {@linkcode listenWebSockets}. */
export interface WebSocketListenerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest incoming message, fragments included (larger closes with 1009). */
  maxMessageBytes: number;
  /** Time for the HTTP upgrade request to arrive. */
  handshakeTimeoutMs: number;
  maxConnectionsPerAddress: number;
  maxConnections: number;
  /** A reason to refuse an address before the handshake (answered HTTP 429), or undefined. */
  refuse?: (address: string) => string | undefined;
  /** Each accepted WebSocket with the remote address. */
  onSocket: (socket: WebSocket, address: string) => void;
  /** Told about accept failures (they are survived). */
  log?: (line: string) => void;
}

/** What the listener shed so far. */
export interface WebSocketListenerStats {
  connectionsOpen: number;
  /** Refused by the caps. */
  connectionsRefusedTotal: number;
  /** Refused by `refuse`. */
  addressesRefusedTotal: number;
  /** Handshakes that did not complete in time or were not WebSocket upgrades. */
  handshakesFailedTotal: number;
  /** Accepts that failed (e.g. out of file descriptors) and were retried. */
  acceptErrorsTotal: number;
}

/** A running listener. */
export interface WebSocketListener {
  port: number;
  stats(): WebSocketListenerStats;
  /** Stops accepting (open sockets are the caller's to close). */
  close(): void;
}

/** Pause after a failed accept: a descriptor must be freed before another accept can work. */
const ACCEPT_RETRY_MS = 100;
/** How long a refused client may take to send its request before the answer (avoids an RST). */
const REFUSAL_READ_MS = 1000;

/**
 * Listens for WebSockets.
 *
 * @example
 * ```ts
 * const listener = listenWebSockets({
 *   hostname: "127.0.0.1", port: 0, maxMessageBytes: 65536, handshakeTimeoutMs: 5000,
 *   maxConnectionsPerAddress: 64, maxConnections: 4096,
 *   onSocket: (ws) => ws.addEventListener("message", (e) => ws.send(e.data)),
 * });
 * listener.close();
 * ```
 */
export function listenWebSockets(options: WebSocketListenerOptions): WebSocketListener {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const gate = new ConnectionGate({
    maxPerAddress: options.maxConnectionsPerAddress,
    maxTotal: options.maxConnections,
  });
  const stats = { addressesRefusedTotal: 0, handshakesFailedTotal: 0, acceptErrorsTotal: 0 };
  let closed = false;

  const handle = async (conn: Deno.Conn) => {
    const address = "hostname" in conn.remoteAddr ? conn.remoteAddr.hostname : "unknown";
    const refusal = options.refuse?.(address);
    if (refusal !== undefined) {
      stats.addressesRefusedTotal++;
      return await answerAndClose(conn, 429, refusal);
    }
    const release = gate.open(address);
    if (typeof release !== "function") {
      const text = release === "total"
        ? `too many connections (max ${options.maxConnections})`
        : `too many connections from this address (max ${options.maxConnectionsPerAddress})`;
      return await answerAndClose(conn, 503, text);
    }
    const timer = setTimeout(() => conn.close(), options.handshakeTimeoutMs);
    let socket: NoDelayWebSocket;
    try {
      socket = await NoDelayWebSocket.accept(conn, { maxMessageBytes: options.maxMessageBytes });
    } catch {
      stats.handshakesFailedTotal++;
      release();
      return;
    } finally {
      clearTimeout(timer);
    }
    socket.addEventListener("close", release);
    options.onSocket(socket, address);
  };

  const acceptLoop = async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed || err instanceof Deno.errors.BadResource) return;
        stats.acceptErrorsTotal++;
        options.log?.(`accept failed (${(err as Error).message}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      handle(conn).catch(() => {});
    }
  };
  void acceptLoop();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    stats: () => ({
      connectionsOpen: gate.size,
      connectionsRefusedTotal: gate.refusedTotal,
      ...stats,
    }),
    close() {
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Reads what the client sent (briefly), answers with a plain HTTP status and closes. */
async function answerAndClose(conn: Deno.Conn, status: number, text: string): Promise<void> {
  const timer = setTimeout(() => conn.close(), REFUSAL_READ_MS);
  try {
    await conn.read(new Uint8Array(4096));
    const body = new TextEncoder().encode(text + "\n");
    const reason = status === 429 ? "Too Many Requests" : "Service Unavailable";
    const head = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${body.byteLength}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n`;
    await conn.write(new Uint8Array([...new TextEncoder().encode(head), ...body]));
  } catch {
    // The client left, or the read timed out: nothing to answer.
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

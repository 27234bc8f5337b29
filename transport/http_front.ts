/**
 * A listener on `Deno.listen` (or, for TLS, transport/tls_listener.ts) that bounds what `Deno.serve` cannot: connections are capped per
 * address and in total at accept (before a byte is read), the request head must arrive whole
 * within `headTimeoutMs` and be at most `maxHeadBytes`, a WebSocket message is capped while it
 * is read, fragments included ({@linkcode NoDelayWebSocket}), and a failed accept (EMFILE/ENFILE)
 * is counted and retried instead of ending the listener.
 *
 * A WebSocket upgrade is answered here (`upgrade` picks the message cap and subprotocol). Any
 * other request is passed, head and body, to `handler` on an internal `Deno.serve` bound to a
 * Unix socket in a private (0700) directory, with `Connection: close` put in its head: each
 * connection carries one request, so every request's head passes the deadline here, and a
 * connection idle in both directions for `idleTimeoutMs` is closed. Without `handler`, a plain
 * request is answered 400. A connection the caps (per address, per network prefix, in total)
 * would refuse first closes a WebSocket for itself, when `onSocket` said which may go: an idle
 * one in the same scope, or, the whole listener full, one of the network prefix holding the most
 * (a fair share per /24 or /48, whatever the sockets do), or a quiet one
 * (transport/socket_eviction.ts): connections that only hold a slot, or ping to look alive,
 * cannot keep new clients out. docs/OPERATIONS.md lists the limits.
 *
 * @module
 */
import { sleep } from "../protocol/backoff.ts";
import { ConnectionGate, type ConnectionRefusal } from "./connection_gate.ts";
import { type HttpHead, HttpHeadError, readHttpHead } from "./http_head.ts";
import { isWebSocketUpgrade, NoDelayWebSocket } from "./nodelay_websocket.ts";
import { IdleSweeper } from "./idle_sweeper.ts";
import {
  answerAndClose,
  closeQuietly,
  hostHeaderValue,
  passThrough,
  REFUSAL_READ_MS,
  startInnerServer,
} from "./http_pass_through.ts";
import { readProxyHeaderInTime } from "./proxy_protocol.ts";
import { ReloadableTlsListener, type SecuredConnection, type TlsKeyPair } from "./tls_listener.ts";
import { type EvictionCandidate, SocketEviction } from "./socket_eviction.ts";

export type { EvictionCandidate } from "./socket_eviction.ts";

/** How an accepted WebSocket is served. */
export interface WebSocketRoute {
  /** Largest incoming message, fragments included (larger closes with 1009). */
  maxMessageBytes: number;
  /** The subprotocol selected from the client's offer, if any. */
  protocol?: string;
  /** Read nothing more while over this many bytes wait to be sent to the peer (nodelay_websocket.ts). */
  pauseReadingAboveBytes?: number;
  /**
   * Called with the open socket. What it returns says when the socket may be closed to admit
   * a new connection while the caps are reached (see {@linkcode EvictionCandidate}).
   */
  onSocket: (socket: WebSocket) => void | EvictionCandidate;
}

/** An answer that refuses a request (status and a line of text). */
export interface HttpRefusal {
  status: number;
  text: string;
}

/** Options for {@linkcode listenHttpFront}. */
export interface HttpFrontOptions {
  /** The TCP address (unused with `path`). */
  hostname?: string;
  /** 0 picks a free port (unused with `path`). */
  port?: number;
  /**
   * A Unix socket to listen on instead of a TCP port (a job's model gateway,
   * roles/agent_work/provider/agent_gateway.ts): every connection then has the one address
   * `unknown`, so `maxConnections` is the cap, and a refused connection is answered and closed at
   * once (a Unix socket closed with its request unread sends no reset), so it holds no descriptor
   * meanwhile.
   */
  path?: string;
  /**
   * Share the port with other processes (SO_REUSEPORT, Linux; needs `--unstable-net`): the
   * kernel spreads new connections over them (a town on several processes, docs/OPERATIONS.md).
   */
  reusePort?: boolean;
  /**
   * Serve TLS (`wss://`, `https://`) with this certificate, replaced while running by
   * {@linkcode HttpFront.replaceCertificate} (transport/tls_listener.ts). Absent: plain TCP.
   */
  tls?: TlsKeyPair;
  /**
   * Addresses of proxies (a TLS terminator, a load balancer) whose connections start with a PROXY
   * header (transport/proxy_protocol.ts): its source address is the connection's for every cap.
   */
  trustedProxies?: readonly string[];
  /** Time for a request head to arrive whole. */
  headTimeoutMs: number;
  /** Largest request head (answered 431 above). Default 16 KiB. */
  maxHeadBytes?: number;
  /** A passed-through request idle both ways this long is closed. Default 60 s. */
  idleTimeoutMs?: number;
  maxConnectionsPerAddress: number;
  /** Open connections per network prefix (IPv4 /24, IPv6 /48). Default no cap. */
  maxConnectionsPerPrefix?: number;
  maxConnections: number;
  /** Requests passed to `handler` at once (each holds two more descriptors). Default a quarter of `maxConnections`. */
  maxPassedThrough?: number;
  /** Connections from an address on the service's other processes (transport/connection_gate.ts). */
  connectionsElsewhere?: (address: string) => number;
  /**
   * Takes a slot for `address` in a count the service's processes share (a town on several
   * processes: state/postgres/postgres_connection_counts.ts), after the caps here admitted it: a release
   * function (called once, on close), or "address" when the shared count is at its cap (the
   * connection is refused as over the per-address cap). A rejection (the count cannot be
   * reached) leaves the decision to the caps here.
   */
  sharedSlot?: (address: string) => Promise<(() => void) | "address">;
  /** A reason to refuse an address before its request is read (answered 429), or undefined. */
  refuse?: (address: string) => string | undefined;
  /** Routes a WebSocket upgrade, or refuses it. Absent: upgrades are answered 400. */
  upgrade?: (
    head: HttpHead,
    address: string,
  ) => WebSocketRoute | HttpRefusal | Promise<WebSocketRoute | HttpRefusal>;
  /** Serves every other request. Absent: they are answered 400. */
  handler?: (request: Request) => Response | Promise<Response>;
  /**
   * Paths whose `GET`/`HEAD` requests an operator must reach under a flood (e.g. `/health`):
   * they skip the pass-through cap, and when the connection caps refuse a connection it still
   * gets {@linkcode OPERATOR_LANE_SLOTS} slots and a short deadline to ask for one of these.
   */
  operatorPaths?: readonly string[];
  /** Told about accept failures and restarts (they are survived). */
  log?: (line: string) => void;
}

/** What the front has seen and shed so far. */
export interface HttpFrontStats {
  connectionsOpen: number;
  /** Refused by the connection caps. */
  connectionsRefusedTotal: number;
  /** Refused by `refuse`. */
  addressesRefusedTotal: number;
  /** Heads that did not arrive whole in time, were too large or malformed, or were refused. */
  handshakesFailedTotal: number;
  /** Accepts that failed (e.g. out of file descriptors) and were retried. */
  acceptErrorsTotal: number;
  /** Passed-through requests closed for idling. */
  idleClosedTotal: number;
  /** Requests passed to the handler. */
  requestsPassedTotal: number;
  /** Times the internal HTTP server failed and was started again. */
  innerRestartsTotal: number;
  /** Operator requests served on connections the caps refused. */
  operatorLaneServedTotal: number;
  /** WebSockets closed to admit a new connection while the caps were reached (any reason). */
  idleEvictedTotal: number;
}

/** A running front. */
export interface HttpFront {
  /** The TCP port (0 on a Unix socket). */
  port: number;
  stats(): HttpFrontStats;
  /** Open connections per remote address. */
  addressCounts(): [string, number][];
  /**
   * New connections get `keyPair`; open ones keep theirs. Throws when the front serves no TLS,
   * or the pair is not a usable certificate and key (the old one stays).
   */
  replaceCertificate(keyPair: TlsKeyPair): void;
  /** Stops accepting and the internal server (open WebSockets are the caller's to close). */
  close(): Promise<void>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** A connection to speak HTTP on (over TLS on a TLS port) and what closes all of it. */
type Session = Omit<SecuredConnection, "conn"> & { conn: Deno.Conn };
/** Pause after a failed accept: a descriptor must be freed before another accept can work. */
const ACCEPT_RETRY_MS = 100;
/**
 * Connections over the caps that may still ask for an operator path at once: enough for a
 * health probe and a metrics scraper, too few to matter as descriptors (each holds three).
 */
export const OPERATOR_LANE_SLOTS = 8;
/** Accepts in a row before the accept loop gives the event loop a turn (see the loop). */
const ACCEPTS_PER_TURN = 4;
/** An operator request is a request line and a few headers. */
const OPERATOR_HEAD_BYTES = 4096;

/**
 * Listens.
 *
 * @example
 * ```ts
 * const front = listenHttpFront({
 *   hostname: "127.0.0.1", port: 0, headTimeoutMs: 10_000,
 *   maxConnectionsPerAddress: 64, maxConnections: 4096,
 *   upgrade: () => ({ maxMessageBytes: 65536, onSocket: (ws) => ws.addEventListener("message", (e) => ws.send(e.data)) }),
 *   handler: () => new Response("ok\n"),
 * });
 * await front.close();
 * ```
 */
export function listenHttpFront(options: HttpFrontOptions): HttpFront {
  const { hostname = "0.0.0.0", port = 0, tls, path } = options;
  const listener: Deno.Listener | ReloadableTlsListener = path !== undefined
    ? Deno.listen({ transport: "unix", path })
    : tls === undefined
    ? Deno.listen({ hostname, port, ...(options.reusePort ? { reusePort: true } : {}) })
    : new ReloadableTlsListener({
      hostname,
      port,
      keyPair: tls,
      shared: options.reusePort,
      log: options.log,
    });
  const readRefusedFirst = path === undefined;
  const gate = new ConnectionGate({
    maxPerAddress: options.maxConnectionsPerAddress,
    maxPerPrefix: options.maxConnectionsPerPrefix,
    maxTotal: options.maxConnections,
    elsewhere: options.connectionsElsewhere,
  });
  const inner = options.handler &&
    startInnerServer(options.handler, tls !== undefined, options.log);
  const idle = new IdleSweeper(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  const maxPassed = options.maxPassedThrough ??
    Math.max(16, Math.floor(options.maxConnections / 4));
  const operatorPaths = new Set(options.operatorPaths ?? []);
  let passing = 0;
  /** Refused connections the lane is reading a head from, oldest first. */
  const laneWaiting = new Set<Session>();
  let laneServing = 0;
  const stats = {
    addressesRefusedTotal: 0,
    handshakesFailedTotal: 0,
    acceptErrorsTotal: 0,
    requestsPassedTotal: 0,
    operatorLaneServedTotal: 0,
    idleEvictedTotal: 0,
  };
  const eviction = new SocketEviction({ onEvicted: () => stats.idleEvictedTotal++ });
  const isOperator = (head: HttpHead) => operatorPaths.has(operatorPath(head) ?? "");
  const ownHost = path === undefined ? hostHeaderValue(listener.addr as Deno.NetAddr) : "localhost";
  let closed = false;

  /** TLS for an accepted connection that passed the caps (none on a plain port). */
  const secure = async (raw: Deno.Conn): Promise<Session> =>
    listener instanceof ReloadableTlsListener
      ? await listener.secure(raw as Deno.TcpConn)
      : { conn: raw, close: () => closeQuietly(raw) };

  /**
   * Answers a refused connection and closes it; on a TLS port it is closed without an answer:
   * the answer would need a handshake, two more descriptors and the CPU a flood wants spent.
   */
  const refuseRaw = async (raw: Deno.Conn, status: number, text: string): Promise<void> => {
    if (listener instanceof ReloadableTlsListener) return closeQuietly(raw);
    await answerAndClose(raw, status, text, readRefusedFirst);
  };

  const route = async (
    conn: Deno.Conn,
    head: HttpHead,
    address: string,
    release: () => void,
  ): Promise<void> => {
    if (isWebSocketUpgrade(head)) {
      const routed = await options.upgrade?.(head, address) ??
        { status: 400, text: "this port takes no WebSocket" };
      if (!("onSocket" in routed)) {
        stats.handshakesFailedTotal++;
        return await answerAndClose(conn, routed.status, routed.text, false);
      }
      const socket = await NoDelayWebSocket.accept(conn, { ...routed, head });
      const done = new Promise<void>((resolve) =>
        socket.addEventListener("close", () => resolve())
      );
      const candidate = routed.onSocket(socket);
      if (candidate) eviction.add({ address, candidate, release, socket });
      return await done;
    }
    if (inner === undefined) {
      stats.handshakesFailedTotal++;
      return await answerAndClose(conn, 400, "this port takes WebSocket upgrades only", false);
    }
    if (isOperator(head)) {
      stats.requestsPassedTotal++;
      return await passThrough(conn, head, inner.path, idle, ownHost);
    }
    if (passing >= maxPassed) {
      return await answerAndClose(conn, 503, `busy: ${maxPassed} requests in progress`, false);
    }
    passing++;
    stats.requestsPassedTotal++;
    try {
      await passThrough(conn, head, inner.path, idle, ownHost);
    } finally {
      passing--;
    }
  };

  /**
   * A connection the caps refused: served if it asks for an operator path in time, else 503.
   * When every slot is reading a head, the oldest reader is dropped for the newcomer: a probe
   * sends its request at once, so connections that send nothing cannot keep it out.
   */
  const refuseUnlessOperator = async (raw: Deno.Conn, text: string): Promise<void> => {
    if (inner === undefined || operatorPaths.size === 0 || laneServing >= OPERATOR_LANE_SLOTS) {
      return await refuseRaw(raw, 503, text);
    }
    if (laneWaiting.size >= OPERATOR_LANE_SLOTS) {
      const oldest = laneWaiting.values().next().value!;
      laneWaiting.delete(oldest);
      oldest.close();
    }
    let session: Session;
    try {
      session = await secure(raw);
    } catch {
      return;
    }
    laneWaiting.add(session);
    let head: HttpHead | HttpHeadError;
    try {
      head = await readHeadInTime(session, {
        headTimeoutMs: REFUSAL_READ_MS,
        maxHeadBytes: OPERATOR_HEAD_BYTES,
      });
    } finally {
      laneWaiting.delete(session);
    }
    try {
      if (head instanceof HttpHeadError) return;
      if (!isOperator(head)) return await answerAndClose(session.conn, 503, text, false);
      laneServing++;
      stats.operatorLaneServedTotal++;
      try {
        await passThrough(session.conn, head, inner.path, idle, ownHost);
      } finally {
        laneServing--;
      }
    } finally {
      session.close();
    }
  };

  const proxies = new Set(options.trustedProxies ?? []);
  const handle = async (raw: Deno.Conn) => {
    let address = "hostname" in raw.remoteAddr ? raw.remoteAddr.hostname : "unknown";
    if (proxies.has(address)) {
      // The PROXY header comes before TLS, as a proxy that passes TLS through sends it.
      const client = await readProxyHeaderInTime(raw, options.headTimeoutMs);
      if (client instanceof Error) {
        stats.handshakesFailedTotal++;
        return closeQuietly(raw);
      }
      address = client ?? address; // none named: the proxy's own health check
    }
    const refusal = options.refuse?.(address);
    if (refusal !== undefined) {
      stats.addressesRefusedTotal++;
      return await refuseRaw(raw, 429, refusal);
    }
    let release: (() => void) | ConnectionRefusal = gate.open(address);
    if (typeof release !== "function" && eviction.evictFor(address, release)) {
      release = gate.open(address);
    }
    if (typeof release === "function" && options.sharedSlot !== undefined) {
      const local = release;
      const shared = await options.sharedSlot(address).catch(() => undefined);
      if (shared === "address") {
        local();
        release = "address";
      } else if (shared !== undefined) {
        let released = false;
        release = () => {
          if (released) return;
          released = true;
          local();
          shared();
        };
      }
    }
    if (typeof release !== "function") {
      const text = release === "total"
        ? `too many connections (max ${options.maxConnections}); retry later`
        : release === "prefix"
        ? `too many connections from this network (max ${options.maxConnectionsPerPrefix})`
        : `too many connections from this address (max ${options.maxConnectionsPerAddress})`;
      return await refuseUnlessOperator(raw, text);
    }
    let session: Session | undefined;
    try {
      // TLS starts only now, past the caps; the head deadline covers its handshake too.
      session = await secure(raw);
      const head = await readHeadInTime(session, options);
      if (head instanceof HttpHeadError) {
        stats.handshakesFailedTotal++;
        if (head.status !== 408) {
          await answerAndClose(session.conn, head.status, head.message, false);
        }
        return;
      }
      await route(session.conn, head, address, release);
    } finally {
      session?.close();
      release();
    }
  };

  let acceptedInARow = 0;
  const acceptLoop = async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed || err instanceof Deno.errors.BadResource) return;
        stats.acceptErrorsTotal++;
        options.log?.(`accept failed (${(err as Error).message}); retrying`);
        await sleep(ACCEPT_RETRY_MS);
        continue;
      }
      handle(conn).catch(() => closeQuietly(conn));
      // An accept whose connection is already queued resolves without a turn of the event
      // loop, so a connection flood would accept on and on (each refused connection can drop a
      // waiting reader of the operator lane) while the read of a probe's request waits. Every
      // few accepts a zero timer, which the runtime clamps to about 2 ms in a loop: that pace
      // (about 2,000 accepts a second under a flood), not just the turn, is what lets a probe's
      // read finish first (setImmediate turns, measured, still lost probes).
      if (++acceptedInARow % ACCEPTS_PER_TURN === 0) {
        await sleep(0);
      }
    }
  };
  void acceptLoop();

  return {
    port: path === undefined ? (listener.addr as Deno.NetAddr).port : 0,
    addressCounts: () => gate.addresses(),
    replaceCertificate(keyPair) {
      if (!(listener instanceof ReloadableTlsListener)) throw new TypeError("no TLS on this port");
      listener.replace(keyPair);
    },
    stats: () => ({
      connectionsOpen: gate.size,
      connectionsRefusedTotal: gate.refusedTotal,
      idleClosedTotal: idle.closedTotal,
      innerRestartsTotal: inner?.server.restarts ?? 0,
      ...stats,
    }),
    async close() {
      closed = true;
      closeQuietly(listener);
      idle.stop();
      if (inner !== undefined) {
        await inner.server.shutdown();
        await Deno.remove(inner.dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

/** The path of a `GET` or `HEAD` request (query dropped), else undefined. */
function operatorPath(head: HttpHead): string | undefined {
  const [method, target] = head.startLine.split(" ");
  if (method !== "GET" && method !== "HEAD") return undefined;
  return target?.split("?")[0];
}

/**
 * The head, or why there is none (408 when the deadline closed the connection: the whole
 * session, so a TLS handshake never finished frees its socket too).
 */
async function readHeadInTime(
  session: Session,
  options: Pick<HttpFrontOptions, "headTimeoutMs" | "maxHeadBytes">,
): Promise<HttpHead | HttpHeadError> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    session.close();
  }, options.headTimeoutMs);
  try {
    return await readHttpHead(session.conn, { maxBytes: options.maxHeadBytes });
  } catch (err) {
    if (late) return new HttpHeadError("request head not received in time", 408);
    return err instanceof HttpHeadError ? err : new HttpHeadError(String(err), 408);
  } finally {
    clearTimeout(timer);
  }
}

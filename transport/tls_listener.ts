/**
 * A TLS listener whose connections are capped and timed before TLS starts, and whose certificate
 * can be replaced while it runs, for a certificate renewed on disk (docs/OPERATIONS.md "A town on
 * the internet"): connections accepted before keep the TLS session they have; connections
 * accepted after get the new certificate.
 *
 * Why TLS is not on the public socket: a `Deno.TlsConn` closed before its handshake completed
 * keeps its socket open until the peer sends or closes (Deno 2.9.6 waits to finish the handshake
 * and send its close_notify; measured: still open after 200 s). A client that connects and sends
 * nothing would then hold a descriptor forever, whatever cap or deadline closed it. So the public
 * port is a plain TCP listener: {@linkcode ReloadableTlsListener.accept} hands back the raw
 * connection (to be capped and timed as a plain one is), and
 * {@linkcode ReloadableTlsListener.secure} runs TLS for it on a private listener on 127.0.0.1,
 * its bytes copied both ways over a loopback connection (a bridge). Closing a
 * {@linkcode SecuredConnection} closes the public socket and the bridge; the private TLS end
 * then sees the end of its stream and lets its socket go, handshake done or not. The cost: three
 * descriptors per TLS connection instead of one, two 16 KiB copy buffers, and a copy of every
 * byte (docs/OPERATIONS.md "A town's limits" gives the figures).
 *
 * Why a replacement is cheap: `Deno.listenTls` takes the certificate once, at listen time, and
 * Deno 2.9.6 has no server-side `startTls`, so a new certificate gets a new private listener (a
 * new loopback port); the public port never changes. The old private listener is closed once no
 * bridge is on its way to it: closing a listener ends only its accepting, never the connections
 * it accepted.
 *
 * The private listener is on loopback: a local process could connect to it directly; a
 * connection no bridge claims within {@linkcode UNCLAIMED_MS} is closed.
 *
 * @module
 */
import { sleep } from "../protocol/backoff.ts";

/** A certificate chain and its private key, PEM. */
export interface TlsKeyPair {
  /** The certificate chain, PEM (the server's first, then its intermediates). */
  cert: string;
  /** The private key, PEM (PKCS#8, RSA or EC). */
  key: string;
}

/** Options for {@linkcode ReloadableTlsListener}. */
export interface ReloadableTlsListenerOptions {
  hostname: string;
  /** 0 picks a free port (kept across replacements). */
  port: number;
  keyPair: TlsKeyPair;
  /** Other processes share the port on purpose (`SO_REUSEPORT`, `--unstable-net`). */
  shared?: boolean;
  /** Told about failed accepts on the private listener (they are survived). */
  log?: (line: string) => void;
}

/** A TLS connection over an accepted TCP one; {@linkcode SecuredConnection.close} frees all of it. */
export interface SecuredConnection {
  /** Read and write the application's bytes here (the handshake runs on the first read or write). */
  conn: Deno.TlsConn;
  /** Closes the public socket, the bridge and `conn`; idempotent. */
  close(): void;
}

/** How long the private listener keeps a connection no bridge claimed (a stranger's). */
export const UNCLAIMED_MS = 5_000;
/** Pause after a failed accept: a descriptor must be freed before another accept can work. */
const ACCEPT_RETRY_MS = 100;
/** How long a closed TLS connection's last bytes may take to reach a client that reads slowly. */
const DRAIN_MS = 2_000;
/** One TLS record (16 KiB of plaintext and its overhead) per read. */
const COPY_CHUNK = 16 * 1024 + 512;

/** A private TLS listener and the bridges on their way to it. */
interface Inner {
  listener: Deno.TlsListener;
  port: number;
  /** Bridges connected and not yet matched, by their local port. */
  waiting: Map<number, (conn: Deno.TlsConn) => void>;
  /** Accepted and not yet claimed, by the bridge's port. */
  arrived: Map<number, Deno.TlsConn>;
  /** Bridges connecting to it now. */
  pending: number;
  retired: boolean;
}

/**
 * Accepts TCP connections and runs TLS for them; {@linkcode ReloadableTlsListener.replace} swaps
 * the certificate: `accept()` a raw connection (cap it there: no TLS has started), `secure(raw)`
 * for its TLS, `replace(keyPair)` for the connections after, `close()`. It needs a certificate
 * made by openssl, so it has no example that runs here: tests/unit/transport/tls_listener_test.ts
 */
export class ReloadableTlsListener {
  /** The bound public address (the same across replacements). */
  readonly addr: Deno.NetAddr;
  readonly #outer: Deno.TcpListener;
  readonly #log?: (line: string) => void;
  #inner: Inner;
  #closed = false;

  /** Binds; throws `Deno.errors.AddrInUse` when another socket holds the port (unless `shared`). */
  constructor(options: ReloadableTlsListenerOptions) {
    this.#log = options.log;
    this.#inner = this.#listenInner(options.keyPair);
    try {
      this.#outer = Deno.listen({
        hostname: options.hostname,
        port: options.port,
        ...(options.shared ? { reusePort: true } : {}),
      });
    } catch (err) {
      this.#inner.listener.close();
      throw err;
    }
    this.addr = this.#outer.addr;
  }

  /** The next connection, before any TLS: cap and time it, then {@linkcode secure} it. */
  accept(): Promise<Deno.TcpConn> {
    return this.#outer.accept();
  }

  /**
   * Runs TLS for `raw` on the private listener with the current certificate. On failure (out of
   * descriptors, the listener closed) `raw` is closed and the error thrown.
   */
  async secure(raw: Deno.TcpConn): Promise<SecuredConnection> {
    const inner = this.#inner;
    inner.pending++;
    let bridge: Deno.TcpConn | undefined;
    try {
      bridge = await Deno.connect({ hostname: "127.0.0.1", port: inner.port });
      const conn = await claim(inner, (bridge.localAddr as Deno.NetAddr).port);
      return splice(raw, bridge, conn);
    } catch (err) {
      closeQuietly(raw);
      if (bridge) closeQuietly(bridge);
      throw err;
    } finally {
      inner.pending--;
      if (inner.retired && inner.pending === 0) closeQuietly(inner.listener);
    }
  }

  /**
   * Secures new connections with `keyPair` from now on. Throws (and keeps the old certificate)
   * when the pair is not a usable certificate and key.
   */
  replace(keyPair: TlsKeyPair): void {
    if (this.#closed) throw new Deno.errors.BadResource("the listener is closed");
    const next = this.#listenInner(keyPair);
    const old = this.#inner;
    this.#inner = next;
    old.retired = true;
    if (old.pending === 0) closeQuietly(old.listener);
  }

  /** Stops accepting (connections accepted stay open). */
  close(): void {
    this.#closed = true;
    closeQuietly(this.#outer);
    this.#inner.retired = true;
    if (this.#inner.pending === 0) closeQuietly(this.#inner.listener);
  }

  #listenInner(keyPair: TlsKeyPair): Inner {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...keyPair });
    const inner: Inner = {
      listener,
      port: listener.addr.port,
      waiting: new Map(),
      arrived: new Map(),
      pending: 0,
      retired: false,
    };
    void this.#acceptInner(inner);
    return inner;
  }

  /** Matches each private connection to its bridge by the bridge's port. */
  async #acceptInner(inner: Inner): Promise<void> {
    for (;;) {
      let conn: Deno.TlsConn;
      try {
        conn = await inner.listener.accept();
      } catch (err) {
        if (inner.retired || err instanceof Deno.errors.BadResource) return;
        this.#log?.(`TLS bridge accept failed (${(err as Error).message}); retrying`);
        await sleep(ACCEPT_RETRY_MS);
        continue;
      }
      const port = conn.remoteAddr.port;
      const waiter = inner.waiting.get(port);
      if (waiter) {
        inner.waiting.delete(port);
        waiter(conn);
        continue;
      }
      // Its bridge's connect has not returned yet, or a stranger connected.
      inner.arrived.set(port, conn);
      setTimeout(() => {
        if (inner.arrived.get(port) !== conn) return;
        inner.arrived.delete(port);
        closeQuietly(conn);
      }, UNCLAIMED_MS);
    }
  }
}

/** The private connection of the bridge from `port`. */
function claim(inner: Inner, port: number): Promise<Deno.TlsConn> {
  const arrived = inner.arrived.get(port);
  if (arrived) {
    inner.arrived.delete(port);
    return Promise.resolve(arrived);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      inner.waiting.delete(port);
      reject(new Deno.errors.TimedOut("the TLS bridge was not accepted"));
    }, UNCLAIMED_MS);
    inner.waiting.set(port, (conn) => {
      clearTimeout(timer);
      resolve(conn);
    });
  });
}

/**
 * Copies `raw` and `bridge` into each other until either ends. Closed after its handshake, the
 * TLS end's last bytes (an answer, its close_notify) still go out to the client, for at most
 * {@linkcode DRAIN_MS}; closed before, it has nothing to send and everything closes at once.
 */
function splice(raw: Deno.TcpConn, bridge: Deno.TcpConn, conn: Deno.TlsConn): SecuredConnection {
  raw.setNoDelay(true);
  bridge.setNoDelay(true);
  let secured = false;
  conn.handshake().then(() => secured = true, () => {});
  let closed = false;
  const closeSockets = () => {
    closeQuietly(raw);
    closeQuietly(bridge);
  };
  // The client's end of stream goes on to the TLS end (half-close), which answers it.
  void copy(raw, bridge).then(() => bridge.closeWrite()).catch(closeSockets);
  // The TLS end closed its socket: nothing more can come for the client.
  const drained = copy(bridge, raw).catch(() => {}).finally(closeSockets);
  const close = () => {
    if (closed) return;
    closed = true;
    closeQuietly(conn);
    if (!secured) return closeSockets();
    const timer = setTimeout(closeSockets, DRAIN_MS);
    void drained.finally(() => clearTimeout(timer));
  };
  return { conn, close };
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(COPY_CHUNK);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) return;
    for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
  }
}

function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // already closed
  }
}

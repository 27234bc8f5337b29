/**
 * Test helper: a TCP proxy on 127.0.0.1 in front of one port, whose connections can be cut (both
 * sides closed at once, as a network that drops) while it keeps accepting new ones: a packet
 * that went through before the cut reaches the server, and its answer is lost.
 *
 * @module
 */

/** A running proxy. */
export interface TcpCutProxy extends AsyncDisposable {
  /** The port to connect to instead of the target's. */
  port: number;
  /** Closes every connection open now, both sides; later connections go through. */
  cut(): void;
  /** Stops accepting and closes everything. */
  close(): Promise<void>;
}

/**
 * Listens on a free port and forwards each connection to `127.0.0.1:<targetPort>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTcpCutProxy } from "./tcp_cut_proxy.ts";
 *
 * const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * void (async () => {
 *   for await (const conn of echo) void conn.readable.pipeTo(conn.writable).catch(() => {});
 * })();
 * await using proxy = await startTcpCutProxy(echo.addr.port);
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
 * await conn.write(new Uint8Array([1, 2, 3]));
 * const got = new Uint8Array(3);
 * assert.equal(await conn.read(got), 3);
 * proxy.cut();
 * assert.equal(await conn.read(got), null); // the proxy closed it
 * conn.close();
 * echo.close();
 * ```
 */
export function startTcpCutProxy(targetPort: number): Promise<TcpCutProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const closeConn = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const pairs = new Set<Promise<void>>();
  const serve = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeConn(client);
      return;
    }
    open.add(client);
    open.add(server);
    const pipe = (from: Deno.Conn, to: Deno.Conn) =>
      from.readable.pipeTo(to.writable, { preventClose: true }).catch(() => {});
    await Promise.race([pipe(client, server), pipe(server, client)]);
    closeConn(client);
    closeConn(server);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const done = serve(conn);
      pairs.add(done);
      void done.finally(() => pairs.delete(done));
    }
  })().catch(() => {});
  const cut = () => {
    for (const conn of [...open]) closeConn(conn);
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      listener.close();
      await accepting;
      cut();
      await Promise.allSettled([...pairs]);
    })();
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    cut,
    close,
    [Symbol.asyncDispose]: close,
  });
}

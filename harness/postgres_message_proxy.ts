/**
 * Test helper: a TCP proxy to a PostgreSQL server (node:net, as the driver's own sockets) that acts
 * on the client's messages: at the first one holding a marker, it resets the client's connection
 * (an RST: `read ECONNRESET` at the driver) or holds the message (the server never sees it, the
 * connection stays up). The moments a real outage can hit, made exact: a new connection's
 * array-types query in flight, a query, a transaction, a prepare (vendor/postgres/PATCHED.md).
 *
 * @module
 */
import net from "node:net";

/** What the proxy does with the first client message holding a marker. */
export type MessageAction = "reset" | "hold";

/** A running proxy. */
export interface PostgresMessageProxy extends AsyncDisposable {
  /** The proxy's port. */
  port: number;
  /** `serverUrl` (the proxied server's URL) with the proxy's port instead. */
  url(serverUrl: string): string;
  /** Arms `action` for the first client message containing `marker`; resolves once done. */
  on(marker: string, action: MessageAction): Promise<void>;
  /** Resets every client connection now. */
  resetAll(): void;
  /** How many client connections the proxy has reset. */
  readonly resets: number;
  /** Closes every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port and forwards each connection to `127.0.0.1:<serverPort>`.
 *
 * It needs a PostgreSQL server, so it has no example here:
 * tests/interop/postgres_types_query_test.ts resets the array-types query with it.
 */
export async function startPostgresMessageProxy(serverPort: number): Promise<PostgresMessageProxy> {
  let armed: { marker: string; action: MessageAction; done: () => void } | undefined;
  const clients = new Set<net.Socket>();
  let resets = 0;
  const server = net.createServer((client) => {
    clients.add(client);
    const upstream = net.connect(serverPort, "127.0.0.1");
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    upstream.on("data", (d) => client.write(d));
    client.on("error", () => upstream.destroy());
    client.on("close", () => (clients.delete(client), upstream.destroy()));
    client.on("data", (d: Buffer) => {
      const hit = armed !== undefined && d.includes(armed.marker) ? armed : undefined;
      if (hit === undefined) return upstream.write(d);
      armed = undefined;
      if (hit.action === "reset") {
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
      }
      hit.done();
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  );
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of clients) c.destroy();
    });
  return {
    port,
    url: (serverUrl) => {
      const u = new URL(serverUrl);
      u.port = String(port);
      return u.toString();
    },
    on: (marker, action) => new Promise<void>((done) => armed = { marker, action, done }),
    resetAll: () => {
      for (const c of clients) (resets++, c.resetAndDestroy());
    },
    get resets() {
      return resets;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The model gateway's door inside a job's sandbox: listens on `127.0.0.1:<port>` in the job's
 * own network namespace and relays every connection, byte for byte, to the gateway's Unix socket
 * (roles/provider/agent_gateway.ts), bound into the sandbox. The job's programs are pointed at it
 * by ANTHROPIC_BASE_URL / OPENAI_BASE_URL (docs/SKILLS.md "The model gateway").
 *
 * It is started by the sandbox's setup script (roles/provider/sandbox_gateway.ts), without
 * capabilities, as the job's user, before the job; it prints `ready` on stdout once listening, so
 * the job starts only when its gateway answers. It decides nothing: what may pass is the
 * gateway's call, outside the sandbox. A job that kills it only loses its own model API.
 *
 * It imports nothing: it runs in the sandbox from its own file, with no project and no Deno
 * cache. There is no socat on the machines a provider runs on, hence these few lines.
 *
 * @module
 */

/** Options for {@linkcode runGatewayForwarder}. */
export interface GatewayForwarderOptions {
  /** The loopback port to listen on (in the job's network namespace). */
  port: number;
  /** The gateway's Unix socket, as the sandbox shows it. */
  socketPath: string;
  /** Called once the port listens. */
  onReady?: () => void;
  /** Stops listening (the relays under way end with their connections). */
  signal?: AbortSignal;
}

/**
 * Listens on `127.0.0.1:<port>` and relays each connection to the Unix socket, until `signal`.
 *
 * @example
 * ```ts
 * import { runGatewayForwarder } from "./gateway_forwarder.ts";
 *
 * const stop = new AbortController();
 * const running = runGatewayForwarder({
 *   port: 0,
 *   socketPath: "/tmp/gateway.sock",
 *   onReady: () => stop.abort(),
 *   signal: stop.signal,
 * });
 * await running;
 * ```
 */
export async function runGatewayForwarder(options: GatewayForwarderOptions): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port });
  const stop = () => listener.close();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop);
  options.onReady?.();
  try {
    for await (const conn of listener) {
      relay(conn, options.socketPath).catch(() => {});
    }
  } catch (err) {
    if (!options.signal?.aborted) throw err;
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
}

/** Both directions, each half-closed when its source ends; both ends closed after. */
async function relay(client: Deno.TcpConn, socketPath: string): Promise<void> {
  let upstream: Deno.UnixConn;
  try {
    upstream = await Deno.connect({ transport: "unix", path: socketPath });
  } catch {
    client.close();
    return;
  }
  const closeBoth = () => {
    for (const c of [client, upstream]) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true });
      await to.closeWrite();
    } catch {
      closeBoth(); // one side went away: the other direction ends with it
    }
  };
  await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
  closeBoth();
}

if (import.meta.main) {
  const [port, socketPath] = Deno.args;
  await runGatewayForwarder({
    port: Number(port),
    socketPath,
    onReady: () => console.log("ready"),
  });
}

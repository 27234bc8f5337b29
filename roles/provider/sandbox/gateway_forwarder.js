// @ts-check
/**
 * The model gateway's door inside a job's sandbox: listens on `127.0.0.1:<port>` in the job's
 * own network namespace and relays every connection, byte for byte, to the gateway's Unix socket
 * (roles/agent_work/provider/agent_gateway.ts), bound into the sandbox. The job's programs are
 * pointed at it by ANTHROPIC_BASE_URL / OPENAI_BASE_URL (docs/SKILLS.md "The model gateway").
 *
 * It is started by the sandbox's setup script (roles/provider/sandbox/sandbox_gateway.ts), without
 * capabilities, as the job's user, before the job; it prints `ready` on stdout once listening, so
 * the job starts only when its gateway answers. It decides nothing: what may pass is the
 * gateway's call, outside the sandbox. A job that kills it only loses its own model API.
 *
 * Run as `forwarder.js close <socket>` it is the other end of the job's model API: the agent-task
 * driver, once the agent's processes are killed, tells the gateway the agent is over (it stops
 * listening and removes its socket) and waits until the socket refuses connections, before the gate
 * runs (skills/agent-task/run; {@linkcode closeGateway}). Where the sandbox is set up by the
 * compiled program, its `--close-gateway` does that instead (roles/provider/sandbox/sandbox_init.c).
 *
 * It imports nothing: it runs in the sandbox from its own file, with no project and no Deno
 * cache. There is no socat on the machines a provider runs on, hence these few lines. JavaScript
 * (its types in JSDoc, checked by `deno check`), not TypeScript: Deno writes a TypeScript file's
 * transpiled code to its cache, and in the sandbox, where no cache dir is writable, it retried
 * that write five times (10-50 ms apart: 150 ms of sleep at each of the forwarder's two starts a
 * job; docs/SKILLS.md "agent-task"). A JavaScript file is run as it is.
 *
 * @module
 */

/**
 * Options for {@linkcode runGatewayForwarder}.
 *
 * @typedef {object} GatewayForwarderOptions
 * @property {number} port The loopback port to listen on (in the job's network namespace).
 * @property {string} socketPath The gateway's Unix socket, as the sandbox shows it.
 * @property {() => void} [onReady] Called once the port listens.
 * @property {AbortSignal} [signal] Stops listening (the relays under way end with their
 *   connections).
 */

/**
 * Listens on `127.0.0.1:<port>` and relays each connection to the Unix socket, until `signal`.
 *
 * @example
 * ```ts
 * import { runGatewayForwarder } from "./gateway_forwarder.js";
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
 *
 * @param {GatewayForwarderOptions} options
 * @returns {Promise<void>}
 */
export async function runGatewayForwarder(options) {
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

/**
 * Both directions, each half-closed when its source ends; both ends closed after.
 *
 * @param {Deno.TcpConn} client
 * @param {string} socketPath
 * @returns {Promise<void>}
 */
async function relay(client, socketPath) {
  /** @type {Deno.UnixConn} */
  let upstream;
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
  /** @type {(from: Deno.Conn, to: Deno.Conn) => Promise<void>} */
  const pipe = async (from, to) => {
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

/**
 * Options for {@linkcode closeGateway}.
 *
 * @typedef {object} CloseGatewayOptions
 * @property {string} socketPath The gateway's Unix socket, as the sandbox shows it.
 * @property {number} [attempts] Connection attempts before giving up; default 1000, one every
 *   `retryMs` (10 s in all).
 * @property {number} [retryMs] Pause between attempts; default 10 ms: the gateway stops listening
 *   right after its answer, and the gate waits for this (docs/SKILLS.md "agent-task").
 */

/**
 * The path the gateway closes on (roles/agent_work/provider/agent_gateway.ts `AGENT_OVER_PATH`;
 * this file imports nothing, hence the copy).
 */
const AGENT_OVER_PATH = "/turnpike/agent-over";

/**
 * Tells the gateway the job's agent is over, then waits until its socket refuses a connection:
 * true once it does (or never listened), false when it still accepts after every attempt.
 *
 * @example
 * ```ts
 * import { closeGateway } from "./gateway_forwarder.js";
 *
 * const closed = await closeGateway({ socketPath: "/nonexistent/gateway.sock", attempts: 1 });
 * if (!closed) throw new Error("a socket that does not exist is closed");
 * ```
 *
 * @param {CloseGatewayOptions} options
 * @returns {Promise<boolean>}
 */
export async function closeGateway(options) {
  const request = `POST ${AGENT_OVER_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    "Content-Length: 0\r\nConnection: close\r\n\r\n";
  for (let attempt = 0; attempt < (options.attempts ?? 1000); attempt++) {
    /** @type {Deno.UnixConn} */
    let conn;
    try {
      conn = await Deno.connect({ transport: "unix", path: options.socketPath });
    } catch {
      return true; // refused, or no socket: nothing reaches the model API from here on
    }
    try {
      // Each attempt asks again: a connection refused by the gateway's cap, say, asked nothing.
      await conn.write(new TextEncoder().encode(request));
      const buf = new Uint8Array(4096);
      while (await conn.read(buf) !== null) { /* the answer, until the gateway closes */ }
    } catch { /* the gateway went away meanwhile */ }
    try {
      conn.close();
    } catch { /* closed already */ }
    await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 10));
  }
  return false;
}

if (import.meta.main && Deno.args[0] === "close") {
  Deno.exit(await closeGateway({ socketPath: Deno.args[1] }) ? 0 : 1);
} else if (import.meta.main) {
  const [port, socketPath] = Deno.args;
  await runGatewayForwarder({
    port: Number(port),
    socketPath,
    onReady: () => console.log("ready"),
  });
}

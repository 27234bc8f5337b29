/**
 * `Deno.serve` that survives its accept loop failing: when the process runs out of file
 * descriptors (EMFILE/ENFILE) `Deno.serve` stops listening and rejects its `finished` promise,
 * which, unhandled, ends the process. Here the failure is logged and counted, and the server is
 * started again on the same port once a descriptor is free (connections are refused meanwhile).
 *
 * @module
 */
import { sleep } from "../protocol/backoff.ts";

/** Options for {@linkcode serveResilient}. */
export interface ResilientServeOptions {
  hostname?: string;
  /** 0 picks a free port (kept across restarts). */
  port?: number;
  /** A Unix socket to listen on instead of a TCP port. */
  path?: string;
  handler: (request: Request) => Response | Promise<Response>;
  /** Told about failures and restarts. */
  log?: (line: string) => void;
  /** Pause before each restart attempt. Default 100 ms. */
  retryMs?: number;
}

/** A running server. */
export interface ResilientServer {
  /** The port bound (0 on a Unix socket). */
  readonly port: number;
  /** Times the listener failed and was started again. */
  readonly restarts: number;
  /** Stops serving (no restart after this). */
  shutdown(): Promise<void>;
}

/**
 * Serves `handler`, restarting the listener after an accept failure.
 *
 * @example
 * ```ts
 * const server = serveResilient({ hostname: "127.0.0.1", port: 0, handler: () => new Response("ok") });
 * await server.shutdown();
 * ```
 */
export function serveResilient(options: ResilientServeOptions): ResilientServer {
  const start = (port: number): Deno.HttpServer => {
    if (options.path === undefined) {
      return Deno.serve({ hostname: options.hostname, port, onListen: () => {} }, options.handler);
    }
    // A socket file left by the failed listener would make the bind fail.
    try {
      Deno.removeSync(options.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return Deno.serve({ path: options.path, onListen: () => {} }, options.handler);
  };
  let server = start(options.port ?? 0);
  const port = "port" in server.addr ? server.addr.port : 0;
  let stopping = false;
  let restarts = 0;

  const restart = async (err: unknown) => {
    if (stopping) return;
    options.log?.(`HTTP listener failed (${(err as Error)?.message ?? err}); restarting`);
    for (;;) {
      await sleep(options.retryMs ?? 100);
      if (stopping) return;
      try {
        server = start(port);
        restarts++;
        watch(server);
        return;
      } catch {
        // Still out of descriptors (or the port not yet free): try again.
      }
    }
  };
  const watch = (s: Deno.HttpServer) => {
    s.finished.catch(restart);
  };
  watch(server);

  return {
    port,
    get restarts() {
      return restarts;
    },
    async shutdown() {
      stopping = true;
      await server.shutdown().catch(() => {});
    },
  };
}

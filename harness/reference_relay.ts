/**
 * Starts the reference Nostr relay (`harness/peers/nostr_relay.mjs`, @nostr-relay/* under Node)
 * on a free port with its own SQLite file, and can SIGKILL and restart it on the same port and
 * database, for tests of reconnection.
 *
 * @module
 */

import { REFERENCE_PEERS_DIR } from "./reference_peers.ts";

const SCRIPT = new URL("nostr_relay.mjs", REFERENCE_PEERS_DIR);

/** Options for {@linkcode startReferenceRelay}. */
export interface ReferenceRelayOptions {
  /** SQLite file; default a new file in a fresh temp dir (removed by `stop`). */
  dbFile?: string;
  /** Port; default 0 (a free port chosen by the OS, kept across restarts). */
  port?: number;
  /** Give up waiting for readiness after this long. Default 20 s. */
  readyTimeoutMs?: number;
}

/** The relay did not become ready. */
export class ReferenceRelayStartError extends Error {
  override name = "ReferenceRelayStartError";
}

/** A running reference relay. */
export interface ReferenceRelay {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dbFile: string;
  /** SIGKILL the relay process and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port and database (after `kill`). */
  restart(): Promise<void>;
  /** Kill it and remove the temp dir it created. */
  stop(): Promise<void>;
}

/**
 * Spawns the reference relay with Node and waits for its `READY <port>` line.
 *
 * It runs the relay under Node from harness/peers/ (installed by `deno task setup`), so it has no
 * example here: tests/interop/nostr_relay_source_test.ts and tests/interop/event_feed_test.ts run
 * against it.
 */
export async function startReferenceRelay(
  options: ReferenceRelayOptions = {},
): Promise<ReferenceRelay> {
  const tempDir = options.dbFile === undefined
    ? await Deno.makeTempDir({ prefix: "turnpike-relay-" })
    : undefined;
  const dbFile = options.dbFile ?? `${tempDir}/relay.db`;
  const timeout = options.readyTimeoutMs ?? 20_000;
  let child: Deno.ChildProcess | undefined;
  let port = options.port ?? 0;

  const spawn = async () => {
    const proc = new Deno.Command("node", {
      args: [SCRIPT.pathname, String(port), dbFile],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    child = proc;
    try {
      port = await readReadyPort(proc, timeout);
    } catch (err) {
      await killChild(proc);
      child = undefined;
      throw err;
    }
  };

  await spawn();
  const relay: ReferenceRelay = {
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dbFile,
    async kill() {
      if (child !== undefined) await killChild(child);
      child = undefined;
    },
    async restart() {
      await relay.kill();
      // The port was just freed; another process could grab it in between (then: retry).
      for (let attempt = 0;; attempt++) {
        try {
          return await spawn();
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      await relay.kill();
      if (tempDir !== undefined) await Deno.remove(tempDir, { recursive: true });
    },
  };
  return relay;
}

async function readReadyPort(proc: Deno.ChildProcess, timeoutMs: number): Promise<number> {
  const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ReferenceRelayStartError(`relay not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const { value, done } = await Promise.race([lines.read(), timeout]);
      if (done) throw new ReferenceRelayStartError("relay exited before it was ready");
      buffered += value;
      const match = buffered.match(/READY (\d+)\n/);
      if (match) return Number(match[1]);
    }
  } finally {
    clearTimeout(timer);
    // Keep draining stdout in the background so the child never blocks on a full pipe.
    (async () => {
      try {
        while (!(await lines.read()).done) { /* drain */ }
      } catch { /* process gone */ }
    })();
  }
}

async function killChild(proc: Deno.ChildProcess): Promise<void> {
  try {
    proc.kill("SIGKILL");
  } catch { /* already exited */ }
  await proc.status;
}

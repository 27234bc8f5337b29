/**
 * Starts the Interledger reference connector (`ilp-connector@23.0.2` + `ilp-plugin-btp@1.5.0`,
 * installed in `harness/peers/node_modules`) under Node, with one BTP listener account per name,
 * on free loopback ports. Configuration is environment only, as the connector expects.
 *
 * @module
 */

import { freePorts } from "./free_port.ts";
import { REFERENCE_PEERS_DIR } from "./reference_peers.ts";

const CONNECTOR_ENTRY = new URL("node_modules/ilp-connector/dist/index.js", REFERENCE_PEERS_DIR);

/** One BTP listener account on the connector. */
export interface ReferenceAccountOptions {
  /** `child` accounts get `<connector address>.<name>` by IL-DCP. Default "child". */
  relation?: "child" | "peer";
  /** BTP auth token the account's listener expects. Default `secret-<name>`. */
  secret?: string;
  assetCode?: string;
  assetScale?: number;
  /** Token bucket override (the connector's default is 10,000 packets/min per account). */
  rateLimit?: { refillPeriod?: number; refillCount?: number; capacity?: number };
}

/** Options for {@linkcode startReferenceConnector}. */
export interface ReferenceConnectorOptions {
  /** The connector's own ILP address. Default "test.conn". */
  ilpAddress?: string;
  /** Accounts by name (account ids must match `^[a-zA-Z0-9._~-]+$`). */
  accounts: Record<string, ReferenceAccountOptions>;
  /** How long to wait for the "connector ready" log line. Default 20 s. */
  readyTimeoutMs?: number;
  /** Print the connector's output to stderr (debugging). */
  verbose?: boolean;
  /**
   * Keep a balance per account (the connector's `balance` middleware, no limits) and open its
   * admin API on a free loopback port, so {@linkcode ReferenceConnector.balances} can read them.
   */
  books?: boolean;
}

/** A running account's connection facts. */
export interface ReferenceAccount {
  name: string;
  port: number;
  secret: string;
  /** `btp+ws://127.0.0.1:<port>` */
  url: string;
  /** The address IL-DCP gives a child account. */
  childAddress: string;
}

/** The reference connector did not start or stopped unexpectedly. */
export class ReferenceConnectorError extends Error {
  override name = "ReferenceConnectorError";
}

/** Handle on a running reference connector. */
export interface ReferenceConnector {
  ilpAddress: string;
  accounts: Record<string, ReferenceAccount>;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  stop(signal?: Deno.Signal): Promise<void>;
  /** Starts the process again with the same ports and accounts. */
  restart(): Promise<void>;
  /** Output captured so far (stdout + stderr). */
  output(): string;
  /**
   * Each account's balance from the connector's admin API (`GET /balance`), base units, from
   * the connector's side: positive, the account owes the connector (it paid in more than it was
   * paid out); negative, the connector owes it. Needs `books: true`.
   */
  balances(): Promise<Record<string, bigint>>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Spawns the reference connector and resolves once it logged "connector ready".
 *
 * It runs the connector under Node from harness/peers/ (installed by `deno task setup`), so it has
 * no example here: tests/interop/connector_town_paid_write_test.ts and
 * tests/interop/connector_ilp_prepare_sink_test.ts run against it.
 */
export async function startReferenceConnector(
  options: ReferenceConnectorOptions,
): Promise<ReferenceConnector> {
  const ilpAddress = options.ilpAddress ?? "test.conn";
  const accounts: Record<string, ReferenceAccount> = {};
  const config: Record<string, unknown> = {};
  // All picked before any is freed: one port handed out twice made the connector exit.
  const ports = freePorts(Object.keys(options.accounts).length + 1);
  const adminPort = ports[ports.length - 1];
  for (const [i, [name, acc]] of Object.entries(options.accounts).entries()) {
    const port = ports[i];
    const secret = acc.secret ?? `secret-${name}`;
    accounts[name] = {
      name,
      port,
      secret,
      url: `btp+ws://127.0.0.1:${port}`,
      childAddress: `${ilpAddress}.${name}`,
    };
    config[name] = {
      relation: acc.relation ?? "child",
      assetCode: acc.assetCode ?? "USD",
      assetScale: acc.assetScale ?? 6,
      plugin: "ilp-plugin-btp",
      options: { listener: { port, secret } },
      ...(acc.rateLimit ? { rateLimit: acc.rateLimit } : {}),
      ...(options.books ? { balance: { minimum: "-Infinity", maximum: "Infinity" } } : {}),
    };
  }
  const env: Record<string, string> = {
    CONNECTOR_ILP_ADDRESS: ilpAddress,
    CONNECTOR_BACKEND: "one-to-one",
    CONNECTOR_SPREAD: "0",
    CONNECTOR_STORE: "memory",
    CONNECTOR_ACCOUNTS: JSON.stringify(config),
    // Listener plugins only count as connected once a client dialled in; do not wait 10 s.
    CONNECTOR_INITIAL_CONNECT_TIMEOUT: "100",
    DEBUG: "",
    ...(options.books
      ? {
        CONNECTOR_ADMIN_API: "true",
        CONNECTOR_ADMIN_API_HOST: "127.0.0.1",
        CONNECTOR_ADMIN_API_PORT: String(adminPort),
      }
      : {}),
  };
  let output = "";
  let child: Deno.ChildProcess | undefined;
  let pump: Promise<void> = Promise.resolve();

  const start = async () => {
    child = new Deno.Command("node", {
      args: [CONNECTOR_ENTRY.pathname],
      cwd: REFERENCE_PEERS_DIR.pathname,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc = child;
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((resolve) => readyResolve = resolve);
    const readAll = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        output += text;
        if (options.verbose) Deno.stderr.writeSync(new TextEncoder().encode(text));
        if (output.includes("connector ready")) readyResolve();
      }
    };
    pump = Promise.all([readAll(proc.stdout), readAll(proc.stderr)]).then(() => {});
    const timeoutMs = options.readyTimeoutMs ?? 20_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      ready.then(() => "ready" as const),
      proc.status.then(() => "exited" as const),
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (outcome !== "ready") {
      await stop();
      throw new ReferenceConnectorError(
        `reference connector ${outcome} before ready; output:\n${output.slice(-4000)}`,
      );
    }
    // "ready" is logged once outgoing plugins are set up; the listener sockets are open by then.
  };

  const stop = async (signal: Deno.Signal = "SIGKILL") => {
    const proc = child;
    child = undefined;
    if (!proc) return;
    try {
      proc.kill(signal);
    } catch {
      // already exited
    }
    await proc.status;
    await pump;
  };

  await start();
  return {
    ilpAddress,
    accounts,
    stop,
    restart: async () => {
      await stop();
      output = "";
      await start();
    },
    output: () => output,
    balances: async () => {
      if (!options.books) throw new ReferenceConnectorError("started without `books: true`");
      const res = await fetch(`http://127.0.0.1:${adminPort}/balance`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new ReferenceConnectorError(`GET /balance: HTTP ${res.status}`);
      const body = await res.json() as { accounts?: Record<string, { balance: string }> };
      return Object.fromEntries(
        Object.entries(body.accounts ?? {}).map(([name, b]) => [name, BigInt(b.balance)]),
      );
    },
    [Symbol.asyncDispose]: () => stop(),
  };
}

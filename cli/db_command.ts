/**
 * `turnpike db up`: a PostgreSQL server for a town on several processes of one machine
 * (docs/OPERATIONS.md, "A town on several machines"), from the binaries `deno task setup`
 * installs in `tools/node_modules` (state/postgres/postgres_server.ts), in the foreground until Ctrl-C,
 * as `chain up` does for anvil. Its data dir persists (default `<state dir>/postgres`); it
 * listens on 127.0.0.1 only and every connection must give the password kept in
 * `<state dir>/postgres.password` (0600, made at the first `db up`), which the printed store URL
 * carries: no other local user gets into the town's books. As root the server runs as the system
 * user `turnpike-pg` (made when missing), which owns its data dir and nothing else. A server for
 * other hosts is the operator's own PostgreSQL, whose URL goes to `town up --store`.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import { stopSignal } from "./stop_signal.ts";
import { loadSettings } from "../config/settings.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { PostgresServerError, startPostgresServer } from "../state/postgres/postgres_server.ts";
import {
  POSTGRES_SYSTEM_USER,
  PostgresSystemUserError,
} from "../state/postgres/postgres_system_user.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface DbUpOptions extends GlobalOptions {
  port: string;
  dataDir?: string;
}

/**
 * Adds `db up` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerDbCommand(new Command("turnpike"));
 * ```
 */
export function registerDbCommand(program: Command): Command {
  const db = program.command("db").description(
    "the PostgreSQL store several town processes share",
  );
  db.command("up")
    .description("start PostgreSQL on 127.0.0.1 (data kept in --data-dir); Ctrl-C stops")
    .option("--port <n>", "loopback port", "5432")
    .option(
      "--data-dir <dir>",
      "data directory (default <state dir>/postgres; as root /var/lib/turnpike/postgres)",
    )
    .action(async (_o: unknown, cmd: Command) => {
      await dbUp(cmd.optsWithGlobals<DbUpOptions>(), cmd);
    });
  return db;
}

async function dbUp(opts: DbUpOptions, cmd: Command): Promise<void> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(`--port must be 1-65535, got "${opts.port}"`, { exitCode: ExitCode.Usage });
  }
  const stateDir = (await loadSettings({ flags: settingsFlagsFrom(opts, cmd, []) })).settings
    .stateDir;
  // As root the server runs as its own system user (state/postgres/postgres_system_user.ts), which
  // cannot enter root's home (the usual state dir).
  const dataDir = opts.dataDir ??
    (Deno.uid() === 0 ? "/var/lib/turnpike/postgres" : `${stateDir}/postgres`);
  const passwordFile = `${stateDir}/postgres.password`;
  const password = await dbPassword(passwordFile);
  const stopped = stopSignal();
  let server;
  try {
    server = await startPostgresServer({ dataDir, port, password });
  } catch (err) {
    if (err instanceof PostgresSystemUserError) {
      throw new CliError(`PostgreSQL did not start: ${err.message}`, {
        context: `data dir ${dataDir}`,
        suggestion: `create it (\`useradd --system --user-group --no-create-home --shell ` +
          `/usr/sbin/nologin ${POSTGRES_SYSTEM_USER}\`), or run \`db up\` as a user other than root`,
        cause: err,
      });
    }
    if (!(err instanceof PostgresServerError)) throw err;
    throw new CliError(`PostgreSQL did not start: ${err.message}`, {
      context: `port ${port}, data dir ${dataDir}`,
      suggestion: "install it with `deno task setup:tools`, or pick a free --port",
      cause: err,
    });
  }
  try {
    if (opts.output === "json") {
      printJsonLine("db-ready", {
        event: "db-ready",
        url: server.url,
        dataDir,
        port,
        passwordFile,
      });
    } else {
      const shown = server.url.replace(`:${encodeURIComponent(password)}@`, ":***@");
      console.log(`PostgreSQL at ${shown} (data in ${dataDir}; password in ${passwordFile})`);
      console.log(
        "Give each town process the URL with the password, in its config.toml ([store] url) or " +
          "TURNPIKE_STORE_URL rather than on its command line (other users see command lines):",
      );
      console.log(`  TURNPIKE_STORE_URL="${shown.replace("***", `$(cat ${passwordFile})`)}"`);
      console.log("Ctrl-C stops it (the data stays).");
    }
    await stopped;
  } finally {
    await server.stop("fast").catch(() => {});
  }
  if (opts.output === "json") printJsonLine("db-stopped", { event: "db-stopped" });
  else console.log("PostgreSQL stopped");
}

/** The server's password from `path`, made (32 random bytes, hex, 0600) when there is none. */
async function dbPassword(path: string): Promise<string> {
  const kept = await Deno.readTextFile(path).then((t) => t.trim(), () => undefined);
  if (kept) return kept;
  const password = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  // createNew: two `db up` at once cannot each keep a different one.
  await Deno.writeTextFile(path, `${password}\n`, { mode: 0o600, createNew: true });
  await Deno.chmod(path, 0o600);
  return password;
}

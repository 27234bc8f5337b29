/**
 * Test helper: a real `turnpike town up` process (free HTTP and BTP ports) from a state dir
 * with a wallet, up once it printed the banner line a test waits for; its banner fields; and a
 * stop that requires a clean exit (SIGINT, exit code 0).
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { type CliProcess, spawnCli } from "./cli_process.ts";

/** Options for {@linkcode startCliTown}. */
export interface CliTownOptions {
  stateDir: string;
  /** Passphrase flags (`--passphrase-file <file> --non-interactive`). */
  secret: string[];
  /** The banner line after which the town counts as up. */
  ready: (line: string) => boolean;
}

/** A running `town up`. */
export interface CliTown extends AsyncDisposable {
  process: CliProcess;
  /** The line `ready` accepted. */
  readyLine: string;
  /** A banner field (`  <name>   <value>`), "" when not printed. */
  field(name: string): string;
  /** `ws://127.0.0.1:<httpPort>` (NIP-01 relay). */
  relayUrl: string;
  /** `http://127.0.0.1:<httpPort>`. */
  httpUrl: string;
  /** `btp+ws://127.0.0.1:<btpPort>`. */
  btpUrl: string;
  /** SIGINT, then asserts the town exited 0; idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns `town up` and waits for the ready line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCliTown } from "./cli_town.ts";
 * import { initWalletWithCli } from "./run_cli.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const stateDir = `${dir}/state`;
 * await Deno.writeTextFile(`${dir}/pass`, "a passphrase for the example\n");
 * await initWalletWithCli({ stateDir, passphraseFile: `${dir}/pass` });
 * const secret = ["--passphrase-file", `${dir}/pass`, "--non-interactive"];
 * {
 *   await using town = await startCliTown({ stateDir, secret, ready: (l) => l.includes("learns") });
 *   const health = await fetch(`${town.httpUrl}/health`);
 *   assert.equal(health.status, 200);
 *   await health.body?.cancel();
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startCliTown(options: CliTownOptions): Promise<CliTown> {
  const process = spawnCli([
    "--state-dir",
    options.stateDir,
    "town",
    "up",
    "--town-port",
    "0",
    "--btp-port",
    "0",
    ...options.secret,
  ]);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      process.child.kill("SIGINT");
      const status = await process.done;
      assertEquals(status.code, 0, process.stderr.join("\n"));
    })();
  let readyLine: string;
  try {
    readyLine = await process.waitForLine(options.ready);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  const field = (name: string) =>
    process.stdout().match(new RegExp(`^  ${name}\\s+(\\S+)$`, "m"))?.[1] ?? "";
  return {
    process,
    readyLine,
    field,
    relayUrl: `ws://127.0.0.1:${field("httpPort")}`,
    httpUrl: `http://127.0.0.1:${field("httpPort")}`,
    btpUrl: `btp+ws://127.0.0.1:${field("btpPort")}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

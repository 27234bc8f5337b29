/**
 * Runs the real `turnpike` command (`deno run -A cli.ts ...`) as a subprocess, the way a user
 * or a script would, and returns its exit code and output.
 *
 * @module
 */

/** Options for {@linkcode runCli}. */
export interface RunCliOptions {
  /** Text written to the command's stdin (closed after). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  cwd?: string;
}

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/**
 * Runs `turnpike <args>` and collects its output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli } from "./run_cli.ts";
 *
 * const { code, stdout } = await runCli(["--help"]);
 * assert.equal(code, 0);
 * assert.match(stdout, /turnpike/);
 * ```
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  // Feed stdin while output is read: writing it all first deadlocks once the output fills the pipe.
  const feed = (async () => {
    const writer = child.stdin.getWriter();
    if (options.stdin !== undefined) await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  })();
  const [out] = await Promise.all([child.output(), feed]);
  const dec = new TextDecoder();
  // Deno's own line when another test's process holds the checkout's node_modules lock (many
  // start at once on a loaded machine): not the command's output.
  const stderr = dec.decode(out.stderr).replaceAll(DENO_LOCK_WAIT, "");
  return { code: out.code, stdout: dec.decode(out.stdout), stderr };
}

const DENO_LOCK_WAIT = "Blocking waiting for file lock on node_modules directory\n";

/** Options for {@linkcode initWalletWithCli}. */
export interface InitWalletWithCliOptions {
  /** State dir the wallet is created in. */
  stateDir: string;
  /** File holding the new wallet's passphrase. */
  passphraseFile: string;
  /** Import this mnemonic file instead of generating words. */
  mnemonicFile?: string;
}

/**
 * Creates a wallet the way a user scripts it (`wallet init --non-interactive --passphrase-file`),
 * failing with the command's stderr when it does not exit 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initWalletWithCli } from "./run_cli.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/pass`, "a passphrase for the example\n");
 * const init = await initWalletWithCli({ stateDir: `${dir}/state`, passphraseFile: `${dir}/pass` });
 * assert.equal(init.code, 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function initWalletWithCli(options: InitWalletWithCliOptions): Promise<CliResult> {
  const imported = options.mnemonicFile === undefined
    ? []
    : ["--import", "--mnemonic-file", options.mnemonicFile];
  const init = await runCli([
    "--state-dir",
    options.stateDir,
    "wallet",
    "init",
    ...imported,
    "--passphrase-file",
    options.passphraseFile,
    "--non-interactive",
  ]);
  if (init.code !== 0) throw new Error(`wallet init exited ${init.code}: ${init.stderr}`);
  return init;
}

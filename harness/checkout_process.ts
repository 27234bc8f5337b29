/**
 * Bench helper: a program of a given checkout (this one, or a worktree of main to compare
 * against) run with that checkout's deno.json, up once it printed its first stdout line; by
 * default `turnpike town up --json` on free ports in a state dir, the idle town the idle-town
 * benches measure (docs/SCALE.md "An idle town's memory"). Both outputs are drained as it runs
 * (`spawnCli`), so a process left idle never blocks on a full pipe.
 *
 * @module
 */
import { type CliProcess, spawnCli } from "./cli_process.ts";

/** How long a process may take to print its first line before it is killed (a start that hangs). */
const FIRST_LINE_TIMEOUT_MS = 120_000;

/** Options for {@linkcode startCheckoutProcess}. */
export interface CheckoutProcessOptions {
  /** The checkout's root: its deno.json is the config, and `cli.ts` the default program. */
  checkout: string;
  /** The program to run; default `<checkout>/cli.ts`. */
  program?: string;
  /** The program's arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Deno flags after `run` (e.g. `--v8-flags=...`). */
  denoFlags?: string[];
}

/** A process of a checkout that has printed its first line. */
export interface CheckoutProcess extends AsyncDisposable {
  process: CliProcess;
  /** The first stdout line. */
  firstLine: string;
  /** Milliseconds from the spawn to the first line. */
  startMs: number;
  /** SIGTERM, then waits for the exit; idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns `deno run <denoFlags> -A --config <checkout>/deno.json <program> <args>` and waits for
 * its first stdout line (killed, and an error, when it ends or takes over two minutes first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCheckoutProcess } from "./checkout_process.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const program = `${dir}/idle.ts`;
 * await Deno.writeTextFile(program, `console.log("{}");\nsetInterval(() => {}, 1 << 30);\n`);
 * const checkout = new URL("..", import.meta.url).pathname;
 * {
 *   await using idle = await startCheckoutProcess({ checkout, program });
 *   assert.equal(idle.firstLine, "{}");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startCheckoutProcess(
  options: CheckoutProcessOptions,
): Promise<CheckoutProcess> {
  const { checkout } = options;
  const t0 = performance.now();
  const process = spawnCli(options.args ?? [], {
    env: options.env,
    command: [
      Deno.execPath(),
      "run",
      ...options.denoFlags ?? [],
      "-A",
      "--config",
      `${checkout}/deno.json`,
      options.program ?? `${checkout}/cli.ts`,
    ],
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        process.child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await process.done;
    })();
  const deadline = setTimeout(() => process.child.kill("SIGKILL"), FIRST_LINE_TIMEOUT_MS);
  try {
    const firstLine = await process.waitForLine(() => true);
    const startMs = performance.now() - t0;
    return { process, firstLine, startMs, stop, [Symbol.asyncDispose]: stop };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(deadline);
  }
}

/** The JSON line `town up --json` prints first (the fields the benches use). */
export interface TownUpLine {
  btpPort: number;
  ilpAddress: string;
  pubkey: string;
}

/** Options for {@linkcode startCheckoutTown}. */
export interface CheckoutTownOptions {
  /** The checkout whose `turnpike` runs. */
  checkout: string;
  /** Its state dir (and `TURNPIKE_HOME`). */
  stateDir: string;
  /** Its key flags; default `--generate-key`. */
  keyArgs?: string[];
  /** More `town up` flags (e.g. `--store <url>`). */
  townArgs?: string[];
  /** Deno flags after `run`. */
  denoFlags?: string[];
}

/** A checkout's `town up`, up. */
export interface CheckoutTown extends CheckoutProcess {
  /** Its first line, parsed. */
  info: TownUpLine;
}

/**
 * Starts `turnpike --state-dir <dir> --json town up` of a checkout on free ports (HTTP and BTP)
 * and waits for its JSON line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCheckoutTown } from "./checkout_process.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const checkout = new URL("..", import.meta.url).pathname;
 * {
 *   await using town = await startCheckoutTown({ checkout, stateDir });
 *   assert(town.info.btpPort > 0);
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function startCheckoutTown(options: CheckoutTownOptions): Promise<CheckoutTown> {
  const started = await startCheckoutProcess({
    checkout: options.checkout,
    denoFlags: options.denoFlags,
    env: { TURNPIKE_HOME: options.stateDir },
    args: [
      "--state-dir",
      options.stateDir,
      "--json",
      "town",
      "up",
      ...options.keyArgs ?? ["--generate-key"],
      "--town-port",
      "0",
      "--btp-port",
      "0",
      ...options.townArgs ?? [],
    ],
  });
  return { ...started, info: JSON.parse(started.firstLine) };
}

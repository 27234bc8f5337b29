/**
 * Test helper: the roles of harness/channel_crash_processes.ts (a claim town, a paying
 * sender) run as real child processes, read line by line, stopped gently (stdin closed) or
 * killed with SIGKILL.
 *
 * @module
 */
import { bytesToHex } from "viem";
import { DatabaseSync } from "node:sqlite";
import type { ChannelPair } from "./anvil_channel_pair.ts";
import type { ClaimTownContact } from "./channel_town.ts";
import type { PayerProcessArgs, TownProcessArgs } from "./channel_crash_processes.ts";
import { lineReader } from "./line_reader.ts";

const SCRIPT = new URL("./channel_crash_processes.ts", import.meta.url).pathname;

/** A running role process. */
export interface ChannelProcess {
  child: Deno.ChildProcess;
  /** The next stdout line, or undefined once stdout ended. */
  readLine(): Promise<string | undefined>;
  /** SIGKILL (if still running), then releases the pipes. */
  kill9(): Promise<void>;
  /** Closes stdin (the town stops cleanly), waits for the exit, releases the pipes. */
  stop(): Promise<void>;
}

/**
 * Spawns `channel_crash_processes.ts <role> <json>` (stderr inherited).
 *
 * It runs a payer process against anvil, so it has no example here:
 * tests/e2e/channel_crash_test.ts kills and restarts one.
 */
export function spawnChannelProcess(
  role: "town" | "payer",
  args: TownProcessArgs | PayerProcessArgs,
): ChannelProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, role, JSON.stringify(args)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = lineReader(child.stdout);
  const release = async () => {
    await lines.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
  };
  return {
    child,
    readLine: () => lines.read(),
    async kill9() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await release();
    },
    async stop() {
      await child.stdin.close().catch(() => {});
      await child.status;
      await release();
    },
  };
}

/** Options for {@linkcode townProcessArgs}. */
export interface TownProcessArgsOptions {
  stateDir: string;
  channelId: `0x${string}`;
  /** false: no claim gate. Default true. */
  settle?: boolean;
}

/**
 * The `town` role's arguments: bob's key and the pair's anvil and contracts.
 *
 * It needs a pair on anvil and a channel, so it has no example here:
 * tests/e2e/channel_crash_test.ts starts its town with it.
 */
export function townProcessArgs(
  pair: ChannelPair,
  options: TownProcessArgsOptions,
): TownProcessArgs {
  return {
    rpcUrl: pair.anvil.rpcUrl,
    tokenAddress: pair.contracts.tokenAddress,
    tokenNetworkAddress: pair.contracts.tokenNetworkAddress,
    stateDir: options.stateDir,
    channelId: options.channelId,
    secretKey: bytesToHex(pair.bobKey),
    settle: options.settle,
  };
}

/** A town process and where to reach it. */
export interface TownProcess {
  process: ChannelProcess;
  contact: ClaimTownContact;
}

/**
 * Spawns the `town` role and reads its contact line.
 *
 * It needs a pair on anvil and a channel, so it has no example here:
 * tests/e2e/channel_crash_test.ts pays its town process with it.
 */
export async function startTownProcess(args: TownProcessArgs): Promise<TownProcess> {
  const process = spawnChannelProcess("town", args);
  const line = await process.readLine();
  if (line === undefined) {
    await process.kill9();
    throw new Error("the town process exited before printing its contact");
  }
  return { process, contact: JSON.parse(line) };
}

/**
 * The ids of the events a claim town's SQLite store holds, read from its file (the town process
 * may be gone): what the town may count as delivered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 * import { storedEventIds } from "./channel_process.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const db = new DatabaseSync(`${dir}/events.sqlite`);
 * db.exec("CREATE TABLE events (id TEXT PRIMARY KEY); INSERT INTO events VALUES ('aa'), ('bb')");
 * db.close();
 * assert.deepEqual(storedEventIds(`${dir}/events.sqlite`), new Set(["aa", "bb"]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function storedEventIds(databasePath: string): Set<string> {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    const rows = db.prepare("SELECT id FROM events").all() as { id: string }[];
    return new Set(rows.map((r) => r.id));
  } finally {
    db.close();
  }
}

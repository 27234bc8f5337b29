/**
 * `turnpike dash`: one screen for a node: the network banner, the town link, the payment
 * channels (with the low-balance warning), this node's jobs with costs and receipts, a running
 * provider's work and earnings, and the network's figures (providers online, jobs/min, success
 * rate, p50/p95 latency, top providers). Live in a terminal (`dash_app.ts`); `--once` prints
 * one frame and exits, for scripts and terminals without a TTY.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { networkField } from "./network_line.ts";
import { parseDurationFlag } from "./duration_flag.ts";
import {
  addTownReadOptions,
  type TownReadFlags,
  type TownReadTarget,
  townReadTarget,
} from "./town_read.ts";
import { readLocalView } from "./dash_model.ts";
import { probeTown, readTownWrites, withWrites } from "./dash_towns.ts";
import type { TownLink } from "./dash_view.ts";
import { startDashLive } from "./dash_live.ts";
import { selfCommand } from "./self_command.ts";
import { fetchNetworkSnapshot, type NetworkSnapshot } from "../roles/requester/network_snapshot.ts";

/** Flags of `turnpike dash`. */
interface DashFlags extends TownReadFlags {
  once?: boolean;
  since?: string;
  connectorBtpUrl?: string;
  btpToken?: string;
  townPubkey?: string;
  passphraseFile?: string;
}

/** Flags handed to `turnpike job cancel` when a job is cancelled from the dashboard. */
const CANCEL_FLAGS = [
  ["relayUrl", "--relay-url"],
  ["connectorBtpUrl", "--connector-btp-url"],
  ["btpToken", "--btp-token"],
  ["townPubkey", "--town-pubkey"],
  ["passphraseFile", "--passphrase-file"],
] as const;

async function cancelJob(stateDir: string, opts: DashFlags, id: string): Promise<string> {
  // The profile's node cancels it; the cancel proves the passphrase (--passphrase-file or
  // TURNPIKE_PASSPHRASE_FILE, docs/AGENTS.md), as every paying command does.
  const args = ["--state-dir", stateDir, "job", "cancel", id, "--non-interactive"];
  for (const [key, flag] of CANCEL_FLAGS) {
    const value = opts[key];
    if (typeof value === "string") args.push(flag, value);
  }
  const [cmd, ...rest] = selfCommand(args);
  const out = await new Deno.Command(cmd, { args: rest, stdin: "null", stdout: "null" }).output();
  if (out.success) return `job ${id.slice(0, 12)} cancelled`;
  const err = new TextDecoder().decode(out.stderr).split("\n").find((l) => l.startsWith("Error:"));
  return `cancel failed: ${err ?? `exit ${out.code}`}`;
}

/** The towns a view reads, in a line: the home town's relay, and how many more. */
function townsLabel(relayUrl: string, moreRelays: string[]): string {
  return moreRelays.length === 0 ? relayUrl : `${relayUrl} (+${moreRelays.length} more towns)`;
}

async function printOnce(
  target: TownReadTarget,
  windowSec: number,
  window: string,
): Promise<void> {
  const { stateDir, relayUrl, moreRelays } = target;
  let town: TownLink = { relayUrl: townsLabel(relayUrl, moreRelays), state: "connected" };
  let snapshot: NetworkSnapshot | undefined;
  const rows = Promise.all([
    Promise.all([...new Set([relayUrl, ...moreRelays])].map((r) => probeTown(r))),
    readTownWrites(stateDir).catch(() => new Map<string, string>()),
  ]).then(([towns, writes]) => withWrites(towns, writes));
  try {
    const unread: string[] = [];
    snapshot = await fetchNetworkSnapshot({
      relayUrl,
      moreRelays,
      windowSec,
      onRelayFailure: (f) => unread.push(`${f.relayUrl}: ${f.error.message}`),
    });
    if (unread.length > 0) town = { ...town, detail: `not read: ${unread.join("; ")}` };
  } catch (err) {
    town = { relayUrl, state: "unreachable", detail: (err as Error).message };
  }
  // ink and React are loaded by `dash` only: they took about 1 s of every command's start when
  // every command imported them (docs/ARCHITECTURE.md "The profile's node").
  const [{ renderToString }, { dashFrame }] = await Promise.all([
    import("ink"),
    import("./dash_view.ts"),
  ]);
  const frame = dashFrame({
    network: networkField(target.network),
    town,
    towns: await rows,
    local: await readLocalView(stateDir),
    snapshot,
    window,
    selected: 0,
  });
  console.log(renderToString(frame, { columns: 80 }));
}

/**
 * Adds `dash` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerDashCommand(new Command("turnpike"));
 * ```
 */
export function registerDashCommand(program: Command): void {
  addTownReadOptions(
    program.command("dash")
      .description("live dashboard: town, channel, jobs, provider, network (q quits)")
      .option("--once", "print one frame and exit (no TTY needed)")
      .option("--since <duration>", "window of the network figures (default 1h)")
      .option("--connector-btp-url <url>", "for cancelling jobs: BTP URL of the town")
      .option("--btp-token <token>", "for cancelling jobs: BTP auth token")
      .option("--town-pubkey <hex>", "for cancelling jobs: the town's pubkey")
      .option("--passphrase-file <file>", "for cancelling jobs: the wallet passphrase"),
  ).action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<DashFlags>();
    const window = opts.since ?? "1h";
    const windowSec = parseDurationFlag(window, "--since");
    const target = await townReadTarget(opts, cmd);
    await Deno.mkdir(target.stateDir, { recursive: true });
    if (opts.once) {
      return await printOnce(target, windowSec, window);
    }
    if (!Deno.stdin.isTerminal()) {
      throw new CliError("the live dashboard needs a terminal", {
        suggestion: "`turnpike dash --once` prints one frame",
        exitCode: ExitCode.Usage,
      });
    }
    const { runDashApp } = await import("./dash_app.ts");
    await runDashApp({
      network: networkField(target.network),
      stateDir: target.stateDir,
      window,
      startLive: (onChange) =>
        startDashLive({
          stateDir: target.stateDir,
          relayUrl: target.relayUrl,
          moreRelays: target.moreRelays,
          windowSec,
          onChange,
        }),
      cancelJob: (id) => cancelJob(target.stateDir, opts, id),
    });
  });
}

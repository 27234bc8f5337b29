/**
 * `turnpike node status`: asks a requester profile's node (`{"type":"node","running":true|false}`,
 * exit 0 either way: it starts with the next paying command), or reads the status file a running
 * provider maintains and exits 1 when no provider runs there. Kept apart from cli/node_command.ts
 * (`node up`) so that it loads none of the provider's code (docs/SCALE.md "A command's start").
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { NODE_LOG_FILE } from "./node_call.ts";
import { nodeHello } from "./profile_node.ts";
import { type LoadedSettings, loadSettings } from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { settingsFlagsFrom, TOWN_CONNECTION_FLAGS } from "./settings_flags.ts";
import {
  isProcessAlive,
  PROVIDER_STATUS_FILE,
  type ProviderStatus,
  ProviderStatusError,
  readProviderStatus,
  statusAmountText,
} from "../roles/provider/provider_status.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { readWitnessBook } from "../roles/requester/witness_book.ts";
import { workerText } from "./witness_worker_text.ts";

/** The root's options and the town connection's, as `node` subcommands take them. */
export interface NodeConnectionOptions extends GlobalOptions {
  relayUrl?: string;
  connectorBtpUrl?: string;
  btpToken?: string;
  pricePerByte?: string;
  priceCeiling?: string;
  allowInsecure?: boolean;
}

/**
 * Adds `node status` to the `node` command.
 *
 * @example
 * ```ts
 * import { addNodeStatusCommand } from "./node_status_command.ts";
 * import { Command } from "commander";
 *
 * addNodeStatusCommand(new Command("turnpike").command("node"));
 * ```
 */
export function addNodeStatusCommand(node: Command): void {
  node.command("status")
    .description("what the provider of this state dir is doing")
    .action(async (_opts: unknown, cmd: Command) => {
      await nodeStatus(cmd.optsWithGlobals<NodeConnectionOptions>(), cmd);
    });
}

/**
 * The settings of a `node` subcommand (a bad one: exit 2).
 *
 * It reads the profile the command's flags name and asks its node, so it has no example that runs
 * here: tests/e2e/profile_node_test.ts
 */
export async function loadNodeSettings(
  opts: NodeConnectionOptions,
  cmd: Command,
): Promise<LoadedSettings> {
  try {
    return await loadSettings({ flags: settingsFlagsFrom(opts, cmd, TOWN_CONNECTION_FLAGS) });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw CLI_ERRORS.badSetting(err);
    }
    throw err;
  }
}

async function nodeStatus(opts: NodeConnectionOptions, cmd: Command): Promise<void> {
  const loaded = await loadNodeSettings(opts, cmd);
  const stateDir = loaded.settings.stateDir;
  // A requester profile's node (docs/ARCHITECTURE.md "The profile's node") answers on its
  // socket; a provider's writes its status file.
  const hello = await nodeHello(stateDir);
  // The remote workers as the Witness last saw them (docs/AGENTS.md "The Witness").
  const workers = (await readWitnessBook(stateDir).catch(() => undefined))?.workers ?? [];
  if (opts.output === "json") { for (const w of workers) printJsonLine("worker", w); }
  else for (const w of workers) console.log(terminalText(`worker      ${workerText(w)}`));
  if (hello !== undefined) {
    const { type: _t, settings: _s, ...node } = hello;
    if (opts.output === "json") printJsonLine("node", { running: true, node });
    else {
      console.log(
        `requester node running (pid ${hello.pid}${hello.background ? ", background" : ""})`,
      );
      console.log(`  pubkey      ${hello.pubkey}`);
      console.log(`  jobs        ${hello.activeJobs} in flight`);
      console.log(`  commands    ${Math.max(0, hello.clients - 1)} connected besides this one`);
      console.log(`  started     ${hello.startedAt}`);
    }
    return;
  }
  if (await isRequesterProfile(loaded, stateDir)) {
    // Not an error: the node starts with the next paying command and stops when idle.
    if (opts.output === "json") printJsonLine("node", { running: false, role: "requester" });
    else {
      console.log(
        "requester node not running: the next paying command (`turnpike job submit`) starts it",
      );
    }
    return;
  }
  let status;
  try {
    status = await readProviderStatus(stateDir);
  } catch (err) {
    if (err instanceof ProviderStatusError) {
      throw new CliError("no node is running on this state dir", {
        context: err.message,
        suggestion: "a requester's node starts with its first paying command (`turnpike job " +
          "submit`) or `turnpike requester`; a provider's with `turnpike node up`",
        cause: err,
      });
    }
    throw err;
  }
  const alive = status.state !== "stopped" && await isProcessAlive(status.pid);
  const view = { ...status, running: alive ? status.running : 0, alive };
  if (opts.output === "json") printJsonLine("provider-status", view);
  else printStatus(status, alive);
  if (!alive) {
    // Scripts and supervisors check the exit code; the report above is the last known state.
    throw new CliError("no provider is running on this state dir", {
      context: stateDir,
      suggestion: "start one with `turnpike node up`",
      printed: opts.output === "json",
    });
  }
}

/**
 * A requester's profile: `role = "requester"` in its config, or no provider status file but the
 * log of a requester node that ran there (a profile made before `role` was written).
 */
async function isRequesterProfile(loaded: LoadedSettings, stateDir: string): Promise<boolean> {
  if (loaded.settings.role === "requester") return true;
  if (loaded.settings.role !== undefined) return false;
  const exists = (name: string) => Deno.stat(`${stateDir}/${name}`).then(() => true, () => false);
  return !(await exists(PROVIDER_STATUS_FILE)) && await exists(NODE_LOG_FILE);
}

function printStatus(status: ProviderStatus, alive: boolean): void {
  const c = status.counters;
  if (alive) console.log(`provider running (pid ${status.pid}, ${status.state})`);
  else if (status.state === "stopped") {
    console.log(`provider not running: stopped at ${status.updatedAt} (pid ${status.pid})`);
  } else {
    // Killed or crashed: it could not record its end, only when it was last seen.
    console.log(
      `provider not running: pid ${status.pid} exited without stopping, last seen ` +
        `${status.updatedAt} (${status.state})`,
    );
  }
  console.log(`  pubkey      ${status.pubkey}`);
  console.log(`  ilpAddress  ${status.ilpAddress}`);
  console.log(`  relay       ${status.relayUrl}`);
  if (status.feed !== undefined) console.log(`  feed        ${status.feed}`);
  for (const s of status.skills) {
    console.log(
      `  skill       ${s.name} kinds ${s.kinds.join(",")} price ${
        statusAmountText(status, s.price)
      }`,
    );
  }
  for (const [folder, why] of Object.entries(status.skillProblems ?? {})) {
    console.log(terminalText(`  not served  ${folder}: ${why}`));
  }
  console.log(
    `  jobs        ${status.inFlight} in flight, ${alive ? status.running : 0} running, ` +
      `${status.openInvoices} open invoices`,
  );
  console.log(
    `  totals      admitted ${c.admitted}, paid ${c.paid}, published ${c.published}, ` +
      `errors ${c.errors}, cancelled ${c.cancelled}`,
  );
  const drops = Object.entries(c.dropped).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(`  dropped     ${drops || "none"}`);
  const amount = (v: string) => statusAmountText(status, v);
  console.log(`  earned      ${amount(c.earned)} (spent on writes ${amount(c.spentOnWrites)})`);
  console.log(`  started     ${status.startedAt}`);
  console.log(`  heartbeat   ${status.lastHeartbeatAt ?? "never"}`);
  if (status.periodicCostPerDay !== undefined) {
    console.log(
      `  periodic    ${amount(status.periodicCostPerDay)} per day (heartbeat, announcements)`,
    );
  }
  console.log(`  updated     ${status.updatedAt}`);
  // An error or an alert may quote what a town or a requester sent.
  if (status.lastError !== undefined) {
    console.log(`  lastError   ${terminalText(status.lastError)}`);
  }
  for (const a of status.alerts?.recent ?? []) {
    console.log(terminalText(`  alert       ${a.ts} ${a.kind}: ${a.message}`));
  }
}

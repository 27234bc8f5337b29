/**
 * `turnpike towns add|list`: the more towns of a profile (config/town_list.ts), besides its
 * home town (`relay_url`): `add <name> --relay-url <url> [--btp-url <url>] [--btp-token <t>]`
 * writes (or rewrites) `[towns.<name>]` in config.toml, checked first as every reader checks
 * it; `list` prints the home town and the others. A requester needs each town's BTP URL and
 * token (its own uplink there); a provider needs only the relay URL (its home uplink routes).
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { explicitProfile } from "./settings_flags.ts";
import { resolveStateDir } from "../config/state_dir.ts";
import { loadSettings } from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { editConfigFile, setTableKeys } from "../config/config_file.ts";
import { profileTowns, resolveTownList } from "../config/town_list.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface TownsFlags extends GlobalOptions {
  relayUrl?: string;
  btpUrl?: string;
  btpToken?: string;
  townPubkey?: string;
  townAddress?: string;
  allowInsecure?: boolean;
}

/**
 * Adds `towns` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerTownsCommand(new Command("turnpike"));
 * ```
 */
export function registerTownsCommand(program: Command): void {
  const towns = program.command("towns")
    .description("the more towns of this profile: followed, announced on, posted on");
  towns.command("add <name>")
    .description("add (or replace) a town: [towns.<name>] in config.toml")
    .requiredOption("--relay-url <url>", "the town's NIP-01 URL (ws:// or wss://)")
    .option("--btp-url <url>", "this node's BTP uplink to that town (a requester needs one)")
    .option("--btp-token <token>", "the BTP token of this node's account on that town")
    .option("--town-pubkey <hex>", "the town's pubkey (default: its NIP-11 self)")
    .option("--town-address <address>", "the town's ILP address (default: its NIP-11 fees)")
    .option("--allow-insecure", "allow non-loopback ws:// / btp+ws:// URLs")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await addTown(name, cmd.optsWithGlobals<TownsFlags>(), cmd);
    });
  towns.command("list")
    .description("the home town and the more towns of this profile")
    .action(async (_o: unknown, cmd: Command) => {
      await listTowns(cmd.optsWithGlobals<TownsFlags>(), cmd);
    });
}

async function addTown(name: string, opts: TownsFlags, cmd: Command): Promise<void> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new CliError(`town name "${name}" must be 1-64 of A-Z a-z 0-9 _ -`, {
      exitCode: ExitCode.Usage,
    });
  }
  const stateDir = resolveStateDir({
    stateDir: opts.stateDir,
    profile: explicitProfile(opts, cmd),
  });
  const entries: Record<string, string> = { relay_url: opts.relayUrl! };
  if (opts.btpUrl !== undefined) entries.btp_url = opts.btpUrl;
  if (opts.btpToken !== undefined) entries.btp_token = opts.btpToken;
  if (opts.townPubkey !== undefined) entries.town_pubkey = opts.townPubkey;
  if (opts.townAddress !== undefined) entries.town_address = opts.townAddress;
  const configFile = `${stateDir}/config.toml`;
  try {
    // Checked as every reader checks it, before anything reaches the disk.
    resolveTownList({ [name]: entries }, {
      allowInsecure: opts.allowInsecure === true,
      requireBtp: false,
    });
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await editConfigFile(
      configFile,
      (text) => setTableKeys(text, ["towns", name], entries, { replace: true }),
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliError(err.message, { context: configFile, exitCode: ExitCode.Usage, cause: err });
  }
  if (opts.output === "json") {
    return printJsonLine("town-added", { added: name, configFile, ...redact(entries) });
  }
  console.log(`town ${name} added: [towns.${name}] in ${configFile}`);
  for (const [k, v] of Object.entries(redact(entries))) console.log(`  ${k} = ${v}`);
  if (opts.btpUrl === undefined) {
    console.log(
      "  (no btp_url: a provider writes there through its home town; a requester " +
        "needs its own uplink: add --btp-url and --btp-token)",
    );
  }
}

async function listTowns(opts: TownsFlags, cmd: Command): Promise<void> {
  let rows: { name: string; relayUrl: string; btpUrl: string }[];
  try {
    const stateDir = resolveStateDir({
      stateDir: opts.stateDir,
      profile: explicitProfile(opts, cmd),
    });
    const loaded = await loadSettings({ flags: { stateDir } });
    const { settings } = loaded;
    rows = [
      { name: "(home)", relayUrl: settings.relayUrl, btpUrl: settings.connectorBtpUrl },
      ...profileTowns(loaded, {
        allowInsecure: settings.allowInsecure,
        requireBtp: false,
      }).map((t) => ({ name: t.name ?? "", relayUrl: t.relayUrl, btpUrl: t.btpUrl })),
    ];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.usage(err);
  }
  if (opts.output === "json") return printJsonLine("towns", { towns: rows });
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    console.log(`${r.name.padEnd(width)}  ${r.relayUrl}  ${r.btpUrl || "(via the home town)"}`);
  }
}

function redact(entries: Record<string, string>): Record<string, string> {
  return entries.btp_token === undefined ? entries : { ...entries, btp_token: "(hidden)" };
}

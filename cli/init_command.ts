/**
 * `turnpike init --role requester|provider|town`: makes a profile ready for its role in one
 * command. It creates the wallet when the state dir has none (the same code as `wallet init`:
 * the passphrase is asked twice, or read from `--passphrase-file` / `--passphrase-fd`; the
 * mnemonic is shown once) and writes config.toml through config/settings.ts and
 * config/config_file.ts:
 *
 * - requester, provider: `role`, `relay_url` (`--town`, default `ws://127.0.0.1:7100`),
 *   `connector_btp_url` (`--btp-url`, default the town's host on port 3000) and `btp_token`
 *   (`--btp-token`, required: the town knows the account by it);
 * - town: `role`, `host`, `town_port`, `btp_port` (defaults 127.0.0.1, 7100, 3000), the BTP
 *   peers (`--peer account:token`, as `[town] peers`) and `[channels] chains`: the `--chain`s
 *   given plus every chain the file already has a `[chains."<id>"]` table with an `rpc_url`
 *   for (a local chain from `turnpike chain up --config`); none: the key is left out and the
 *   town announces no chain until `chain up --config` adds one.
 *
 * Every role: `ca_file` (`--ca-file <pem>`: a CA trusted besides the system's, for a town whose
 * certificate a private CA signed; the file must hold a PEM certificate).
 *
 * An existing config.toml is refused unless `--force`; with it, only the keys above are
 * rewritten and the rest of the file (a chain table, other tables, comments) is kept. An
 * existing wallet is never replaced. The command prints what it wrote (tokens hidden) and the
 * exact command to run next; `--output json` prints one JSON object.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { explicitProfile } from "./settings_flags.ts";
import { createWallet, MNEMONIC_WARNING, printMnemonicOnce } from "./wallet_command.ts";
import { resolveStateDir } from "../config/state_dir.ts";
import {
  loadSettings,
  type Role,
  ROLES,
  type SettingsFlags,
  settingsTomlEntries,
} from "../config/settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { editConfigFile, setTableKeys } from "../config/config_file.ts";
import { resolveTownList } from "../config/town_list.ts";
import { chainsWithRpc, channelsTable, hasAnyChainRpc } from "../config/channel_settings.ts";
import { pathExists } from "../state/path_exists.ts";
import { readWalletFile, walletFilePath, type WalletRecord } from "../identity/wallet_file.ts";
import { parsePeerFlag } from "../config/town_peers.ts";
import { settlementChainIds } from "../config/town_settlement.ts";
import type { BtpPeerAccountConfig } from "../config/town_peers.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface InitOptions extends GlobalOptions {
  passphraseFile?: string;
  passphraseFd?: string;
  role: Role;
  town?: string;
  btpUrl?: string;
  btpToken?: string;
  host?: string;
  townPort?: string;
  btpPort?: string;
  peer?: string[];
  chain?: string[];
  caFile?: string;
  moreTown?: string[];
  allowInsecure?: boolean;
  force?: boolean;
}

/** The default NIP-01 URL of a town (port 7100 on loopback). */
const DEFAULT_TOWN_URL = "ws://127.0.0.1:7100";
/** The default BTP port of a town. */
const DEFAULT_BTP_PORT = 3000;
const HIDDEN = "(hidden)";

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Adds `init` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerInitCommand(new Command("turnpike"));
 * ```
 */
export function registerInitCommand(program: Command): void {
  program.command("init")
    .description("make this profile ready for a role: wallet (if none) and config.toml")
    .addOption(
      new Option("--role <role>", "what this profile is for").choices([...ROLES])
        .makeOptionMandatory(),
    )
    .option(
      "--town <url>",
      `requester/provider: the town's NIP-01 URL (default ${DEFAULT_TOWN_URL})`,
    )
    .option(
      "--btp-url <url>",
      "requester/provider: the town's BTP URL (default: its host, port 3000)",
    )
    .option("--btp-token <token>", "requester/provider: BTP auth token of this account on the town")
    .option("--host <host>", "town: address to bind (default 127.0.0.1)")
    .option("--town-port <port>", "town: NIP-01/HTTP port (default 7100)")
    .option("--btp-port <port>", "town: BTP port (default 3000)")
    .option(
      "--peer <account:token>",
      "town: a BTP account allowed to connect (repeatable)",
      collect,
    )
    .option("--chain <id>", "town: a settlement chain to announce, e.g. evm:base:84532", collect)
    .option(
      "--more-town <name=url>",
      "requester/provider: one more town (its NIP-01 URL) to follow and post on, as " +
        "[towns.<name>]; a requester's uplink there is the URL's host on port 3000 with " +
        "--btp-token (`turnpike towns add` sets others)",
      collect,
    )
    .option(
      "--ca-file <pem>",
      "trust this CA (PEM) for the town's wss:// / btp+wss:// / https:// besides the system's " +
        "(written as ca_file)",
    )
    .option("--allow-insecure", "allow non-loopback ws:// / btp+ws:// URLs")
    .option("--force", "rewrite init's keys in an existing config.toml (the rest is kept)")
    .option("--passphrase-file <file>", "read the new wallet's passphrase from this file")
    .option("--passphrase-fd <n>", "read the new wallet's passphrase from this descriptor")
    .option("--non-interactive", "never prompt")
    .action(async (_opts: unknown, cmd: Command) => {
      await init(cmd.optsWithGlobals<InitOptions>(), cmd);
    });
}

/** What init writes: top-level settings and tables, each as config.toml keys. */
interface ConfigPlan {
  top: Record<string, unknown>;
  tables: { path: string[]; entries: Record<string, unknown> }[];
}

async function init(opts: InitOptions, cmd: Command): Promise<void> {
  const stateDir = resolveStateDir({
    stateDir: opts.stateDir,
    profile: explicitProfile(opts, cmd),
  });
  const plan = await planConfig(opts, stateDir);
  const configFile = `${stateDir}/config.toml`;
  if (!opts.force && await pathExists(configFile)) {
    throw new CliError("a config already exists", {
      context: configFile,
      suggestion: "pass --force to rewrite the keys `init` sets (the rest of the file, e.g. a " +
        "chain table, is kept), or edit the file",
    });
  }
  const walletPath = walletFilePath(stateDir);
  const existing = await pathExists(walletPath) ? await readWalletFile(walletPath) : undefined;
  // --force is about config.toml: a wallet is never replaced here.
  const created = existing ? undefined : await createWallet(stateDir, { ...opts, force: false });
  const wallet: WalletRecord = existing ?? created!.record;
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const written = await writeConfig(configFile, opts.role, plan).catch((err) => {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliError(err.message, {
      context: configFile,
      suggestion:
        "fix the file by hand (it was left as it was), or move it away and run init again",
      cause: err,
    });
  });
  const next = nextSteps(opts, cmd, stateDir, written);
  if (opts.output === "json") {
    printJsonLine("init", {
      role: opts.role,
      stateDir,
      wallet: {
        created: created !== undefined,
        path: walletPath,
        npub: wallet.npub,
        pubkey: wallet.pubkey,
        evmAddress: wallet.evmAddress,
        ...(created && !created.imported
          ? { mnemonic: created.mnemonic, warning: MNEMONIC_WARNING }
          : {}),
      },
      configFile,
      config: redacted(written),
      next: next.command,
      then: next.then,
    });
    return;
  }
  console.log(`Wallet ${created ? "created" : "kept (already there)"}: ${walletPath}`);
  console.log(`  npub         ${wallet.npub}`);
  console.log(`  EVM address  ${wallet.evmAddress}`);
  if (created && !created.imported) printMnemonicOnce(created.mnemonic);
  console.log(`Config written: ${configFile} (role ${opts.role})`);
  for (const line of renderPlan(redacted(written)).trimEnd().split("\n")) {
    console.log(line === "" ? "" : `  ${line}`);
  }
  if (opts.role === "town" && !written.tables.some((t) => t.path[0] === "channels")) {
    console.log("  (no [channels] chains: the town announces no settlement chain yet)");
  }
  console.log(`\nNext: ${next.command}`);
  for (const line of next.then) console.log(`Then: ${line}`);
}

/** Validates the flags for the role and turns them into config.toml keys. */
async function planConfig(opts: InitOptions, stateDir: string): Promise<ConfigPlan> {
  const townOnly = { host: opts.host, "town-port": opts.townPort, "btp-port": opts.btpPort };
  const peerOnly = {
    town: opts.town,
    "btp-url": opts.btpUrl,
    "btp-token": opts.btpToken,
    "more-town": opts.moreTown?.[0],
  };
  const misplaced = Object.entries(
    opts.role === "town" ? peerOnly : {
      ...townOnly,
      peer: opts.peer?.[0],
      chain: opts.chain?.[0],
    },
  ).find(([, v]) => v !== undefined);
  if (misplaced) {
    throw new CliError(`--${misplaced[0]} does not apply to --role ${opts.role}`, {
      suggestion: opts.role === "town"
        ? "a town takes --host, --town-port, --btp-port, --peer and --chain"
        : "a requester or provider takes --town, --btp-url and --btp-token",
      exitCode: ExitCode.Usage,
    });
  }
  const flags: SettingsFlags = { role: opts.role };
  if (opts.allowInsecure) flags.allowInsecure = true;
  // Checked below as every reader checks it: the file is read and its certificates parsed.
  if (opts.caFile !== undefined) flags.caFile = opts.caFile;
  if (opts.role === "town") {
    flags.host = opts.host ?? "127.0.0.1";
    flags.townPort = opts.townPort ?? "7100";
    flags.btpPort = opts.btpPort ?? String(DEFAULT_BTP_PORT);
  } else {
    if (opts.btpToken === undefined) {
      throw new CliError(`--role ${opts.role} needs --btp-token`, {
        context: "the town knows this node's account by its BTP token",
        suggestion: "pass the token the town's operator gave this account (`town up --peer " +
          "<account>:<token>` on the town), e.g. --btp-token alice-token",
        exitCode: ExitCode.Usage,
      });
    }
    flags.relayUrl = opts.town ?? DEFAULT_TOWN_URL;
    flags.connectorBtpUrl = opts.btpUrl ?? btpUrlOf(flags.relayUrl);
    flags.btpToken = opts.btpToken;
  }
  try {
    // The same validation `loadSettings` applies (URLs, ports, insecure hosts), on the flags
    // alone: the environment of this shell is not written into the file.
    await loadSettings({ flags: { ...flags, stateDir }, env: () => undefined, readFile: false });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.badSetting(err);
  }
  const plan: ConfigPlan = { top: settingsTomlEntries(flags), tables: [] };
  if (opts.role !== "town") {
    plan.tables.push(...moreTownTables(opts));
    return plan;
  }
  let peers: BtpPeerAccountConfig[];
  try {
    peers = (opts.peer ?? []).map(parsePeerFlag);
    settlementChainIds(opts.chain ?? []);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.usage(err);
  }
  if (peers.length > 0) {
    plan.tables.push({
      path: ["town"],
      entries: {
        peers: peers.map((p) => ({
          account: p.account,
          token: p.token,
          ...(p.maxPacketAmount !== undefined
            ? { max_packet_amount: p.maxPacketAmount.toString() }
            : {}),
        })),
      },
    });
  }
  if (opts.chain?.length) plan.tables.push({ path: ["channels"], entries: { chains: opts.chain } });
  return plan;
}

/** `btp+ws://<host of the town URL>:3000` (`btp+wss` for a `wss` town). */
/** `--more-town name=url` as `[towns.<name>]` tables, checked as every reader checks them. */
function moreTownTables(opts: InitOptions): ConfigPlan["tables"] {
  const tables: ConfigPlan["tables"] = [];
  for (const flag of opts.moreTown ?? []) {
    const eq = flag.indexOf("=");
    const name = flag.slice(0, eq);
    if (eq < 1 || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new CliError(`--more-town "${flag}" is not <name>=<ws url> (name: A-Z a-z 0-9 _ -)`, {
        exitCode: ExitCode.Usage,
      });
    }
    const relayUrl = flag.slice(eq + 1);
    const entries: Record<string, string> = { relay_url: relayUrl };
    if (opts.role === "requester") {
      entries.btp_url = btpUrlOf(relayUrl);
      entries.btp_token = opts.btpToken ?? "";
    }
    try {
      resolveTownList({ [name]: entries }, {
        allowInsecure: opts.allowInsecure === true,
        requireBtp: false,
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new CliError(err.message, { context: "--more-town", exitCode: ExitCode.Usage });
    }
    tables.push({ path: ["towns", name], entries });
  }
  return tables;
}

function btpUrlOf(townUrl: string): string {
  try {
    const url = new URL(townUrl);
    const scheme = url.protocol === "wss:" ? "btp+wss" : "btp+ws";
    return `${scheme}://${
      url.hostname.includes(":") ? `[${url.hostname}]` : url.hostname
    }:${DEFAULT_BTP_PORT}`;
  } catch {
    return townUrl; // not a URL: loadSettings says so, naming --town
  }
}

/** Writes the plan; a town also lists the chains the file already has a table for. */
async function writeConfig(path: string, role: Role, plan: ConfigPlan): Promise<ConfigPlan> {
  const written: ConfigPlan = { top: plan.top, tables: [...plan.tables] };
  await editConfigFile(path, (text, current) => {
    if (role === "town") {
      const local = chainsWithRpc(current);
      const given = plan.tables.find((t) => t.path[0] === "channels");
      const chains = [...new Set([...(given?.entries.chains as string[] ?? []), ...local])];
      written.tables = written.tables.filter((t) => t.path[0] !== "channels");
      if (chains.length > 0) written.tables.push({ path: ["channels"], entries: { chains } });
    } else if (hasAnyChainRpc(current) && channelsTable(current).auto === undefined) {
      // A payer with a chain pays over a channel it runs itself (unless the file says not to).
      written.tables.push({ path: ["channels"], entries: { auto: true } });
    }
    let next = text === ""
      ? `# turnpike ${role} profile, written by \`turnpike init\` (docs/OPERATIONS.md)\n`
      : text;
    next = setTableKeys(next, [], written.top);
    for (const t of written.tables) next = setTableKeys(next, t.path, t.entries);
    return next;
  });
  return written;
}

function redacted(plan: ConfigPlan): ConfigPlan {
  const hide = (entries: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(entries).map(([k, v]) => [
        k,
        k === "btp_token" || k === "token"
          ? HIDDEN
          : Array.isArray(v)
          ? v.map((x) =>
            typeof x === "object" && x !== null ? hide(x as Record<string, unknown>) : x
          )
          : v,
      ]),
    );
  return {
    top: hide(plan.top),
    tables: plan.tables.map((t) => ({ path: t.path, entries: hide(t.entries) })),
  };
}

function renderPlan(plan: ConfigPlan): string {
  let text = setTableKeys("", [], plan.top);
  for (const t of plan.tables) text = setTableKeys(text, t.path, t.entries);
  return text;
}

/** The command to run next, and what follows, as the user addresses this profile. */
function nextSteps(
  opts: InitOptions,
  cmd: Command,
  stateDir: string,
  written: ConfigPlan,
): { command: string; then: string[] } {
  const profile = explicitProfile(opts, cmd);
  const me = opts.stateDir !== undefined
    ? `turnpike --state-dir ${shellWord(opts.stateDir)}`
    : profile !== undefined
    ? `turnpike --profile ${shellWord(profile)}`
    : "turnpike";
  const secret = opts.passphraseFile !== undefined
    ? ` --passphrase-file ${shellWord(opts.passphraseFile)}`
    : opts.passphraseFd !== undefined
    ? ` --passphrase-fd ${opts.passphraseFd}`
    : "";
  const quiet = secret && opts.nonInteractive ? " --non-interactive" : "";
  const chainUp = `turnpike chain up --config ${shellWord(stateDir)}`;
  if (opts.role === "town") {
    const settles = written.tables.some((t) => t.path[0] === "channels");
    return {
      command: `${me} town up${secret}${quiet}`,
      then: settles ? [] : [
        `for payment channels, a local chain (in its own terminal; it writes [channels] chains ` +
        `here, so start or restart the town after it): ${chainUp} --config <each payer's state dir>`,
      ],
    };
  }
  return {
    command: opts.role === "provider"
      ? `${me} node up${secret}${quiet}`
      : `${me} job submit echo --input text:hello --bid 50000 --wait${secret}${quiet}`,
    then: [
      `to pay the town over a payment channel: ${chainUp} (with the town's --config too; it ` +
      `sets [channels] auto here, so the first paid command opens and funds a channel)`,
    ],
  };
}

function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

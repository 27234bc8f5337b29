/**
 * `turnpike chain up`: a local development chain for payment channels (anvil with the
 * project's contracts, roles/local_chain.ts), in the foreground until Ctrl-C. It funds the
 * addresses given and the wallet of every state dir given (`--config`), and writes into each
 * of those state dirs' config.toml what its node needs to use the chain: the
 * `[chains."evm:base:31337"]` table (RPC URL, contracts) and, for a town's state dir (`role =
 * "town"`, or a `[town]` table), the chain in `[channels] chains`, so the town announces it in
 * its kind 10032 and `channel open --town` finds it. Testnets (Base Sepolia) need no command:
 * they are configuration (docs/OPERATIONS.md).
 *
 * A provider's state dir given with a town's (its `btp_token` one of the town's `[town] peers`)
 * is paid on chain by that town (docs/OPERATIONS.md "Paying providers"): the town's config gets
 * `[town.payouts.addresses] <account> = "<the provider's wallet address>"` and, unless it says
 * otherwise, `[town.payouts] threshold = 1` (each payment claimed at once: claims are off chain,
 * and a local chain is for trying things) and `[town] peer_credit_limit = "1000000"` (what a
 * peer without a channel may spend on writes beyond what it earned), and the provider's `[channels] auto = false` (a
 * channel of its own with the town would be the pair's one channel, which the town's payouts
 * cannot use; it pays its writes without one, as the demo's provider does).
 *
 * @module
 */
import type { Command } from "commander";
import { formatUnits, parseUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { stopSignal } from "./stop_signal.ts";
import { ExitCode } from "./exit_codes.ts";
import { AnvilError } from "../chain/anvil.ts";
import { LOCAL_CHAIN } from "../config/chain_config.ts";
import { loadSettings } from "../config/settings.ts";
import { channelsTable, hasTownTable, listedChannelChains } from "../config/channel_settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { editConfigFile, setTableKeys } from "../config/config_file.ts";
import { pathExists } from "../state/path_exists.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { type LocalChain, startLocalChain } from "../roles/local_chain.ts";
import { registerChainDeploy } from "./chain_deploy_command.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface ChainUpOptions extends GlobalOptions {
  port: string;
  fund?: string[];
  tokens: string;
  config?: string[];
  anvil?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TOKEN_DECIMALS = 6;

/**
 * Adds `chain up` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerChainCommand(new Command("turnpike"));
 * ```
 */
export function registerChainCommand(program: Command): Command {
  const chain = program.command("chain").description(
    "chains for payment channels: a local one (anvil + the contracts), or deploy to one",
  );
  chain.command("up")
    .description("start anvil, deploy TokenNetwork + M2M test token, fund accounts; Ctrl-C stops")
    .option("--port <n>", "loopback port (0: a free one)", "8545")
    .option("--fund <address>", "EVM address to fund with tokens and 1 ETH (repeatable)", collect)
    .option("--tokens <amount>", "M2M per funded address", "100")
    .option(
      "--config <state-dir>",
      "write the chain into <state-dir>/config.toml and fund its wallet (repeatable)",
      collect,
    )
    .option("--anvil <path>", "anvil binary (default: tools/node_modules)")
    .action(async (_o: unknown, cmd: Command) => {
      await chainUp(cmd.optsWithGlobals<ChainUpOptions>());
    });
  registerChainDeploy(chain);
  return chain;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function chainUp(opts: ChainUpOptions): Promise<void> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`--port must be 0-65535, got "${opts.port}"`, { exitCode: ExitCode.Usage });
  }
  const given = (opts.fund ?? []).map((a) => {
    if (!ADDRESS.test(a)) {
      throw new CliError(`--fund must be a 0x EVM address, got "${a}"`, {
        suggestion: "`turnpike wallet show` prints a node's EVM address",
        exitCode: ExitCode.Usage,
      });
    }
    return a as `0x${string}`;
  });
  const targets = await Promise.all((opts.config ?? []).map(configTarget));
  const fund = [...given];
  for (const t of targets) {
    const address = t.wallet;
    if (address && !fund.some((a) => a.toLowerCase() === address.toLowerCase())) fund.push(address);
  }
  if (!/^\d{1,12}(\.\d{1,6})?$/.test(opts.tokens)) {
    throw new CliError(`--tokens must be an amount of M2M, got "${opts.tokens}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  const tokens = parseUnits(opts.tokens, TOKEN_DECIMALS);
  const stopped = stopSignal();
  let chain: LocalChain;
  try {
    chain = await startLocalChain({
      port,
      fund: fund.map((to) => ({ to })),
      tokens,
      binary: opts.anvil,
    });
  } catch (err) {
    if (!(err instanceof AnvilError)) throw err;
    throw new CliError(`the local chain did not start: ${err.message}`, {
      context: `port ${port}`,
      suggestion: "install anvil with `npm install --prefix tools`, or pick a free --port",
      cause: err,
    });
  }
  try {
    const written: WrittenConfig[] = [];
    for (const target of targets) {
      written.push(await writeChainConfig(target, chain, payoutsOf(target, targets)));
    }
    report(opts, chain, fund, tokens, written);
    await stopped;
  } finally {
    await chain.stop();
  }
  if (opts.output === "json") printJsonLine("chain-stopped", { event: "chain-stopped" });
  else console.log("chain stopped (its state is gone)");
}

function report(
  opts: ChainUpOptions,
  chain: LocalChain,
  fund: readonly string[],
  tokens: bigint,
  written: readonly WrittenConfig[],
): void {
  if (opts.output === "json") {
    printJsonLine("chain-ready", {
      event: "chain-ready",
      chain: LOCAL_CHAIN,
      rpcUrl: chain.anvil.rpcUrl,
      tokenNetwork: chain.contracts.tokenNetworkAddress,
      token: chain.contracts.tokenAddress,
      funded: fund,
      tokensEach: tokens.toString(),
      configs: written.map((w) => w.path),
      // The towns among them: they now announce the chain (`[channels] chains`).
      settles: written.filter((w) => w.settles).map((w) => w.path),
      // The providers those towns pay on chain (`[town.payouts.addresses]`).
      payouts: written.flatMap((w) =>
        Object.entries(w.payouts ?? {}).map(([account, address]) => ({
          config: w.path,
          account,
          address,
        }))
      ),
    });
    return;
  }
  console.log(`Chain: local anvil (${LOCAL_CHAIN}, local) at ${chain.anvil.rpcUrl}`);
  console.log(`TokenNetwork ${chain.contracts.tokenNetworkAddress}`);
  console.log(`token        ${chain.contracts.tokenAddress} (M2M, ${TOKEN_DECIMALS} decimals)`);
  for (const a of fund) {
    console.log(`funded       ${a}: ${formatUnits(tokens, TOKEN_DECIMALS)} M2M and 1 ETH for gas`);
  }
  for (const w of written) {
    const what = w.settles
      ? "chain table, [channels] chains (town)"
      : w.paidByTown
      ? "chain table, [channels] auto = false (its town pays it over a payout channel)"
      : w.auto
      ? "chain table, [channels] auto (opens and funds a channel with its town when it pays)"
      : "chain table";
    console.log(`config       ${w.path}: ${what}`);
    for (const [account, address] of Object.entries(w.payouts ?? {})) {
      console.log(`             pays ${account} on chain at ${address} ([town.payouts.addresses])`);
    }
  }
  if (written.some((w) => w.settles)) {
    console.log(
      "             (restart a town that is already up: it announces its chains at start)",
    );
  }
  console.log(`\n${chain.configToml}`);
  console.log("Ready. Ctrl-C stops the chain (everything on it is lost).");
}

/** `[town] peer_credit_limit` written for a town that pays its providers: 1 M2M of writes. */
const PROVIDER_WRITE_CREDIT = "1000000";

/** A state dir given with `--config`, as read before the chain starts. */
interface ConfigTarget {
  stateDir: string;
  /** Its wallet's EVM address (funded with the others), when it has a wallet. */
  wallet?: `0x${string}`;
  /** A town's state dir: it must also list the chain in `[channels] chains`. */
  town: boolean;
  /** `[channels] chains` as the file has it. */
  chains: string[];
  /** A provider's state dir (`role = "provider"`). */
  provider: boolean;
  /** Its BTP token (a provider's: which of a town's peers it is). */
  btpToken?: string;
  /** A town's `[town] peers`, account and token. */
  peers: { account: string; token: string }[];
  /** A town's `[town.payouts.addresses]` as the file has them. */
  payoutAddresses: Record<string, unknown>;
  /** A town's `[town] peer_credit_limit` is set. */
  peerCreditSet: boolean;
  /** A town's `[town.payouts] threshold` is set. */
  payoutThreshold: boolean;
  /** `[channels] auto` as the file has it. */
  auto: unknown;
}

interface WrittenConfig {
  path: string;
  /** `[channels] chains` got the chain (a town's state dir). */
  settles: boolean;
  /** `[channels] auto = true` was written (a payer's state dir that did not say). */
  auto?: boolean;
  /** A town's: the providers it now pays on chain, account to address. */
  payouts?: Record<string, string>;
  /** A provider's that a town given with it pays on chain. */
  paidByTown?: boolean;
}

async function configTarget(stateDir: string): Promise<ConfigTarget> {
  let loaded;
  try {
    // The state dir's own file only: the environment of this shell is not that node's.
    loaded = await loadSettings({ flags: { stateDir }, env: () => undefined });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliError(err.message, {
      context: `--config ${stateDir}`,
      suggestion: "fix the state dir's config.toml, or pass another --config",
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  const walletPath = walletFilePath(stateDir);
  const wallet = await pathExists(walletPath)
    ? (await readWalletFile(walletPath)).evmAddress as `0x${string}`
    : undefined;
  const townTable = loaded.sections.town ?? {};
  const payouts = isTable(townTable.payouts) ? townTable.payouts : {};
  return {
    stateDir,
    wallet,
    town: loaded.settings.role === "town" || hasTownTable(loaded),
    chains: listedChannelChains(loaded),
    provider: loaded.settings.role === "provider",
    btpToken: loaded.settings.btpToken,
    peers: (Array.isArray(townTable.peers) ? townTable.peers : []).flatMap((p: unknown) =>
      isTable(p) && typeof p.account === "string" && typeof p.token === "string"
        ? [{ account: p.account, token: p.token }]
        : []
    ),
    payoutAddresses: isTable(payouts.addresses) ? payouts.addresses : {},
    payoutThreshold: payouts.threshold !== undefined,
    peerCreditSet: townTable.peer_credit_limit !== undefined,
    auto: channelsTable(loaded).auto,
  };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a town pays on chain or a provider is paid, among the state dirs given together. */
interface PayoutPlan {
  /** A town's: the providers given with it that are its peers, account to wallet address. */
  addresses: Record<string, `0x${string}`>;
  /** A provider's: a town given with it pays it. */
  paidByTown: boolean;
}

/**
 * The payouts between the towns and providers given together: a provider with a wallet whose
 * BTP token is one of a town's peers' is paid by that town at its wallet's address; an account
 * the town's file already pays somewhere is left as it is.
 */
function payoutsOf(target: ConfigTarget, all: readonly ConfigTarget[]): PayoutPlan {
  const providers = all.filter((t) => t.provider && t.wallet && t.btpToken);
  if (target.town) {
    const addresses: Record<string, `0x${string}`> = {};
    for (const peer of target.peers) {
      const provider = providers.find((p) => p.btpToken === peer.token);
      if (provider && target.payoutAddresses[peer.account] === undefined) {
        addresses[peer.account] = provider.wallet!;
      }
    }
    return { addresses, paidByTown: false };
  }
  const paidByTown = target.provider && target.wallet !== undefined &&
    all.some((t) => t.town && t.peers.some((p) => p.token === target.btpToken));
  return { addresses: {}, paidByTown };
}

/**
 * Puts the chain into a state dir's config.toml: its `[chains."evm:base:31337"]` table replaced
 * (or appended), and for a town the chain added to `[channels] chains`; the rest of the file,
 * comments included, is kept.
 */
async function writeChainConfig(
  target: ConfigTarget,
  chain: LocalChain,
  payouts: PayoutPlan,
): Promise<WrittenConfig> {
  await Deno.mkdir(target.stateDir, { recursive: true, mode: 0o700 });
  const path = `${target.stateDir}/config.toml`;
  const settles = target.town && !target.chains.includes(LOCAL_CHAIN);
  const paying = Object.keys(payouts.addresses).length > 0;
  let auto = false;
  await editConfigFile(path, (text, current) => {
    let next = setTableKeys(text, ["chains", LOCAL_CHAIN], chain.chainsTable[LOCAL_CHAIN], {
      replace: true,
    });
    if (paying) {
      if (!target.payoutThreshold) next = setTableKeys(next, ["town", "payouts"], { threshold: 1 });
      // The providers pay their writes without a channel: the credit a town that settles on a
      // chain grants such a peer (0 by default; what it earned is added, docs/PROTOCOL.md).
      if (!target.peerCreditSet) {
        next = setTableKeys(next, ["town"], { peer_credit_limit: PROVIDER_WRITE_CREDIT });
      }
      next = setTableKeys(next, ["town", "payouts", "addresses"], payouts.addresses);
    }
    if (settles) {
      return setTableKeys(next, ["channels"], { chains: [...target.chains, LOCAL_CHAIN] });
    }
    if (target.town || channelsTable(current).auto !== undefined) return next;
    // A provider its town pays pays its writes without a channel; any other payer runs its
    // channel by itself from now on (unless its file says otherwise).
    if (payouts.paidByTown) return setTableKeys(next, ["channels"], { auto: false });
    auto = true;
    return setTableKeys(next, ["channels"], { auto: true });
  });
  return {
    path,
    settles: target.town,
    auto,
    payouts: paying ? payouts.addresses : undefined,
    paidByTown: payouts.paidByTown && target.auto === undefined,
  };
}

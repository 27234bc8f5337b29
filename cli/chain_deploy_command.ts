/**
 * `turnpike chain deploy`: puts the TokenNetwork contract on a chain an RPC URL reaches (a
 * testnet, a remote dev chain, a separate anvil), signed by the profile's wallet, and writes the
 * chain table (`[chains."<id>"]` rpc_url, token_network, token) into the profile's config.toml.
 * On a development chain (id 31337, or any chain id on a loopback RPC: an anvil started as
 * another chain) with no token configured it also deploys the M2M test token
 * (`--token-decimals`, default 6), which the wallet then mints (`--mint`, and
 * `--fund <address>` for others). Base Sepolia has
 * its public RPC and the M2M token as defaults: only the TokenNetwork is deployed. A mainnet
 * chain needs `--mainnet`.
 *
 * RPC URL, chain, token: `--rpc` / `--chain` / `--token`, or `TURNPIKE_RPC_URL`,
 * `TURNPIKE_CHAIN`, `TURNPIKE_TOKEN` (`GASTOWN_BASE_SEPOLIA_RPC` for Base Sepolia), or the chain
 * table: config/settings.ts resolves them.
 *
 * @module
 */
import type { Command } from "commander";
import {
  BaseError,
  createPublicClient,
  http,
  HttpRequestError,
  parseUnits,
  TimeoutError,
} from "viem";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadNodeSigner } from "./node_identity.ts";
import type { LocalAccount } from "viem/accounts";
import { type LoadedSettings, loadSettings } from "../config/settings.ts";
import {
  chainTables,
  channelsTable,
  hasTownTable,
  listedChannelChains,
} from "../config/channel_settings.ts";
import { ConfigError } from "../config/config_error.ts";
import { editConfigFile, setTableKeys } from "../config/config_file.ts";
import {
  type ChainConfig,
  ChainConfigError,
  isDevelopmentChain,
  MainnetConsentError,
  networkLabel,
  resolveChainConfig,
} from "../config/chain_config.ts";
import {
  ContractDeployError,
  deployTokenNetwork,
  mintTestTokens,
} from "../chain/contract_deployer.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";

interface DeployOptions extends GlobalOptions {
  rpc?: string;
  chain?: string;
  token?: string;
  mint: string;
  tokenDecimals?: string;
  fund?: string[];
  mainnet?: boolean;
  passphraseFile?: string;
  passphraseFd?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * Adds `chain deploy` to the `chain` command.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerChainDeploy(new Command("chain"));
 * ```
 */
export function registerChainDeploy(chain: Command): Command {
  return chain.command("deploy")
    .description(
      "deploy the TokenNetwork (and on a dev chain the test token) with the wallet's key; " +
        "write the chain table into the profile's config.toml",
    )
    .option("--rpc <url>", "the chain's JSON-RPC URL (env TURNPIKE_RPC_URL)")
    .option("--chain <id>", "expected chain, e.g. evm:base:84532 (default: the RPC's chain id)")
    .option(
      "--token <address>",
      "ERC-20 to settle in (default: M2M on 84532, a test token on 31337)",
    )
    .option("--mint <amount>", "test token only: M2M minted to the wallet", "100")
    .option("--token-decimals <n>", "test token only: its decimals (default 6)")
    .option("--fund <address>", "test token only: also mint --mint M2M to this address", collect)
    .option("--mainnet", "allow a mainnet chain (real funds)")
    .option("--passphrase-file <file>", "read the wallet passphrase from this file")
    .option("--passphrase-fd <n>", "read the wallet passphrase from this file descriptor")
    .option("--non-interactive", "never prompt")
    .action(async (_o: unknown, cmd: Command) => {
      await chainDeploy(cmd.optsWithGlobals<DeployOptions>());
    });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function chainDeploy(opts: DeployOptions): Promise<void> {
  const loaded = await settingsOf(opts);
  const chain = await chainOf(loaded, opts);
  const fund = (opts.fund ?? []).map((a) => {
    if (!ADDRESS.test(a)) {
      throw new CliError(`--fund must be a 0x EVM address, got "${a}"`, {
        exitCode: ExitCode.Usage,
      });
    }
    return a as `0x${string}`;
  });
  if (chain.tokenAddress === undefined && !isDevelopmentChain(chain.chainId, chain.rpcUrl)) {
    throw new CliError(`chain ${chain.id} has no token configured`, {
      suggestion: "pass --token <address> (the ERC-20 to settle in), or TURNPIKE_TOKEN",
      exitCode: ExitCode.Usage,
    });
  }
  const testTokenDecimals = opts.tokenDecimals === undefined
    ? undefined
    : parseDecimals(opts.tokenDecimals);
  const mint = parseMint(opts.mint, { ...chain, tokenDecimals: testTokenDecimals ?? 6 });
  progress(opts, `Network: ${networkLabel(chain)} at ${chain.rpcUrl}`);
  using signer = await loadNodeSigner({
    stateDir: loaded.settings.stateDir,
    who: "this profile",
    passphraseFile: opts.passphraseFile,
    passphraseFd: opts.passphraseFd,
    nonInteractive: opts.nonInteractive,
  });
  const started = performance.now();
  try {
    const deployed = await deployTokenNetwork({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      account: signer.evm,
      token: chain.tokenAddress,
      testTokenDecimals,
    });
    const minted: `0x${string}`[] = [];
    if (deployed.testToken && mint > 0n) {
      for (const to of [deployed.deployer, ...fund]) {
        await mintTestTokens({
          ...deployedMint(chain, signer.evm, deployed.tokenAddress),
          to,
          amount: mint,
        });
        minted.push(to);
      }
    }
    const written = await writeChainTable(loaded, chain, deployed);
    report(opts, {
      chain,
      ...deployed,
      minted,
      mint,
      config: written,
      ms: Math.round(performance.now() - started),
    });
  } catch (err) {
    if (unanswered(err)) {
      throw new CliError(`the RPC ${chain.rpcUrl} did not answer: ${err.shortMessage}`, {
        context: networkLabel(chain),
        suggestion: "check this machine's network, or pass --rpc <url> (or TURNPIKE_RPC_URL) " +
          "for an RPC of that chain that answers",
        cause: err,
      });
    }
    if (!(err instanceof ContractDeployError)) throw err;
    throw new CliError(err.message, {
      context: networkLabel(chain),
      suggestion: "fund the wallet with the chain's native token for gas (`turnpike wallet show` " +
        "prints its address), and check --rpc",
      cause: err,
    });
  }
}

/** viem's error for an RPC that did not answer (no connection, an HTTP error, a timeout). */
function unanswered(err: unknown): err is BaseError {
  return err instanceof BaseError &&
    err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError) !== null;
}

async function settingsOf(opts: DeployOptions): Promise<LoadedSettings> {
  try {
    return await loadSettings({
      flags: {
        stateDir: opts.stateDir,
        profile: opts.profile,
        ...(opts.rpc ? { rpcUrl: opts.rpc } : {}),
        ...(opts.chain ? { chain: opts.chain } : {}),
        ...(opts.token ? { token: opts.token } : {}),
      },
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.usage(err);
  }
}

/** The chain the RPC serves (checked against `--chain` when given), as configured. */
async function chainOf(loaded: LoadedSettings, opts: DeployOptions): Promise<ChainConfig> {
  const s = loaded.settings;
  const chains = chainTables(loaded);
  const rpcUrl = s.rpcUrl ?? (s.chain ? chains[s.chain]?.rpc_url : undefined);
  if (typeof rpcUrl !== "string" && s.chain === undefined) {
    throw new CliError("no RPC URL to deploy to", {
      suggestion: "pass --rpc <url> (or TURNPIKE_RPC_URL), or --chain evm:base:84532",
      exitCode: ExitCode.Usage,
    });
  }
  try {
    let id = s.chain;
    if (id === undefined) {
      const served = await createPublicClient({ transport: http(rpcUrl as string) }).getChainId();
      id = `evm:base:${served}`;
    }
    return resolveChainConfig(id, {
      section: chains[id],
      overrides: typeof rpcUrl === "string" ? { rpcUrl } : {},
      allowMainnet: opts.mainnet,
    });
  } catch (err) {
    if (err instanceof ChainConfigError) {
      throw new CliError(err.message, {
        suggestion: err instanceof MainnetConsentError
          ? "pass --mainnet if you mean it (real funds)"
          : "pass --chain and --rpc for a known chain",
        exitCode: ExitCode.Usage,
        cause: err,
      });
    }
    throw new CliError(`the RPC ${rpcUrl} did not answer: ${(err as Error).message}`, {
      suggestion: "check --rpc and that the chain is up",
      cause: err,
    });
  }
}

function parseDecimals(text: string): number {
  if (!/^\d{1,2}$/.test(text) || Number(text) > 36) {
    throw new CliError(`--token-decimals must be 0..36, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return Number(text);
}

function parseMint(text: string, chain: Pick<ChainConfig, "tokenDecimals">): bigint {
  if (!/^\d{1,12}(\.\d{1,6})?$/.test(text)) {
    throw new CliError(`--mint must be an amount of tokens, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return parseUnits(text, chain.tokenDecimals);
}

function deployedMint(chain: ChainConfig, account: LocalAccount, token: `0x${string}`) {
  return { rpcUrl: chain.rpcUrl, chainId: chain.chainId, account, token };
}

/**
 * The chain table into config.toml (the rest of the file kept); a town announces the chain
 * (`[channels] chains`), a payer runs its channel by itself (`[channels] auto`).
 */
async function writeChainTable(
  loaded: LoadedSettings,
  chain: ChainConfig,
  deployed: { tokenNetworkAddress: string; tokenAddress: string },
): Promise<string> {
  const path = loaded.configFile ?? `${loaded.settings.stateDir}/config.toml`;
  await Deno.mkdir(loaded.settings.stateDir, { recursive: true, mode: 0o700 });
  await editConfigFile(path, (text, current) => {
    let next = setTableKeys(text, ["chains", chain.id], {
      rpc_url: chain.rpcUrl,
      token_network: deployed.tokenNetworkAddress,
      token: deployed.tokenAddress,
    }, { replace: true });
    const listed = listedChannelChains(current);
    const town = current.top.role === "town" || hasTownTable(current);
    if (town && !listed.includes(chain.id)) {
      next = setTableKeys(next, ["channels"], { chains: [...listed, chain.id] });
    } else if (!town && channelsTable(current).auto === undefined) {
      next = setTableKeys(next, ["channels"], { auto: true });
    }
    return next;
  });
  return path;
}

interface DeployReport {
  chain: ChainConfig;
  tokenNetworkAddress: string;
  tokenAddress: string;
  testToken: boolean;
  txs: string[];
  deployer: string;
  minted: string[];
  mint: bigint;
  config: string;
  ms: number;
}

function report(opts: DeployOptions, r: DeployReport): void {
  if (opts.output === "json") {
    printJsonLine("chain-deployed", {
      event: "chain-deployed",
      chain: r.chain.id,
      network: r.chain.network,
      rpcUrl: r.chain.rpcUrl,
      tokenNetwork: r.tokenNetworkAddress,
      token: r.tokenAddress,
      testToken: r.testToken,
      deployer: r.deployer,
      txs: r.txs,
      minted: r.minted,
      mintEach: r.mint.toString(),
      config: r.config,
      ms: r.ms,
    });
    return;
  }
  console.log(`Deployed on ${networkLabel(r.chain)} in ${r.ms} ms (by ${r.deployer})`);
  console.log(`TokenNetwork ${r.tokenNetworkAddress}`);
  console.log(
    `token        ${r.tokenAddress}${r.testToken ? " (test token, minted by this wallet)" : ""}`,
  );
  for (const a of r.minted) console.log(`minted       ${opts.mint} ${r.chain.tokenSymbol} to ${a}`);
  console.log(`config       ${r.config}: [chains."${r.chain.id}"]`);
}

function progress(opts: DeployOptions, line: string): void {
  if (opts.output === "json") console.error(line);
  else console.log(line);
}

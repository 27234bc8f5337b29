/**
 * A settlement chain as configuration: any EVM chain, named `evm:<name>:<chain id>`
 * (`evm:base:8453`, `evm:ethereum:1`). Its name and network label come from the chain id through
 * the one table of known chains (config/known_chains.ts); a mainnet chain, or a chain id the
 * table does not know (treated as real funds), is refused unless the caller passes
 * `allowMainnet` (an explicit CLI flag); it is never a default. Two chains carry defaults: the
 * local anvil chain (`evm:base:31337`, contracts deployed by turnpike at start) and Base Sepolia
 * (`evm:base:84532`, the M2M token and the public RPC `https://sepolia.base.org`: only its
 * TokenNetwork address must be configured). The token's decimals and symbol are the contract's
 * own, read when a node connects (chain/chain_connection.ts); until then they are the defaults
 * of the chain's known token (M2M, 6 decimals).
 *
 * Config file form (`<state dir>/config.toml`):
 *
 * ```toml
 * [chains."evm:base:84532"]
 * rpc_url = "https://sepolia.base.org"
 * token_network = "0x..."        # the TokenNetwork contract for the token
 * token = "0x39eaF99Cd4965A28DFe8B1455DD42aB49D0836B9"  # default for 84532
 * ```
 *
 * @module
 */
import { ConfigLayerError } from "./config_error.ts";
import type { Network } from "./settings.ts";
import { isRealFunds, knownChain, networkText, parseChainId } from "./known_chains.ts";
import { isLoopbackHost } from "./setting_codecs.ts";

/** A chain ready to use: everything the client needs. */
export interface ChainConfig {
  /** `evm:<name>:<chain id>`. */
  id: string;
  /** Numeric EVM chain id (31337, 84532, 8453). */
  chainId: number;
  /** Human name from the table of known chains, e.g. "Base Sepolia" (`chain <id>` if unknown). */
  name: string;
  /** Local, testnet, mainnet or unknown (real funds): shown with every chain operation. */
  network: Network;
  /** JSON-RPC endpoint, http(s). */
  rpcUrl: string;
  /** ERC-20 settled in; undefined until known (anvil: after deployment). */
  tokenAddress?: `0x${string}`;
  /** TokenNetwork contract; undefined until known. */
  tokenNetworkAddress?: `0x${string}`;
  /** Symbol shown next to amounts: the contract's `symbol()` once connected. */
  tokenSymbol: string;
  /** Token decimals for showing and parsing amounts: the contract's `decimals()` once connected. */
  tokenDecimals: number;
}

/** Defaults a chain id string carries beyond the table of known chains. */
interface ChainDefaults {
  rpcUrl?: string;
  tokenAddress?: `0x${string}`;
}

/** The M2M token on Base Sepolia. */
export const BASE_SEPOLIA_M2M_TOKEN = "0x39eaF99Cd4965A28DFe8B1455DD42aB49D0836B9" as const;
/** Base Sepolia's public RPC endpoint: the default when config names none. */
export const BASE_SEPOLIA_PUBLIC_RPC = "https://sepolia.base.org";
/** Chain id string of the local anvil chain. */
export const LOCAL_CHAIN = "evm:base:31337";
/** Chain id string of Base Sepolia. */
export const BASE_SEPOLIA_CHAIN = "evm:base:84532";
/** Chain id string of Base mainnet (needs `allowMainnet`). */
export const BASE_MAINNET_CHAIN = "evm:base:8453";

/** The token an unconnected chain is shown in: the project's M2M, 6 decimals. */
const DEFAULT_TOKEN = { tokenSymbol: "M2M", tokenDecimals: 6 } as const;

const DEFAULTS: Record<string, ChainDefaults> = {
  [BASE_SEPOLIA_CHAIN]: { rpcUrl: BASE_SEPOLIA_PUBLIC_RPC, tokenAddress: BASE_SEPOLIA_M2M_TOKEN },
};

// EVM address form; checksum case is not enforced (config is hand-written).
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The chain cannot be used as configured; `chain` names it. */
export class ChainConfigError extends ConfigLayerError {
  /** `"ChainConfigError"`: explicit so it survives bundling. */
  override name = "ChainConfigError";
  /** `chain`: the chain id string as given (`evm:base:84532`). */
  constructor(readonly chain: string, message: string) {
    super(`chain ${chain}: ${message}`);
  }
}

/** The chain moves real funds (mainnet, or a chain id the table does not know) and `--mainnet` was not given. */
export class MainnetConsentError extends ChainConfigError {
  /** `"MainnetConsentError"`: explicit so it survives bundling. */
  override name = "MainnetConsentError";
}

/** Options for {@linkcode resolveChainConfig}. */
export interface ResolveChainConfigOptions {
  /** The `[chains."<id>"]` table of config.toml (snake_case keys), if any. */
  section?: Record<string, unknown>;
  /** Overrides from flags or a running anvil (camelCase), applied last. */
  overrides?: Partial<Pick<ChainConfig, "rpcUrl" | "tokenAddress" | "tokenNetworkAddress">>;
  /** Accept a mainnet or unknown chain. Only an explicit user flag may set this. */
  allowMainnet?: boolean;
}

/**
 * Refuses a chain that moves real funds (mainnet, or a chain id config/known_chains.ts does not
 * know) unless `allowMainnet`: the one check every command that moves funds makes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * requireMainnetConsent("evm:base:84532", false); // a test net: nothing to confirm
 * assert.throws(() => requireMainnetConsent("evm:base:8453", false), MainnetConsentError);
 * ```
 * @throws {MainnetConsentError} on a real-funds chain without `allowMainnet`.
 */
export function requireMainnetConsent(id: string, allowMainnet: boolean | undefined): void {
  const known = knownChain(chainIdOf(id));
  if (!isRealFunds(known.network) || allowMainnet) return;
  throw new MainnetConsentError(
    id,
    known.network === "mainnet"
      ? `${known.name} (chain id ${known.chainId}) is MAINNET: real funds; pass --mainnet to ` +
        "confirm"
      : `chain id ${known.chainId} is not in the table of known chains (${
        networkText("unknown")
      }); ` +
        "pass --mainnet to confirm",
  );
}

/**
 * Resolves a chain id string (`evm:base:84532`) and its config into a {@linkcode ChainConfig}.
 * Throws {@linkcode ChainConfigError} for a malformed id, a missing RPC URL or a malformed
 * address, and {@linkcode MainnetConsentError} for mainnet or an unknown chain id without the
 * flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const chain = resolveChainConfig("evm:base:84532", {
 *   section: { rpc_url: "https://sepolia.base.org", token_network: "0x" + "11".repeat(20) },
 * });
 * assert.equal(chain.network, "testnet"); // and the chain's known token, as no section names one
 * ```
 */
export function resolveChainConfig(
  id: string,
  options: ResolveChainConfigOptions = {},
): ChainConfig {
  const known = knownChain(chainIdOf(id));
  requireMainnetConsent(id, options.allowMainnet);
  const defaults = DEFAULTS[id] ?? {};
  const section = options.section ?? {};
  const rpcUrl = options.overrides?.rpcUrl ?? stringOf(id, section, "rpc_url") ?? defaults.rpcUrl;
  if (rpcUrl === undefined) {
    throw new ChainConfigError(id, `no RPC URL: set [chains."${id}"] rpc_url in config.toml`);
  }
  if (!/^https?:\/\//.test(rpcUrl)) {
    throw new ChainConfigError(id, `rpc_url must be http(s), got "${rpcUrl}"`);
  }
  return {
    id,
    chainId: known.chainId,
    name: known.name,
    network: known.network,
    rpcUrl,
    tokenAddress: options.overrides?.tokenAddress ?? addressOf(id, section, "token") ??
      defaults.tokenAddress,
    tokenNetworkAddress: options.overrides?.tokenNetworkAddress ??
      addressOf(id, section, "token_network"),
    ...DEFAULT_TOKEN,
  };
}

/** How often a transaction's receipt is polled on a local anvil (~5 ms per mined transaction). */
export const LOCAL_POLLING_MS = 10;
/**
 * How often on any other chain: Base blocks come every 2 s, so polling every second finds a
 * receipt within about a second of its block at 2-3 calls a transaction (10 ms made ~200 calls per
 * transaction on a public RPC, which rate-limits).
 */
export const PUBLIC_POLLING_MS = 1000;

/**
 * The receipt and block polling interval viem clients use on a chain: local on a local chain id
 * (the table's `local`) or an RPC on loopback (an anvil started with another chain's id),
 * public otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(pollingIntervalMs(31337), 10);
 * assert.equal(pollingIntervalMs(84532), 1000);
 * assert.equal(pollingIntervalMs(8453, "http://127.0.0.1:8545"), 10);
 * ```
 */
export function pollingIntervalMs(chainId: number, rpcUrl?: string): number {
  return isDevelopmentChain(chainId, rpcUrl) ? LOCAL_POLLING_MS : PUBLIC_POLLING_MS;
}

/**
 * A development chain: a local chain id of the table (anvil, hardhat), or any chain id an RPC on
 * loopback answers (an anvil started as another chain, `anvil --chain-id 8453`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isDevelopmentChain(8453, "http://127.0.0.1:8545"), true);
 * assert.equal(isDevelopmentChain(8453, "https://mainnet.base.org"), false);
 * ```
 */
export function isDevelopmentChain(chainId: number, rpcUrl?: string): boolean {
  if (knownChain(chainId).network === "local") return true;
  const host = rpcUrl === undefined ? undefined : URL.parse(rpcUrl)?.hostname;
  return host !== undefined && isLoopbackHost(host);
}

/**
 * Parses `evm:<name>:<chain id>` into its numeric chain id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(chainIdOf("evm:base:31337"), 31337);
 * ```
 */
export function chainIdOf(id: string): number {
  const chainId = parseChainId(id);
  if (chainId === undefined) {
    throw new ChainConfigError(id, "is not of the form evm:<name>:<chain id>");
  }
  return chainId;
}

/**
 * The label shown with every chain operation, from the table of known chains, e.g.
 * `Base Sepolia (evm:base:84532, testnet)`, `Base (evm:base:8453, MAINNET, real funds)`,
 * `chain 999 (evm:x:999, unknown: treated as real funds)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const label = networkLabel(resolveChainConfig("evm:base:31337", { overrides: { rpcUrl: "http://127.0.0.1:8545" } }));
 * assert.ok(label.includes("31337"));
 * ```
 */
export function networkLabel(chain: Pick<ChainConfig, "name" | "id" | "network">): string {
  const net = chain.network === "mainnet" ? "MAINNET, real funds" : networkText(chain.network);
  return `${chain.name} (${chain.id}, ${net})`;
}

function stringOf(id: string, section: Record<string, unknown>, key: string): string | undefined {
  const v = section[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > 2048) {
    throw new ChainConfigError(id, `${key} must be a non-empty string`);
  }
  return v;
}

function addressOf(
  id: string,
  section: Record<string, unknown>,
  key: string,
): `0x${string}` | undefined {
  const v = stringOf(id, section, key);
  if (v === undefined) return undefined;
  if (!ADDRESS.test(v)) throw new ChainConfigError(id, `${key} is not a 0x address: "${v}"`);
  return v as `0x${string}`;
}

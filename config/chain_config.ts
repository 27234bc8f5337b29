/**
 * The settlement chains turnpike knows, as configuration: the local anvil chain
 * (`evm:base:31337`, contracts deployed by turnpike at start) and Base Sepolia
 * (`evm:base:84532`, the M2M token and the public RPC `https://sepolia.base.org` by default: only
 * its TokenNetwork address must be configured). Base mainnet (`evm:base:8453`) is known
 * but refused unless the caller passes `allowMainnet` (an explicit CLI flag); it is never a
 * default. Every chain carries its network label so the CLI can always show it.
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

/** A chain ready to use: everything the client needs. */
export interface ChainConfig {
  /** `evm:base:<chain id>`. */
  id: string;
  /** Numeric EVM chain id (31337, 84532, 8453). */
  chainId: number;
  /** Human name, e.g. "Base Sepolia". */
  name: string;
  /** Local, testnet or mainnet: shown with every chain operation. */
  network: Network;
  /** JSON-RPC endpoint, http(s). */
  rpcUrl: string;
  /** ERC-20 settled in; undefined until known (anvil: after deployment). */
  tokenAddress?: `0x${string}`;
  /** TokenNetwork contract; undefined until known. */
  tokenNetworkAddress?: `0x${string}`;
  /** Symbol shown next to amounts. */
  tokenSymbol: string;
  /** Token decimals, for display. */
  tokenDecimals: number;
}

/** Built-in facts about a chain id string. */
interface KnownChain {
  chainId: number;
  name: string;
  network: Network;
  rpcUrl?: string;
  tokenAddress?: `0x${string}`;
  tokenSymbol: string;
  tokenDecimals: number;
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

const KNOWN: Record<string, KnownChain> = {
  [LOCAL_CHAIN]: {
    chainId: 31337,
    name: "local anvil",
    network: "local",
    tokenSymbol: "M2M",
    tokenDecimals: 6,
  },
  [BASE_SEPOLIA_CHAIN]: {
    chainId: 84532,
    name: "Base Sepolia",
    network: "testnet",
    rpcUrl: BASE_SEPOLIA_PUBLIC_RPC,
    tokenAddress: BASE_SEPOLIA_M2M_TOKEN,
    tokenSymbol: "M2M",
    tokenDecimals: 6,
  },
  [BASE_MAINNET_CHAIN]: {
    chainId: 8453,
    name: "Base mainnet",
    network: "mainnet",
    tokenSymbol: "TOKEN",
    tokenDecimals: 6,
  },
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

/** Options for {@linkcode resolveChainConfig}. */
export interface ResolveChainConfigOptions {
  /** The `[chains."<id>"]` table of config.toml (snake_case keys), if any. */
  section?: Record<string, unknown>;
  /** Overrides from flags or a running anvil (camelCase), applied last. */
  overrides?: Partial<Pick<ChainConfig, "rpcUrl" | "tokenAddress" | "tokenNetworkAddress">>;
  /** Accept a mainnet chain. Only an explicit user flag may set this. */
  allowMainnet?: boolean;
}

/**
 * Resolves a chain id string (`evm:base:84532`) and its config into a {@linkcode ChainConfig}.
 * Throws {@linkcode ChainConfigError} for unknown chains, mainnet without the flag, a missing
 * RPC URL or a malformed address.
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
  const known = KNOWN[id];
  if (known === undefined) {
    throw new ChainConfigError(id, `unknown chain (known: ${Object.keys(KNOWN).join(", ")})`);
  }
  if (known.network === "mainnet" && !options.allowMainnet) {
    throw new ChainConfigError(id, "is MAINNET (real money); it needs the explicit --mainnet flag");
  }
  const section = options.section ?? {};
  const rpcUrl = options.overrides?.rpcUrl ?? stringOf(id, section, "rpc_url") ?? known.rpcUrl;
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
      known.tokenAddress,
    tokenNetworkAddress: options.overrides?.tokenNetworkAddress ??
      addressOf(id, section, "token_network"),
    tokenSymbol: stringOf(id, section, "token_symbol") ?? known.tokenSymbol,
    tokenDecimals: known.tokenDecimals,
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
 * The receipt and block polling interval viem clients use on a chain, by its chain id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(pollingIntervalMs(31337), 10);
 * assert.equal(pollingIntervalMs(84532), 1000);
 * ```
 */
export function pollingIntervalMs(chainId: number): number {
  return chainId === 31337 ? LOCAL_POLLING_MS : PUBLIC_POLLING_MS;
}

/**
 * The token a chain's channels are in, as config names it (`[chains."<id>"] token_symbol`, else
 * the chain's default): symbol and decimals, without needing an RPC URL. Undefined for a chain
 * this build does not know.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(chainTokenUnit("evm:base:84532"), { tokenSymbol: "M2M", tokenDecimals: 6 });
 * ```
 */
export function chainTokenUnit(
  id: string,
  section: Record<string, unknown> = {},
): Pick<ChainConfig, "tokenSymbol" | "tokenDecimals"> | undefined {
  const known = KNOWN[id];
  if (known === undefined) return undefined;
  return {
    tokenSymbol: stringOf(id, section, "token_symbol") ?? known.tokenSymbol,
    tokenDecimals: known.tokenDecimals,
  };
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
  const m = /^evm:[a-z0-9-]+:([0-9]{1,12})$/.exec(id);
  if (m === null) throw new ChainConfigError(id, "is not of the form evm:<name>:<chain id>");
  return Number(m[1]);
}

/**
 * The label shown with every chain operation, e.g. `Base Sepolia (evm:base:84532, testnet)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const label = networkLabel(resolveChainConfig("evm:base:31337", { overrides: { rpcUrl: "http://127.0.0.1:8545" } }));
 * assert.ok(label.includes("31337"));
 * ```
 */
export function networkLabel(chain: Pick<ChainConfig, "name" | "id" | "network">): string {
  const net = chain.network === "mainnet" ? "MAINNET, real funds" : chain.network;
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

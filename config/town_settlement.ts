/**
 * What the town settles on, as configured: the chains of `[channels] chains` with the contracts
 * of their `[chains."<id>"]` tables, and the BTP URL peers dial. The town announces it in its kind
 * 10032 at start (roles/town/town_peer_info.ts); its asset is the first chain's token
 * (config/town_settings.ts).
 *
 * ```toml
 * [town]
 * public_btp_url = "btp+wss://town.example:3000"   # default: the listening BTP URL
 * [channels]
 * chains = ["evm:base:84532", "evm:base:31337"]    # default: none (announced as an empty list)
 * [chains."evm:base:84532"]
 * token_network = "0x..."                           # -> tokenNetworks
 * token = "0x..."                                   # -> preferredTokens (84532: M2M by default)
 * ```
 *
 * @module
 */
import { MAX_SUPPORTED_CHAINS } from "../protocol/peer_info.ts";
import { BASE_SEPOLIA_CHAIN, BASE_SEPOLIA_M2M_TOKEN } from "./chain_config.ts";
import { ConfigError } from "./config_error.ts";
import { chainTables } from "./channel_settings.ts";

/** One chain the town settles on, with the contracts it uses there. */
export interface TownSettlementChain {
  /** `evm:base:<chain id>`. */
  chain: string;
  tokenNetwork?: `0x${string}`;
  token?: `0x${string}`;
}

/** What the town announces about settlement. */
export interface TownSettlement {
  /** In order of preference; empty: the town settles on no chain. */
  chains: TownSettlementChain[];
  /** The BTP URL peers should dial; absent: the listening URL. */
  publicBtpUrl?: string;
}

const CHAIN = /^[a-z][a-z0-9]*:[a-z0-9-]+:[0-9]+$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BTP_SCHEMES = ["btp+ws:", "btp+wss:", "ws:", "wss:"];

/** Options for {@linkcode resolveTownSettlement}. */
export interface ResolveTownSettlementOptions {
  /** The config.toml tables (`channels`, `chains`, ...). */
  sections: Record<string, Record<string, unknown>>;
  /** `--public-btp-url` / `town.public_btp_url` / env, already picked by precedence. */
  publicBtpUrl?: unknown;
}

/**
 * Checks the chains a town settles on (`[channels] chains`, `init --chain`): at most
 * `MAX_SUPPORTED_CHAINS` chain ids like `evm:base:84532`, none twice.
 *
 * @example
 * ```ts
 * import { settlementChainIds } from "./town_settlement.ts";
 *
 * console.log(settlementChainIds(["evm:base:31337"])); // ["evm:base:31337"]
 * ```
 * @throws {ConfigError} (key `channels.chains`) when the list is not that.
 */
export function settlementChainIds(listed: unknown): string[] {
  if (
    !Array.isArray(listed) || listed.length > MAX_SUPPORTED_CHAINS ||
    !listed.every((c) => typeof c === "string" && CHAIN.test(c))
  ) {
    throw new ConfigError(
      `channels.chains must be a list of at most ${MAX_SUPPORTED_CHAINS} chain ids like "evm:base:84532"`,
      { key: "channels.chains" },
    );
  }
  if (new Set(listed).size !== listed.length) {
    throw new ConfigError("channels.chains lists a chain twice", { key: "channels.chains" });
  }
  return listed as string[];
}

/**
 * Reads the town's settlement chains from `[channels] chains` and `[chains."<id>"]`.
 *
 * @example
 * ```ts
 * const settlement = resolveTownSettlement({
 *   sections: { channels: { chains: ["evm:base:31337"] } },
 * });
 * // { chains: [{ chain: "evm:base:31337" }] }
 * ```
 */
export function resolveTownSettlement(options: ResolveTownSettlementOptions): TownSettlement {
  const listed = settlementChainIds(options.sections.channels?.chains ?? []);
  const tables = chainTables(options);
  const chains = listed.map((chain): TownSettlementChain => {
    const table = tables[chain] ?? {};
    const token = addressOf(table, chain, "token") ??
      (chain === BASE_SEPOLIA_CHAIN ? BASE_SEPOLIA_M2M_TOKEN : undefined);
    const tokenNetwork = addressOf(table, chain, "token_network");
    return {
      chain,
      ...(tokenNetwork ? { tokenNetwork } : {}),
      ...(token ? { token } : {}),
    };
  });
  const url = options.publicBtpUrl;
  if (url === undefined) return { chains };
  if (typeof url !== "string" || !isBtpUrl(url)) {
    throw new ConfigError(
      `public BTP URL must be btp+ws://, btp+wss://, ws:// or wss://, got ${JSON.stringify(url)}`,
      { key: "publicBtpUrl" },
    );
  }
  return { chains, publicBtpUrl: url };
}

function addressOf(
  table: Record<string, unknown>,
  chain: string,
  key: string,
): `0x${string}` | undefined {
  const v = table[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !ADDRESS.test(v)) {
    throw new ConfigError(`chains."${chain}".${key} is not a 0x address`, {
      key: `chains."${chain}".${key}`,
    });
  }
  return v as `0x${string}`;
}

function isBtpUrl(text: string): boolean {
  try {
    return text.length <= 2048 && BTP_SCHEMES.includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

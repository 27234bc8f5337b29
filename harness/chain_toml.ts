/**
 * Test helper: the `[chains."evm:base:<id>"]` table (31337 unless the pair's chain is another) of a `config.toml` that points a real CLI
 * process at the anvil and contracts of a {@linkcode ChannelPair}, as TOML text or as the
 * parsed `[chains]` table a library call takes.
 *
 * @module
 */
import type { ChannelPair } from "./anvil_channel_pair.ts";

/** Options for {@linkcode chainToml} and {@linkcode chainSections}. */
export interface ChainTomlOptions {
  /**
   * false: only `rpc_url` (the contracts must come from elsewhere, e.g. the peer's kind 10032).
   * Default true.
   */
  contracts?: boolean;
}

/**
 * The `[chains]` table for the pair's anvil, as config.toml parses to.
 *
 * @example
 * ```ts
 * import { chainSections } from "./chain_toml.ts";
 * import type { ChannelPair } from "./anvil_channel_pair.ts";
 *
 * declare const pair: ChannelPair;
 * const chains = chainSections(pair);
 * console.log(Object.keys(chains));
 * ```
 */
export function chainSections(
  pair: Pick<ChannelPair, "anvil" | "contracts"> & { chain?: { id: string } },
  options: ChainTomlOptions = {},
): Record<string, Record<string, string>> {
  const contracts: Record<string, string> = options.contracts === false ? {} : {
    token_network: pair.contracts.tokenNetworkAddress,
    token: pair.contracts.tokenAddress,
  };
  return { [pair.chain?.id ?? "evm:base:31337"]: { rpc_url: pair.anvil.rpcUrl, ...contracts } };
}

/**
 * The chain table for the pair's anvil as TOML text, ending with a newline.
 *
 * @example
 * ```ts
 * import type { ChannelPair } from "./anvil_channel_pair.ts";
 *
 * declare const pair: ChannelPair;
 * const state = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${state}/config.toml`, chainToml(pair));
 * ```
 */
export function chainToml(
  pair: Pick<ChannelPair, "anvil" | "contracts"> & { chain?: { id: string } },
  options: ChainTomlOptions = {},
): string {
  return Object.entries(chainSections(pair, options)).map(([id, section]) =>
    [`[chains."${id}"]`, ...Object.entries(section).map(([k, v]) => `${k} = "${v}"`)].join("\n")
  ).join("\n\n") + "\n";
}

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
 * It reads a pair on anvil, so it has no example here: tests/interop/anvil_channel_watcher_test.ts
 * configures its town with it.
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
 * It reads a pair on anvil, so it has no example here: tests/interop/anvil_channel_cli_test.ts
 * writes the CLI's config with it.
 */
export function chainToml(
  pair: Pick<ChannelPair, "anvil" | "contracts"> & { chain?: { id: string } },
  options: ChainTomlOptions = {},
): string {
  return Object.entries(chainSections(pair, options)).map(([id, section]) =>
    [`[chains."${id}"]`, ...Object.entries(section).map(([k, v]) => `${k} = "${v}"`)].join("\n")
  ).join("\n\n") + "\n";
}

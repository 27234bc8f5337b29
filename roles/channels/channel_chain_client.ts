/**
 * The chain client of an existing channel: the channel lives on the contract and token it was
 * opened on (its file says which), whatever config.toml names today; the RPC URL and the
 * mainnet guard come from config.
 *
 * @module
 */
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";

/** Options for {@linkcode channelChainClient}. */
export interface ChannelChainClientOptions {
  /** The `[chains]` table of config.toml (`[chains."<id>"] rpc_url = ...`). */
  chains?: Record<string, unknown>;
  /** Signs the node's transactions (the channel's own participant). */
  signer: NodeSigner;
  /** Accept a mainnet chain. Only an explicit user flag may set this. */
  allowMainnet?: boolean;
}

/**
 * Whether config.toml names an RPC URL for the channel's chain (else nothing can be read).
 *
 * @example
 * ```ts
 * import { hasChainRpc } from "./channel_chain_client.ts";
 * import { chainTables } from "../../config/channel_settings.ts";
 * import type { LoadedSettings } from "../../config/settings.ts";
 *
 * declare const loaded: LoadedSettings;
 * declare const record: Parameters<typeof hasChainRpc>[0];
 * declare function watch(r: typeof record): void;
 * if (hasChainRpc(record, chainTables(loaded))) watch(record);
 * ```
 */
export function hasChainRpc(
  record: Pick<ChannelRecord, "chain">,
  chains: Record<string, unknown> | undefined,
): boolean {
  const table = chains?.[record.chain];
  return typeof table === "object" && table !== null && "rpc_url" in table;
}

/**
 * A TokenNetworkClient for the channel of `record`.
 *
 * @example
 * ```ts
 * import { channelChainClient } from "./channel_chain_client.ts";
 * import { chainTables } from "../../config/channel_settings.ts";
 * import type { LoadedSettings } from "../../config/settings.ts";
 *
 * declare const loaded: LoadedSettings;
 * declare const record: Parameters<typeof channelChainClient>[0];
 * declare const signer: Parameters<typeof channelChainClient>[1]["signer"];
 * const client = channelChainClient(record, { chains: chainTables(loaded), signer });
 * ```
 * @throws {ChainConfigError} when the chain's config is missing or invalid, or is mainnet
 * without `allowMainnet`.
 */
export function channelChainClient(
  record: ChannelRecord,
  options: ChannelChainClientOptions,
): TokenNetworkClient {
  const table = options.chains?.[record.chain];
  const chain = resolveChainConfig(record.chain, {
    section: typeof table === "object" && table !== null
      ? table as Record<string, unknown>
      : undefined,
    overrides: {
      tokenNetworkAddress: record.tokenNetworkAddress,
      tokenAddress: record.tokenAddress,
    },
    allowMainnet: options.allowMainnet,
  });
  return new TokenNetworkClient({ chain, account: options.signer.evm });
}

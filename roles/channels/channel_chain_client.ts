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
 * import assert from "node:assert/strict";
 * import { hasChainRpc } from "./channel_chain_client.ts";
 *
 * const chains = { "evm:base:31337": { rpc_url: "http://127.0.0.1:8545" } };
 * assert.equal(hasChainRpc({ chain: "evm:base:31337" }, chains), true);
 * assert.equal(hasChainRpc({ chain: "evm:base:84532" }, chains), false); // none configured
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
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 * import { channelChainClient } from "./channel_chain_client.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * using signer = localNodeSigner(generateSecretKey());
 * // Nothing is sent until the client is used: this only builds it.
 * const client = channelChainClient(record, {
 *   chains: { "evm:base:31337": { rpc_url: "http://127.0.0.1:8545" } }, signer });
 * assert.deepEqual([client.address, client.tokenNetworkAddress], [signer.evm.address, record.tokenNetworkAddress]);
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

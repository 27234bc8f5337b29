/**
 * The first record of a channel file, as `turnpike channel open` writes it for the opener and
 * `turnpike channel recover` rebuilds it from the contract (the demo does both, for its two
 * sides): the chain, contract, token and own address come from the chain client, every amount
 * starts at zero, and recovery then applies the chain's numbers (roles/channels/channel_chain_sync.ts).
 *
 * @module
 */
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { DEFAULT_WARN_PERCENT } from "../../config/channel_settings.ts";
import type { ChannelRecord, ChannelStatus } from "../../state/channels/channel_file.ts";

/** Options for {@linkcode newChannelRecord}. */
export interface NewChannelRecordOptions {
  channelId: `0x${string}`;
  /** The other participant's EVM address. */
  peerAddress: `0x${string}`;
  /** Seconds between a close and the earliest settle. */
  settleTimeout: bigint;
  /** Our deposit when we just opened and funded it; 0 when recovering (the chain fills it). */
  deposit?: bigint;
  /** The opening transaction, when known (it proves which chain the channel lives on). */
  openTx?: `0x${string}`;
  /** Default `open`. */
  status?: ChannelStatus;
  /** Default {@linkcode DEFAULT_WARN_PERCENT}. */
  warnPercent?: number;
}

/**
 * A fresh record for a channel of the client's account on the client's chain and contract.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * // What a chain client gives: the chain, the node's address and the contracts.
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const client = { chain, address: `0x${"a1".repeat(20)}` as const,
 *   tokenNetworkAddress: `0x${"c1".repeat(20)}` as const, tokenAddress: `0x${"d1".repeat(20)}` as const };
 * const record = newChannelRecord(client, { channelId: `0x${"ab".repeat(32)}`,
 *   peerAddress: `0x${"b2".repeat(20)}`, settleTimeout: 3600n, deposit: 50_000_000n });
 * assert.deepEqual([record.status, record.chain, record.deposit, record.sentNonce],
 *   ["open", "evm:base:31337", 50_000_000n, 0n]);
 * ```
 */
export function newChannelRecord(
  client: Pick<TokenNetworkClient, "chain" | "address" | "tokenNetworkAddress" | "tokenAddress">,
  options: NewChannelRecordOptions,
): ChannelRecord {
  const { chain } = client;
  return {
    channelId: options.channelId,
    chain: chain.id,
    chainId: chain.chainId,
    network: chain.network,
    tokenNetworkAddress: client.tokenNetworkAddress,
    tokenAddress: client.tokenAddress,
    tokenSymbol: chain.tokenSymbol,
    tokenDecimals: chain.tokenDecimals,
    selfAddress: client.address,
    peerAddress: options.peerAddress,
    status: options.status ?? "open",
    deposit: options.deposit ?? 0n,
    peerDeposit: 0n,
    withdrawn: 0n,
    peerWithdrawn: 0n,
    sent: 0n,
    sentNonce: 0n,
    received: 0n,
    receivedNonce: 0n,
    settleTimeout: options.settleTimeout,
    settleAt: 0n,
    openedAt: new Date().toISOString(),
    ...(options.openTx ? { openTx: options.openTx } : {}),
    warnPercent: options.warnPercent ?? DEFAULT_WARN_PERCENT,
  };
}

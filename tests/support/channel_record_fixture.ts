/**
 * Test helper: a channel record for unit tests that read no chain, built by the same
 * `newChannelRecord` as `channel open` (roles/channels/channel_record_builder.ts) on the local anvil
 * chain, with made-up contract addresses unless given.
 *
 * @module
 */
import { LOCAL_CHAIN, resolveChainConfig } from "../../config/chain_config.ts";
import { newChannelRecord } from "../../roles/channels/channel_record_builder.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";

/** Options for {@linkcode fixtureChannelRecord}. */
export interface FixtureChannelRecordOptions {
  selfAddress: `0x${string}`;
  peerAddress: `0x${string}`;
  /** Default `0xabab…`. */
  channelId?: `0x${string}`;
  /** Default `0x1111…`. */
  tokenNetworkAddress?: `0x${string}`;
  /** Default `0x2222…`. */
  tokenAddress?: `0x${string}`;
  /** Our deposit. Default 1 M2M (1,000,000 base units). */
  deposit?: bigint;
}

/**
 * An open channel on `evm:base:31337` (settle timeout 600 s), nothing sent or received;
 * `extra` overrides any field.
 *
 * @example
 * ```ts
 * const selfAddress = "0x1111111111111111111111111111111111111111";
 * const peerAddress = "0x2222222222222222222222222222222222222222";
 * const record = fixtureChannelRecord({ selfAddress, peerAddress }, { sent: 500n, sentNonce: 4n });
 * ```
 */
export function fixtureChannelRecord(
  options: FixtureChannelRecordOptions,
  extra: Partial<ChannelRecord> = {},
): ChannelRecord {
  const tokenNetworkAddress = options.tokenNetworkAddress ?? `0x${"11".repeat(20)}`;
  const tokenAddress = options.tokenAddress ?? `0x${"22".repeat(20)}`;
  const chain = resolveChainConfig(LOCAL_CHAIN, {
    overrides: { rpcUrl: "http://127.0.0.1:8545", tokenNetworkAddress, tokenAddress },
  });
  const client = { chain, address: options.selfAddress, tokenNetworkAddress, tokenAddress };
  return {
    ...newChannelRecord(client, {
      channelId: options.channelId ?? `0x${"ab".repeat(32)}`,
      peerAddress: options.peerAddress,
      settleTimeout: 600n,
      deposit: options.deposit ?? 1_000_000n,
    }),
    ...extra,
  };
}

/**
 * What the settles of a set of channels moved to each address, read from the chain: the token's
 * `Transfer` logs out of the TokenNetwork contract in the transactions that emitted those
 * channels' `ChannelSettled` logs. The scale harness compares a town's side of the requesters'
 * channels with it (docs/SCALE.md "Payment channels and the two-process town (200 agents)"): the
 * town's wallet is not that measure, since the same wallet deposits into the payout channels the
 * town opens while the requesters' channels close, and takes back what a settled payout channel
 * leaves it.
 *
 * @module
 */
import { parseAbiItem } from "viem";
import type { TokenNetworkClient } from "../chain/token_network_client.ts";
import { CHANNEL_SETTLED } from "./payout_settles.ts";

const TRANSFER = parseAbiItem(
  "event Transfer(address indexed from, address indexed to, uint256 value)",
);

/**
 * Sums, by receiving address (lower-case), the tokens the TokenNetwork contract sent in the
 * settle transactions of `channelIds` mined from `fromBlock` on.
 *
 * It reads a chain's logs, so it has no example that runs here: the scale harness
 * (bench/scale_channels.ts) reads each town's share of the requesters' channels with it, and
 * tests/e2e/network_scale_test.ts checks it against the towns' books.
 */
export async function settledTransfers(
  client: TokenNetworkClient,
  fromBlock: bigint,
  channelIds: readonly string[],
): Promise<Map<string, bigint>> {
  const wanted = new Set(channelIds.map((id) => id.toLowerCase()));
  const [settles, transfers] = await Promise.all([
    client.publicClient.getLogs({
      address: client.tokenNetworkAddress,
      event: CHANNEL_SETTLED,
      fromBlock,
      toBlock: "latest",
    }),
    client.publicClient.getLogs({
      address: client.tokenAddress,
      event: TRANSFER,
      args: { from: client.tokenNetworkAddress },
      fromBlock,
      toBlock: "latest",
    }),
  ]);
  const settleTxs = new Set(
    settles.filter((l) => wanted.has(String(l.args.channelId).toLowerCase()))
      .map((l) => String(l.transactionHash).toLowerCase()),
  );
  const byAddress = new Map<string, bigint>();
  for (const t of transfers) {
    if (!settleTxs.has(String(t.transactionHash).toLowerCase())) continue;
    const to = String(t.args.to).toLowerCase();
    byAddress.set(to, (byAddress.get(to) ?? 0n) + (t.args.value ?? 0n));
  }
  return byAddress;
}

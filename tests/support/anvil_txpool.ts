/**
 * Anvil's transaction pool, for tests that stop its mining to line transactions up (the settle
 * races: tests/interop/anvil_channel_settle_race_test.ts,
 * tests/interop/anvil_payout_settle_attribution_test.ts).
 *
 * @module
 */
import { encodeFunctionData } from "viem";
import { anvilRpc } from "../../chain/anvil.ts";
import { TOKEN_NETWORK_ABI } from "../../chain/contract_artifacts.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";

/**
 * Waits until anvil (mining off) holds `n` pending transactions; throws after about 20 s of
 * polling (a hang guard, not a clock asserted).
 *
 * @example
 * ```ts ignore
 * import { waitForPending } from "./anvil_txpool.ts";
 *
 * declare const rpcUrl: string;
 * await waitForPending(rpcUrl, 2); // both settles sent, none mined yet
 * ```
 */
export async function waitForPending(rpcUrl: string, n: number): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    const status = (await anvilRpc(rpcUrl, "txpool_status")) as { pending: string };
    if (Number(status.pending) === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never ${n} transactions pending`);
}

/**
 * Alice settles `channelId` with a transaction signed here, a high tip and a fixed gas (no
 * estimate, so it is sent even while another settle of the channel is pending): mined first of
 * the pending ones. Resolves with its hash.
 *
 * @example
 * ```ts ignore
 * import { sendPriceySettle } from "./anvil_txpool.ts";
 * import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
 *
 * declare const pair: ChannelPair;
 * const tx = await sendPriceySettle(pair, `0x${"c1".repeat(32)}`);
 * ```
 */
export async function sendPriceySettle(
  pair: ChannelPair,
  channelId: `0x${string}`,
): Promise<`0x${string}`> {
  const alice = localEvmAccount(pair.aliceKey);
  return await anvilRpc(pair.anvil.rpcUrl, "eth_sendRawTransaction", [
    await alice.signTransaction({
      type: "eip1559",
      chainId: pair.chain.chainId,
      to: pair.alice.tokenNetworkAddress,
      data: encodeFunctionData({
        abi: TOKEN_NETWORK_ABI,
        functionName: "settleChannel",
        args: [channelId],
      }),
      nonce: await pair.alice.publicClient.getTransactionCount({ address: alice.address }),
      gas: 300_000n,
      maxFeePerGas: 200_000_000_000n,
      maxPriorityFeePerGas: 100_000_000_000n,
    }),
  ]) as `0x${string}`;
}

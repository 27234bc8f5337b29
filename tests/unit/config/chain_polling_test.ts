/**
 * Receipt polling paced to the chain: every 10 ms on a local anvil (transactions mine in about
 * 5 ms), every second on a public chain (2 s blocks; 10 ms meant ~200 RPC calls a transaction).
 * An RPC on loopback is local whatever chain id it answers (an anvil started as Base). The viem
 * clients the TokenNetwork client builds carry the interval.
 */
import { assertEquals } from "../../../harness/assert.ts";
import {
  BASE_SEPOLIA_CHAIN,
  LOCAL_CHAIN,
  pollingIntervalMs,
  resolveChainConfig,
} from "../../../config/chain_config.ts";
import { TokenNetworkClient } from "../../../chain/token_network_client.ts";
import { privateKeyToAccount } from "viem/accounts";

Deno.test("receipt polling: 10 ms on a local anvil, 1 s on Base Sepolia", () => {
  assertEquals([pollingIntervalMs(31337), pollingIntervalMs(84532)], [10, 1000]);
  assertEquals(pollingIntervalMs(84532, "http://127.0.0.1:8545"), 10);
  assertEquals(pollingIntervalMs(84532, "https://sepolia.base.org"), 1000);
  const account = privateKeyToAccount(`0x${"01".repeat(32)}`);
  const tokenNetworkAddress = `0x${"11".repeat(20)}` as const;
  for (const [id, ms] of [[LOCAL_CHAIN, 10], [BASE_SEPOLIA_CHAIN, 1000]] as const) {
    const chain = resolveChainConfig(id, {
      overrides: {
        rpcUrl: id === LOCAL_CHAIN ? "http://127.0.0.1:9" : "https://rpc.example.org",
        tokenNetworkAddress,
        tokenAddress: `0x${"22".repeat(20)}`,
      },
    });
    const client = new TokenNetworkClient({ chain, account });
    assertEquals(client.publicClient.pollingInterval, ms, id);
  }
});

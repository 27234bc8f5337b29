/**
 * An address's balances on a chain, read without a key: the native coin (gas) and the chain's
 * settlement token, for `turnpike wallet balance`.
 *
 * @module
 */
import { createPublicClient, defineChain, http } from "viem";
import type { ChainConfig } from "../config/chain_config.ts";
import { TEST_TOKEN_ABI } from "./contract_artifacts.ts";

/** Balances of one address on one chain, base units. */
export interface ChainBalance {
  /** Native coin (wei): what gas is paid with. */
  native: bigint;
  /** The settlement token; undefined when the chain has no token address configured. */
  token?: bigint;
}

/**
 * Reads an address's balances.
 * It reads a chain, so it has no example that runs here: tests/e2e/economics_test.ts
 */
export async function readChainBalance(
  chain: ChainConfig,
  address: `0x${string}`,
): Promise<ChainBalance> {
  const client = createPublicClient({
    chain: defineChain({
      id: chain.chainId,
      name: chain.name,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chain.rpcUrl] } },
    }),
    transport: http(chain.rpcUrl, { timeout: 10_000 }),
  });
  const native = await client.getBalance({ address });
  if (chain.tokenAddress === undefined) return { native };
  const token = await client.readContract({
    address: chain.tokenAddress,
    abi: TEST_TOKEN_ABI,
    functionName: "balanceOf",
    args: [address],
  });
  return { native, token: BigInt(token as bigint) };
}

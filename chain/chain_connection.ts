/**
 * Connecting to a configured chain: the RPC's `eth_chainId` must be the configured chain's id
 * (a Base profile pointed at a Base Sepolia node is an error, not a quiet test of the wrong
 * chain), and the token's decimals and symbol are the contract's own (ERC-20 `decimals()` and
 * `symbol()`), read once per chain and token and cached for the process. Every amount shown or
 * parsed for a channel uses them (they go into the channel's record at open).
 *
 * @module
 */
import { createPublicClient, erc20Abi, http } from "viem";
import { ChainError } from "./chain_error.ts";
import type { TokenFacts } from "./token_amount.ts";
import { type ChainConfig, networkLabel } from "../config/chain_config.ts";

/** The RPC answers for another chain than the one configured. */
export class ChainIdMismatchError extends ChainError {
  /** `"ChainIdMismatchError"`: explicit so it survives bundling. */
  override name = "ChainIdMismatchError";
  /** `configured`: the chain id config names; `actual`: the RPC's `eth_chainId`. */
  constructor(readonly configured: number, readonly actual: number, message: string) {
    super(message);
  }
}

/** The token contract did not answer `decimals()` or `symbol()` (not an ERC-20 on this chain). */
export class TokenContractError extends ChainError {
  /** `"TokenContractError"`: explicit so it survives bundling. */
  override name = "TokenContractError";
}

/** The RPC did not answer `eth_chainId`. */
export class ChainUnreachableError extends ChainError {
  /** `"ChainUnreachableError"`: explicit so it survives bundling. */
  override name = "ChainUnreachableError";
}

const tokenFactsCache = new Map<string, Promise<TokenFacts>>();
const chainIdCache = new Map<string, Promise<number>>();

/** A cached promise, forgotten when it fails (the next call asks again). */
function cached<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>) {
  let p = cache.get(key);
  if (p === undefined) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * The token's decimals and symbol as its contract says (cached per chain id and token).
 * It reads a chain, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 * @throws {TokenContractError} when the contract does not answer.
 */
export function readTokenFacts(
  chain: Pick<ChainConfig, "id" | "chainId" | "rpcUrl" | "name" | "network"> & {
    tokenAddress: `0x${string}`;
  },
): Promise<TokenFacts> {
  const token = chain.tokenAddress;
  return cached(tokenFactsCache, `${chain.chainId}:${token.toLowerCase()}`, async () => {
    const client = createPublicClient({ transport: http(chain.rpcUrl) });
    try {
      const [decimals, symbol] = await Promise.all([
        client.readContract({ address: token, abi: erc20Abi, functionName: "decimals" }),
        client.readContract({ address: token, abi: erc20Abi, functionName: "symbol" }),
      ]);
      if (!Number.isInteger(decimals) || decimals < 0 || decimals > 36) {
        throw new TokenContractError(`decimals() answered ${decimals}`);
      }
      return { tokenDecimals: decimals, tokenSymbol: symbol };
    } catch (err) {
      const why = (err as { shortMessage?: string }).shortMessage ?? (err as Error).message;
      throw new TokenContractError(
        `the token ${token} on ${networkLabel(chain)} at ${chain.rpcUrl} does not answer ` +
          `decimals()/symbol() as an ERC-20: ${why}; check [chains."${chain.id}"] token`,
        { cause: err },
      );
    }
  });
}

/**
 * The chain as the RPC and the token contract say: `eth_chainId` checked against the
 * configured id, and the token's decimals and symbol read from the contract (when a token is
 * configured). Both cached for the process.
 * It reads a chain, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 * @throws {ChainIdMismatchError} when the RPC is another chain.
 * @throws {TokenContractError} when the token does not answer.
 * @throws {ChainUnreachableError} when the RPC does not answer.
 */
export async function connectChain(chain: ChainConfig): Promise<ChainConfig> {
  const actual = await cached(chainIdCache, chain.rpcUrl, async () => {
    try {
      return await createPublicClient({ transport: http(chain.rpcUrl) }).getChainId();
    } catch (err) {
      const why = (err as { shortMessage?: string }).shortMessage ?? (err as Error).message;
      throw new ChainUnreachableError(
        `the RPC of ${networkLabel(chain)} at ${chain.rpcUrl} does not answer eth_chainId: ${why}`,
        { cause: err },
      );
    }
  });
  if (actual !== chain.chainId) {
    throw new ChainIdMismatchError(
      chain.chainId,
      actual,
      `the RPC at ${chain.rpcUrl} is chain id ${actual}, but ${networkLabel(chain)} is ` +
        `configured (chain id ${chain.chainId}): point [chains."${chain.id}"] rpc_url at a node ` +
        `of that chain, or configure the chain the RPC serves`,
    );
  }
  if (chain.tokenAddress === undefined) return chain;
  const facts = await readTokenFacts({ ...chain, tokenAddress: chain.tokenAddress });
  return { ...chain, ...facts };
}

/**
 * A local development chain for payment channels: anvil (npm `@foundry-rs/anvil`, chain id
 * 31337) with the project's TokenNetwork and test token (M2M, 6 decimals) deployed, and some
 * accounts funded with tokens and gas. What `turnpike chain up` runs for people, and what the
 * demo and the tests start for themselves. Everything lives in anvil's memory: stopping it loses
 * the chain (the contract addresses come out the same on every fresh start: same deployer, same
 * nonces).
 *
 * @module
 */
import {
  type AnvilInstance,
  deployContracts,
  type DeployedContracts,
  fundAccount,
  startAnvil,
} from "../chain/anvil.ts";
import { LOCAL_CHAIN } from "../chain/chain_config.ts";

/** Options for {@linkcode startLocalChain}. */
export interface LocalChainOptions {
  /** Loopback port. Default 0: a free one. */
  port?: number;
  /** EVM addresses to fund. */
  fund?: readonly `0x${string}`[];
  /** Test tokens per funded address, base units. Default 100 M2M. */
  tokens?: bigint;
  /** Wei per funded address for gas. Default 1 ETH. */
  wei?: bigint;
  /** anvil binary (default: the one under tools/). */
  binary?: string;
}

/** A running local chain. */
export interface LocalChain extends AsyncDisposable {
  anvil: AnvilInstance;
  contracts: DeployedContracts;
  /** `evm:base:31337`. */
  chainId: string;
  /** The config.toml table that points a node at this chain. */
  configToml: string;
  /** Stops anvil (the chain is gone). */
  stop(): Promise<void>;
}

/**
 * Starts anvil, deploys the contracts and funds the given addresses.
 *
 * @example
 * ```ts
 * await using chain = await startLocalChain({ fund: ["0x..."] });
 * console.log(chain.configToml);
 * ```
 */
export async function startLocalChain(options: LocalChainOptions = {}): Promise<LocalChain> {
  const anvil = await startAnvil({ port: options.port, binary: options.binary });
  try {
    const contracts = await deployContracts({ rpcUrl: anvil.rpcUrl });
    for (const to of options.fund ?? []) {
      await fundAccount({
        rpcUrl: anvil.rpcUrl,
        tokenAddress: contracts.tokenAddress,
        to,
        tokens: options.tokens ?? 100_000_000n,
        wei: options.wei ?? 10n ** 18n,
      });
    }
    const stop = () => anvil.stop();
    return {
      anvil,
      contracts,
      chainId: LOCAL_CHAIN,
      configToml: localChainToml(anvil.rpcUrl, contracts),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/**
 * The `[chains."evm:base:31337"]` table for a local chain.
 *
 * @example
 * ```ts
 * localChainToml("http://127.0.0.1:8545", contracts);
 * ```
 */
export function localChainToml(rpcUrl: string, contracts: DeployedContracts): string {
  return `[chains."${LOCAL_CHAIN}"]\n` +
    `rpc_url = "${rpcUrl}"\n` +
    `token_network = "${contracts.tokenNetworkAddress}"\n` +
    `token = "${contracts.tokenAddress}"\n`;
}

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
import { LOCAL_CHAIN } from "../config/chain_config.ts";

/** One address to fund; amounts default to the chain options' `tokens` / `wei`. */
export interface LocalChainFunding {
  to: `0x${string}`;
  /** Test tokens, base units. */
  tokens?: bigint;
  /** Wei for gas. */
  wei?: bigint;
}

/** Options for {@linkcode startLocalChain}. */
export interface LocalChainOptions {
  /** Loopback port. Default 0: a free one. */
  port?: number;
  /** Addresses to fund, in order (one minter: sequential, so nonces never clash). */
  fund?: readonly LocalChainFunding[];
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
  /** The parsed `[chains]` table that points a node at this chain (as config.toml has it). */
  chainsTable: Record<string, Record<string, string>>;
  /** The same table as config.toml text. */
  configToml: string;
  /** Stops anvil (the chain is gone). */
  stop(): Promise<void>;
}

/**
 * Starts anvil, deploys the contracts and funds the given addresses.
 *
 * It starts anvil, so it has no example here: tests/e2e/chain_up_test.ts runs it as
 * `turnpike chain up` does.
 */
export async function startLocalChain(options: LocalChainOptions = {}): Promise<LocalChain> {
  const anvil = await startAnvil({ port: options.port, binary: options.binary });
  try {
    const contracts = await deployContracts({ rpcUrl: anvil.rpcUrl });
    for (const { to, tokens, wei } of options.fund ?? []) {
      await fundAccount({
        rpcUrl: anvil.rpcUrl,
        tokenAddress: contracts.tokenAddress,
        to,
        tokens: tokens ?? options.tokens ?? 100_000_000n,
        wei: wei ?? options.wei ?? 10n ** 18n,
      });
    }
    const table = {
      rpc_url: anvil.rpcUrl,
      token_network: contracts.tokenNetworkAddress,
      token: contracts.tokenAddress,
    };
    const stop = () => anvil.stop();
    return {
      anvil,
      contracts,
      chainId: LOCAL_CHAIN,
      chainsTable: { [LOCAL_CHAIN]: table },
      configToml: `[chains."${LOCAL_CHAIN}"]\n` +
        Object.entries(table).map(([k, v]) => `${k} = "${v}"\n`).join(""),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/**
 * Deploys the project's TokenNetwork (and, on a development chain, the test token) from the
 * committed artifacts to any EVM chain an RPC URL reaches, signed by the node's own key: what
 * `turnpike chain deploy` runs. The caller decides which chain is allowed (mainnet only with an
 * explicit flag; config/chain_config.ts).
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import {
  type Abi,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
} from "viem";
import type { LocalAccount } from "viem/accounts";
import {
  TEST_TOKEN_ABI,
  TEST_TOKEN_BYTECODE,
  TOKEN_NETWORK_ABI,
  TOKEN_NETWORK_BYTECODE,
} from "./contract_artifacts.ts";
import { pollingIntervalMs } from "../config/chain_config.ts";

/** Options for {@linkcode deployTokenNetwork}. */
export interface DeployTokenNetworkOptions {
  rpcUrl: string;
  /** The chain's numeric id (checked against the RPC's before anything is sent). */
  chainId: number;
  /** The deployer's EVM account (the node's NIP-06 key, see protocol/node_signer.ts). */
  account: LocalAccount;
  /** The ERC-20 to settle in; absent: a test token is deployed (the deployer may mint it). */
  token?: `0x${string}`;
  /** Test token symbol and decimals. Default "M2M", 6. */
  testTokenSymbol?: string;
  testTokenDecimals?: number;
  /** Bounds of the settle timeout, seconds. Default 1 s to 30 days. */
  minSettleTimeout?: bigint;
  maxSettleTimeout?: bigint;
}

/** What was deployed. */
export interface DeployedTokenNetwork {
  tokenNetworkAddress: `0x${string}`;
  tokenAddress: `0x${string}`;
  /** true when the test token was deployed here. */
  testToken: boolean;
  /** The deployment transactions, in order. */
  txs: Hex[];
  /** The deployer's address. */
  deployer: `0x${string}`;
}

/** The RPC is not the chain expected, the wallet cannot pay gas, or a deployment failed. */
export class ContractDeployError extends ChainError {
  override name = "ContractDeployError";
}

/**
 * Deploys (a test token, then) the TokenNetwork for the token.
 * It deploys to a chain, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 * @throws {ContractDeployError} on a chain id mismatch, no gas, or a reverted deployment.
 */
export async function deployTokenNetwork(
  options: DeployTokenNetworkOptions,
): Promise<DeployedTokenNetwork> {
  const { wallet, pub, account } = clients(options.rpcUrl, options.chainId, options.account);
  const actual = await pub.getChainId();
  if (actual !== options.chainId) {
    throw new ContractDeployError(
      `the RPC ${options.rpcUrl} serves chain ${actual}, not ${options.chainId}`,
    );
  }
  if (await pub.getBalance({ address: account.address }) === 0n) {
    throw new ContractDeployError(`the wallet ${account.address} has no native token for gas`);
  }
  const txs: Hex[] = [];
  const deploy = async (abi: Abi, bytecode: Hex, args: readonly unknown[]) => {
    const hash = await wallet.deployContract({ abi, bytecode, args, account, chain: wallet.chain });
    txs.push(hash);
    const receipt = await pub.waitForTransactionReceipt({
      hash,
      pollingInterval: pollingIntervalMs(options.chainId, options.rpcUrl),
    });
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new ContractDeployError(`deployment failed (tx ${hash})`);
    }
    return receipt.contractAddress;
  };
  const tokenAddress = options.token ??
    await deploy(TEST_TOKEN_ABI, TEST_TOKEN_BYTECODE, [
      "Machine-to-Machine test token",
      options.testTokenSymbol ?? "M2M",
      options.testTokenDecimals ?? 6,
    ]);
  const tokenNetworkAddress = await deploy(
    TOKEN_NETWORK_ABI,
    TOKEN_NETWORK_BYTECODE,
    [tokenAddress, options.minSettleTimeout ?? 1n, options.maxSettleTimeout ?? 30n * 86400n],
  );
  return {
    tokenNetworkAddress,
    tokenAddress,
    testToken: options.token === undefined,
    txs,
    deployer: account.address,
  };
}

/** Options for {@linkcode mintTestTokens}. */
export interface MintTestTokensOptions {
  rpcUrl: string;
  chainId: number;
  /** The test token's minter (its deployer). */
  account: LocalAccount;
  token: `0x${string}`;
  to: `0x${string}`;
  /** Base units. */
  amount: bigint;
}

/**
 * Mints test tokens (only the test token's deployer may).
 * It needs a chain, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 * @throws {ContractDeployError} when the mint reverts.
 */
export async function mintTestTokens(options: MintTestTokensOptions): Promise<Hex> {
  const { wallet, pub, account } = clients(options.rpcUrl, options.chainId, options.account);
  const hash = await wallet.writeContract({
    address: options.token,
    abi: TEST_TOKEN_ABI,
    functionName: "mint",
    args: [options.to, options.amount],
    account,
    chain: wallet.chain,
  });
  const receipt = await pub.waitForTransactionReceipt({
    hash,
    pollingInterval: pollingIntervalMs(options.chainId, options.rpcUrl),
  });
  if (receipt.status !== "success") throw new ContractDeployError(`mint reverted (tx ${hash})`);
  return hash;
}

function clients(rpcUrl: string, chainId: number, account: LocalAccount) {
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl);
  return {
    account,
    wallet: createWalletClient({
      account,
      chain,
      transport,
      pollingInterval: pollingIntervalMs(chainId, rpcUrl),
    }),
    pub: createPublicClient({
      chain,
      transport,
      pollingInterval: pollingIntervalMs(chainId, rpcUrl),
    }),
  };
}

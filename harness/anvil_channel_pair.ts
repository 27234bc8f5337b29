/**
 * Test helper: a fresh anvil with the contracts deployed and two funded NIP-06 identities
 * ("alice" the payer, "bob" the town) each with a TokenNetworkClient.
 *
 * @module
 */
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { ANVIL_ACCOUNT_KEYS, deployContracts, fundAccount, startAnvil } from "../chain/anvil.ts";
import type { AnvilInstance, DeployedContracts } from "../chain/anvil.ts";
import { type ChainConfig, resolveChainConfig } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { connectChain } from "../chain/chain_connection.ts";
import { deriveNip06SecretKey } from "../identity/nip06_key.ts";

/** Fixed test mnemonics (never funds outside anvil). */
export const ALICE_MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
export const BOB_MNEMONIC =
  "legal winner thank year wave sausage worth useful legal winner thank yellow";

/** What {@linkcode startChannelPair} returns. */
export interface ChannelPair extends AsyncDisposable {
  anvil: AnvilInstance;
  contracts: DeployedContracts;
  chain: ChainConfig;
  aliceKey: Uint8Array;
  bobKey: Uint8Array;
  alice: TokenNetworkClient;
  bob: TokenNetworkClient;
}

/** Options for {@linkcode startChannelPair}. */
export interface ChannelPairOptions {
  /** Tokens minted to alice and bob each. Default 100 M2M (6 decimals). */
  tokens?: bigint;
  /**
   * The chain id anvil answers (8453: Base's, a mainnet id; the chain is `evm:base:<id>`,
   * accepted as if `--mainnet` was given). Default 31337.
   */
  chainId?: number;
  /** The test token's decimals and symbol. Default 6, "M2M". */
  tokenDecimals?: number;
  tokenSymbol?: string;
}

/**
 * Starts anvil, deploys, funds alice and bob (tokens + 1 ETH for gas).
 *
 * It starts anvil and deploys the contracts, so it has no example here:
 * tests/interop/anvil_channel_lifecycle_test.ts runs a channel's whole life on it.
 */
export async function startChannelPair(options: ChannelPairOptions = {}): Promise<ChannelPair> {
  const chainId = options.chainId ?? 31337;
  const anvil = await startAnvil({ chainId });
  try {
    const contracts = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      chainId,
      tokenDecimals: options.tokenDecimals,
      tokenSymbol: options.tokenSymbol,
    });
    // Connected: the token's decimals and symbol as the contract says.
    const chain = await connectChain(resolveChainConfig(`evm:base:${chainId}`, {
      overrides: { rpcUrl: anvil.rpcUrl, ...contracts },
      allowMainnet: true,
    }));
    const aliceKey = deriveNip06SecretKey(ALICE_MNEMONIC);
    const bobKey = deriveNip06SecretKey(BOB_MNEMONIC);
    const alice = new TokenNetworkClient({ chain, account: localEvmAccount(aliceKey) });
    const bob = new TokenNetworkClient({ chain, account: localEvmAccount(bobKey) });
    for (const to of [alice.address, bob.address]) {
      await fundAccount({
        rpcUrl: anvil.rpcUrl,
        tokenAddress: contracts.tokenAddress,
        to,
        tokens: options.tokens ?? 100_000_000n,
        wei: 10n ** 18n,
        minterKey: ANVIL_ACCOUNT_KEYS[0],
        chainId,
      });
    }
    return {
      anvil,
      contracts,
      chain,
      aliceKey,
      bobKey,
      alice,
      bob,
      [Symbol.asyncDispose]: () => anvil.stop(),
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/** A third party on a pair's chain: its key and client (see {@linkcode startGasOnlyParty}). */
export interface GasOnlyParty {
  key: Uint8Array;
  client: TokenNetworkClient;
}

/**
 * A third party on the pair's chain with a fresh key, gas to close and settle with (0.1 ETH) and
 * no tokens: a provider the town pays out on chain.
 *
 * It needs a running pair on anvil, so it has no example here:
 * tests/interop/anvil_town_payout_test.ts pays a gas-only party with it.
 */
export async function startGasOnlyParty(pair: ChannelPair): Promise<GasOnlyParty> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const client = new TokenNetworkClient({ chain: pair.chain, account: localEvmAccount(key) });
  await fundAccount({
    rpcUrl: pair.anvil.rpcUrl,
    tokenAddress: pair.contracts.tokenAddress,
    to: client.address,
    tokens: 0n,
    wei: 10n ** 17n,
    chainId: pair.chain.chainId,
  });
  return { key, client };
}

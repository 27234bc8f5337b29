/**
 * What the `turnpike channel` commands meet, each error said as CLI_ERRORS says
 * (cli/cli_error_map.ts; docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { BaseError } from "viem";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { ChainConfigError, MainnetConsentError } from "../config/chain_config.ts";
import {
  ChainIdMismatchError,
  ChainUnreachableError,
  TokenContractError,
} from "../chain/chain_connection.ts";
import {
  ChainTxError,
  InsufficientFundsError,
  InsufficientGasError,
  TokenNetworkConfigError,
} from "../chain/token_network_client.ts";
import { ChannelFileError } from "../state/channels/channel_file.ts";
import { ChannelNotOnChainError } from "../roles/channels/channel_chain_sync.ts";
import { CorruptVaultError, WrongPassphraseError } from "../identity/key_vault.ts";
import {
  PassphraseMismatchError,
  PassphraseSourceError,
  PassphraseUnavailableError,
} from "../identity/passphrase.ts";
import { WalletFileError, WalletNotFoundError } from "../identity/wallet_file.ts";
import { EmptyPassphraseError } from "../identity/wallet.ts";
import { ConfigError } from "../config/config_error.ts";

/** Errors of the local state (wallet, passphrase, config, channel file): said as they are. */
const LOCAL_STATE_ERRORS = [
  WrongPassphraseError,
  CorruptVaultError,
  PassphraseUnavailableError,
  PassphraseSourceError,
  PassphraseMismatchError,
  WalletNotFoundError,
  WalletFileError,
  EmptyPassphraseError,
  TokenNetworkConfigError,
  ChannelFileError,
];

/**
 * Runs a channel command's action, its errors said as CLI_ERRORS says (cli/cli_error_map.ts).
 *
 * @example
 * ```ts
 * import { runChannelAction } from "./channel_error_cases.ts";
 *
 * await runChannelAction(async () => {});
 * ```
 */
export async function runChannelAction(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    throw mapError(err);
  }
}

/** What the channel commands meet, each said as CLI_ERRORS says. */
const CHANNEL_ERROR_CASES = [
  errorCase(InsufficientFundsError, CLI_ERRORS.notEnoughTokens),
  errorCase(InsufficientGasError, CLI_ERRORS.notEnoughGas),
  errorCase(ChainTxError, CLI_ERRORS.chainRefused),
  errorCase(ChannelNotOnChainError, CLI_ERRORS.channelNotOnChain),
  errorCase(BaseError, CLI_ERRORS.chainSilent),
  errorCase(MainnetConsentError, CLI_ERRORS.mainnetConsent),
  errorCase(
    [ChainIdMismatchError, TokenContractError, ChainUnreachableError],
    CLI_ERRORS.chainMismatch,
  ),
  errorCase(ChainConfigError, CLI_ERRORS.chainUnconfigured),
  errorCase(ConfigError, CLI_ERRORS.badChannelSetting),
  errorCase(LOCAL_STATE_ERRORS, CLI_ERRORS.localState),
];

/** The channel commands' errors, each as CLI_ERRORS says. */
function mapError(err: unknown): unknown {
  return toCliError(err, CHANNEL_ERROR_CASES);
}

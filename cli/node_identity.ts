/**
 * The key a long-running command (`town up`, `node up`, `job submit --wait`...) signs with: the
 * wallet of the state dir unlocked with the passphrase the user names, or a throwaway key when
 * `--generate-key` allows one. Shared so every command reads the passphrase and reports a
 * missing wallet or a wrong passphrase the same way.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { readPassphrase } from "../identity/passphrase.ts";
import { unlockWallet } from "../identity/wallet.ts";
import { readWalletFile, walletFilePath, WalletNotFoundError } from "../identity/wallet_file.ts";
import { WrongPassphraseError } from "../identity/key_vault.ts";

/** The passphrase options commands take (strings, as commander hands them). */
export interface PassphraseFlags {
  passphraseFile?: string;
  passphraseFd?: string;
  nonInteractive?: boolean;
}

/** Options for {@linkcode loadNodeIdentity}. */
export interface LoadNodeIdentityOptions extends PassphraseFlags {
  /** State dir whose wallet is unlocked. */
  stateDir: string;
  /** Who is missing the identity, for the error ("the town", "the provider"...). */
  who: string;
  /** Use a throwaway key instead of the wallet (only where the command offers it). */
  generateKey?: boolean;
  /** Suggestion shown when there is no wallet; default "run `turnpike wallet init` first". */
  missingSuggestion?: string;
}

/**
 * Unlocks the state dir's wallet (or makes a throwaway key with `generateKey`); a missing wallet
 * or a wrong passphrase becomes a {@linkcode CliError}.
 *
 * @example
 * ```ts
 * const secretKey = await loadNodeIdentity({ stateDir, who: "the town", nonInteractive: true });
 * ```
 */
export async function loadNodeIdentity(options: LoadNodeIdentityOptions): Promise<Uint8Array> {
  if (options.generateKey) return generateSecretKey();
  const path = walletFilePath(options.stateDir);
  try {
    const record = await readWalletFile(path);
    const passphrase = await readPassphrase({
      passphraseFile: options.passphraseFile,
      passphraseFd: options.passphraseFd === undefined ? undefined : Number(options.passphraseFd),
      nonInteractive: options.nonInteractive,
      prompt: "Wallet passphrase: ",
    });
    return (await unlockWallet(record, passphrase)).secretKey;
  } catch (err) {
    if (err instanceof WalletNotFoundError) {
      throw new CliError(`${options.who} has no identity`, {
        context: path,
        suggestion: options.missingSuggestion ?? "run `turnpike wallet init` first",
        cause: err,
      });
    }
    if (err instanceof WrongPassphraseError) throw new CliError(err.message, { cause: err });
    throw err;
  }
}

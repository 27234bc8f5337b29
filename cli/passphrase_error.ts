/**
 * A passphrase that cannot be had or is wrong, as every command says it (`passphrase`): apart
 * from cli/node_identity.ts, so that a command that only proves the passphrase to the profile's
 * node (cli/profile_node.ts) does not load the wallet's signer to say it (docs/SCALE.md "A
 * command's start").
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { PassphraseSourceError, PassphraseUnavailableError } from "../identity/passphrase.ts";
import { WrongPassphraseError } from "../identity/vault_errors.ts";

/**
 * A passphrase that cannot be had or is wrong as the `passphrase` CliError (what to give, in
 * the suggestion); any other error as it is.
 *
 * @example
 * ```ts
 * import { passphraseError } from "./passphrase_error.ts";
 * import { readPassphrase } from "../identity/passphrase.ts";
 *
 * declare const flags: Parameters<typeof readPassphrase>[0];
 * const passphrase = await readPassphrase(flags).catch((err: unknown) => {
 *   throw passphraseError(err);
 * });
 * ```
 */
export function passphraseError(err: unknown): unknown {
  if (err instanceof WrongPassphraseError) {
    return new CliError(err.message, { code: "passphrase", cause: err });
  }
  if (err instanceof PassphraseUnavailableError || err instanceof PassphraseSourceError) {
    return new CliError(err.message, {
      code: "passphrase",
      suggestion: "give the wallet's passphrase with --passphrase-file <file> (mode 0600), " +
        "--passphrase-fd <n> or TURNPIKE_PASSPHRASE_FILE",
      cause: err,
    });
  }
  return err;
}

/**
 * A passphrase that cannot be had or is wrong, as every command says it (`passphrase`): apart
 * from cli/node_identity.ts, so that a command that only proves the passphrase to the profile's
 * node (cli/node_call.ts) does not load the wallet's signer to say it (docs/SCALE.md "A
 * command's start"). The cases name the classes, so this module loads none of them.
 *
 * @module
 */
import { CLI_ERRORS, type ErrorCase, errorCase, toCliError } from "./cli_error_map.ts";

const PASSPHRASE_CASES: readonly ErrorCase[] = [
  errorCase("WrongPassphraseError", CLI_ERRORS.wrongPassphrase),
  errorCase(
    ["PassphraseUnavailableError", "PassphraseSourceError", "PassphraseProofError"],
    CLI_ERRORS.passphraseNeeded,
  ),
];

/**
 * A passphrase that cannot be had, is wrong, or whose proof the profile's node refused, as the
 * `passphrase` CliError (what to give, in the suggestion); any other error as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passphraseError } from "./passphrase_error.ts";
 * import { readPassphrase } from "../identity/passphrase.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const err = await readPassphrase({ passphraseFile: `${dir}/missing` }).catch(passphraseError);
 * assert(err instanceof Error);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function passphraseError(err: unknown): unknown {
  return toCliError(err, PASSPHRASE_CASES);
}

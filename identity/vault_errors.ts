/**
 * The errors of `identity/key_vault.ts`, apart from it so that code which only tells them apart
 * (the CLI, the key's worker host) does not load its Argon2id (hash-wasm, about 14 MiB;
 * docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";

/** The passphrase does not open this vault. */
export class WrongPassphraseError extends IdentityError {
  /** `"WrongPassphraseError"`: explicit so it survives bundling. */
  override name = "WrongPassphraseError";
  /** Default message `wrong passphrase`; it never contains the passphrase. */
  constructor(message = "wrong passphrase") {
    super(message);
  }
}

/** The vault blob or its parameters are damaged or not a vault at all. */
export class CorruptVaultError extends IdentityError {
  /** `"CorruptVaultError"`: explicit so it survives bundling. */
  override name = "CorruptVaultError";
}

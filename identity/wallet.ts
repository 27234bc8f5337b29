/**
 * Creating and unlocking a wallet: a mnemonic (or raw key) sealed in the key vault, plus the
 * public identity derived from it.
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import { CorruptVaultError, openSecret, sealSecret, type VaultKdfParams } from "./key_vault.ts";
import { deriveNip06SecretKey, type PublicIdentity, publicIdentity } from "./nip06_key.ts";
import { importMnemonic } from "./mnemonic.ts";
import type { SecretKind, WalletRecord } from "./wallet_file.ts";

/** Options for {@linkcode createWalletRecord}. */
export interface CreateWalletOptions {
  /** The mnemonic to seal (validated). Give this or `secretKey`. */
  mnemonic?: string;
  /** A raw secret key to seal instead of a mnemonic. */
  secretKey?: Uint8Array;
  /** Passphrase the vault key is derived from; must not be empty. */
  passphrase: string;
  /** NIP-06 account index; default 0. */
  account?: number;
  /** KDF parameters; default the design's (64 MiB, t=1, p=4). */
  kdf?: VaultKdfParams;
}

/** An unlocked wallet; keep it in memory only, and zero `secretKey` when done. */
export interface UnlockedWallet {
  /** The 32-byte secp256k1 secret key (NIP-06 derived for a mnemonic). */
  secretKey: Uint8Array;
  /** Present when the wallet holds a mnemonic. */
  mnemonic?: string;
  /** Public keys and addresses derived from `secretKey`. */
  identity: PublicIdentity;
}

/** The passphrase is empty. */
export class EmptyPassphraseError extends IdentityError {
  /** `"EmptyPassphraseError"`: explicit so it survives bundling. */
  override name = "EmptyPassphraseError";
  constructor() {
    super("the passphrase is empty");
  }
}

/**
 * Seals a mnemonic or key into a new wallet record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { walletFilePath, writeWalletFile } from "./wallet_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * await writeWalletFile(walletFilePath(stateDir), record); // the secret sealed, the keys in clear
 * assert.equal(record.secretKind, "mnemonic");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function createWalletRecord(options: CreateWalletOptions): Promise<WalletRecord> {
  if (options.passphrase === "") throw new EmptyPassphraseError();
  const account = options.account ?? 0;
  let secretKind: SecretKind;
  let secretKey: Uint8Array;
  let sealedText: string | Uint8Array;
  if (options.mnemonic !== undefined) {
    secretKind = "mnemonic";
    sealedText = importMnemonic(options.mnemonic);
    secretKey = deriveNip06SecretKey(sealedText, { account });
  } else if (options.secretKey !== undefined) {
    secretKind = "secret-key";
    secretKey = Uint8Array.from(options.secretKey);
    sealedText = secretKey;
  } else {
    throw new TypeError("createWalletRecord needs a mnemonic or a secretKey");
  }
  try {
    const identity = publicIdentity(secretKey);
    const vault = await sealSecret(sealedText, options.passphrase, { kdf: options.kdf });
    return {
      version: 1,
      createdAt: new Date().toISOString(),
      secretKind,
      account,
      ...identity,
      vault,
    };
  } finally {
    secretKey.fill(0);
  }
}

/**
 * Decrypts a wallet and checks that the key inside is the one the file names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 *
 * const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * const { secretKey, identity } = await unlockWallet(record, "pw");
 * assert.deepEqual([secretKey.length, identity.pubkey], [32, record.pubkey]);
 * await assert.rejects(unlockWallet(record, "not pw"));
 * ```
 */
export async function unlockWallet(
  record: WalletRecord,
  passphrase: string,
): Promise<UnlockedWallet> {
  const plain = await openSecret(record.vault, passphrase);
  let secretKey: Uint8Array;
  let mnemonic: string | undefined;
  try {
    if (record.secretKind === "mnemonic") {
      try {
        mnemonic = importMnemonic(new TextDecoder("utf-8", { fatal: true }).decode(plain));
      } catch {
        throw new CorruptVaultError("the vault does not hold a valid mnemonic");
      }
      secretKey = deriveNip06SecretKey(mnemonic, { account: record.account });
    } else {
      if (plain.length !== 32) throw new CorruptVaultError("the vault does not hold a 32-byte key");
      secretKey = Uint8Array.from(plain);
    }
  } finally {
    plain.fill(0);
  }
  const identity = publicIdentity(secretKey);
  if (identity.pubkey !== record.pubkey) {
    secretKey.fill(0);
    throw new CorruptVaultError("the key in the vault does not match the wallet's pubkey");
  }
  return mnemonic === undefined ? { secretKey, identity } : { secretKey, mnemonic, identity };
}

/**
 * The wallet file, `<state dir>/wallet.toml`: the encrypted vault plus the public identity, so
 * `wallet show` and the roles can display who we are without the passphrase. Written atomically
 * with mode 0600; the secret inside is only ever the sealed blob.
 *
 * ```toml
 * version = 1
 * created_at = "2026-11-22T01:00:00.000Z"
 * secret_kind = "mnemonic"
 * account = 0
 * pubkey = "17162c92..."
 * npub = "npub1zutz..."
 * evm_address = "0x..."
 *
 * [kdf]
 * algorithm = "argon2id"
 * memory_kib = 65536
 * iterations = 1
 * parallelism = 4
 * hash_length = 32
 *
 * [vault]
 * cipher = "aes-256-gcm"
 * blob = "base64(salt16 | nonce12 | ciphertext+tag16)"
 * check = "32 hex chars"
 * ```
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { writeFileAtomic } from "../state/atomic_file.ts";
import type { SealedSecret } from "./key_vault.ts";
import { readCappedFile } from "../state/capped_file.ts";

/** File name of the wallet inside the state dir. */
export const WALLET_FILE_NAME = "wallet.toml";

/** Largest wallet file read. */
export const MAX_WALLET_FILE_BYTES = 64 * 1024;

/** What is sealed in the vault. */
export type SecretKind = "mnemonic" | "secret-key";

/** A wallet as stored. */
export interface WalletRecord {
  /** Wallet file format version; only 1 exists. */
  version: 1;
  /** ISO 8601. */
  createdAt: string;
  /** Whether the vault holds a mnemonic or a raw secret key. */
  secretKind: SecretKind;
  /** NIP-06 account index (meaningful for a mnemonic). */
  account: number;
  /** Nostr public key, 64 lowercase hex chars (x-only). */
  pubkey: string;
  /** The same key in NIP-19 `npub1...` form. */
  npub: string;
  /** EVM address of the same key, `0x` + 40 hex chars (EIP-55 checksummed). */
  evmAddress: string;
  /** The sealed secret; see `identity/key_vault.ts`. */
  vault: SealedSecret;
}

/** The wallet file is missing. */
export class WalletNotFoundError extends IdentityError {
  /** `"WalletNotFoundError"`: explicit so it survives bundling. */
  override name = "WalletNotFoundError";
}

/** A wallet file exists and overwriting was not asked for. */
export class WalletExistsError extends IdentityError {
  /** `"WalletExistsError"`: explicit so it survives bundling. */
  override name = "WalletExistsError";
}

/** The wallet file is not a valid wallet (bad TOML, missing or wrong fields, too large). */
export class WalletFileError extends IdentityError {
  /** `"WalletFileError"`: explicit so it survives bundling. */
  override name = "WalletFileError";
}

/** Options for {@linkcode writeWalletFile}. */
export interface WriteWalletFileOptions {
  /** Replace an existing wallet file; default false. */
  force?: boolean;
}

/**
 * Path of the wallet file in a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(walletFilePath("/home/me/.turnpike/default"), "/home/me/.turnpike/default/wallet.toml");
 * ```
 */
export function walletFilePath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${WALLET_FILE_NAME}`;
}

/**
 * Serialises a wallet record to TOML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { createWalletRecord } from "./wallet.ts";
 *
 * const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * const text = encodeWalletToml(record);
 * assert.deepEqual(parseWalletToml(text), record);
 * ```
 */
export function encodeWalletToml(record: WalletRecord): string {
  return stringifyToml({
    version: record.version,
    created_at: record.createdAt,
    secret_kind: record.secretKind,
    account: record.account,
    pubkey: record.pubkey,
    npub: record.npub,
    evm_address: record.evmAddress,
    kdf: {
      algorithm: record.vault.kdf.algorithm,
      memory_kib: record.vault.kdf.memoryKiB,
      iterations: record.vault.kdf.iterations,
      parallelism: record.vault.kdf.parallelism,
      hash_length: record.vault.kdf.hashLength,
    },
    vault: { cipher: "aes-256-gcm", blob: record.vault.blob, check: record.vault.check },
  }) + "\n";
}

/**
 * Parses and validates wallet TOML (shape only; the vault is checked when opened).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { createWalletRecord } from "./wallet.ts";
 *
 * const text = encodeWalletToml(await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" }));
 * assert.equal(parseWalletToml(text, "wallet.toml").secretKind, "mnemonic");
 * assert.throws(() => parseWalletToml("version = 2", "wallet.toml"), WalletFileError);
 * ```
 */
export function parseWalletToml(text: string, path = "wallet.toml"): WalletRecord {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new WalletFileError(
      `${path} is not valid TOML: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  const field = fieldReader(doc, path);
  const kdf = field.table("kdf");
  const vault = field.table("vault");
  if (doc.version !== 1) throw new WalletFileError(`${path}: unsupported version ${doc.version}`);
  const secretKind = field.str(doc, "secret_kind", /^(mnemonic|secret-key)$/) as SecretKind;
  field.str(vault, "cipher", /^aes-256-gcm$/);
  return {
    version: 1,
    createdAt: field.str(doc, "created_at", /^.{1,64}$/),
    secretKind,
    account: field.int(doc, "account"),
    pubkey: field.str(doc, "pubkey", /^[0-9a-f]{64}$/),
    npub: field.str(doc, "npub", /^npub1[02-9ac-hj-np-z]{58}$/),
    evmAddress: field.str(doc, "evm_address", /^0x[0-9a-fA-F]{40}$/),
    vault: {
      blob: field.str(vault, "blob", /^[A-Za-z0-9+/=]{1,8192}$/),
      check: field.str(vault, "check", /^[0-9a-f]{32}$/),
      kdf: {
        algorithm: field.str(kdf, "algorithm", /^argon2id$/) as "argon2id",
        memoryKiB: field.int(kdf, "memory_kib"),
        iterations: field.int(kdf, "iterations"),
        parallelism: field.int(kdf, "parallelism"),
        hashLength: field.int(kdf, "hash_length"),
      },
    },
  };
}

function fieldReader(doc: Record<string, unknown>, path: string) {
  const bad = (key: string, what: string) => new WalletFileError(`${path}: ${key} ${what}`);
  return {
    table(key: string): Record<string, unknown> {
      const v = doc[key];
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(`[${key}]`, "missing");
      return v as Record<string, unknown>;
    },
    str(t: Record<string, unknown>, key: string, pattern: RegExp): string {
      const v = t[key];
      if (typeof v !== "string" || !pattern.test(v)) throw bad(key, "missing or malformed");
      return v;
    },
    int(t: Record<string, unknown>, key: string): number {
      const v = t[key];
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
        throw bad(key, "is not a non-negative integer");
      }
      return v;
    },
  };
}

/**
 * Reads the wallet file of a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stateDir = await Deno.makeTempDir();
 * await assert.rejects(readWalletFile(walletFilePath(stateDir)), WalletNotFoundError);
 * await Deno.remove(stateDir);
 * ```
 */
export async function readWalletFile(path: string): Promise<WalletRecord> {
  let bytes: Uint8Array;
  try {
    bytes = await readCappedFile(path, {
      maxBytes: MAX_WALLET_FILE_BYTES,
      tooLarge: (p, max) => new WalletFileError(`${p} is over ${max} bytes`),
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new WalletNotFoundError(`no wallet at ${path}`);
    throw err;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new WalletFileError(`${path} is not UTF-8 text`);
  }
  return parseWalletToml(text, path);
}

/**
 * Writes the wallet file atomically with mode 0600, creating the state dir (0700) if needed.
 * Refuses to replace an existing wallet unless `force` is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { createWalletRecord } from "./wallet.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * await writeWalletFile(walletFilePath(stateDir), record, { force: false });
 * assert.deepEqual(await readWalletFile(walletFilePath(stateDir)), record);
 * await assert.rejects(writeWalletFile(walletFilePath(stateDir), record), WalletExistsError);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writeWalletFile(
  path: string,
  record: WalletRecord,
  options: WriteWalletFileOptions = {},
): Promise<void> {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!options.force) {
    const exists = await Deno.lstat(path).then(() => true, (err) => {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    });
    if (exists) throw new WalletExistsError(`a wallet already exists at ${path}`);
  }
  await writeFileAtomic(path, encodeWalletToml(record), { mode: 0o600 });
}

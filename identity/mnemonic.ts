/**
 * BIP-39 mnemonics (English word list) via `@scure/bip39`: create one, or import and validate
 * one the user typed.
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import { generateMnemonic, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";

/** Entropy of a new mnemonic: 128 bits = 12 words, 256 bits = 24 words. */
export type MnemonicStrength = 128 | 256;

/** Options for {@linkcode createMnemonic}. */
export interface CreateMnemonicOptions {
  /** Default 256 (24 words). */
  strength?: MnemonicStrength;
}

/** Longest mnemonic text accepted (24 words of at most 8 letters plus spacing fit easily). */
export const MAX_MNEMONIC_CHARS = 1024;

const WORD_COUNTS = new Set([12, 15, 18, 21, 24]);
const WORDS = new Set(wordlist);

/**
 * The text is not a valid BIP-39 English mnemonic. The message never repeats the words, so it
 * is safe to log.
 */
export class InvalidMnemonicError extends IdentityError {
  /** `"InvalidMnemonicError"`: explicit so it survives bundling. */
  override name = "InvalidMnemonicError";
}

/**
 * Creates a new random mnemonic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const words = createMnemonic({ strength: 128 }).split(" ");
 * assert.equal(words.length, 12);
 * ```
 */
export function createMnemonic(options: CreateMnemonicOptions = {}): string {
  const strength = options.strength ?? 256;
  if (strength !== 128 && strength !== 256) {
    throw new InvalidMnemonicError(`strength must be 128 or 256 bits, got ${strength}`);
  }
  return generateMnemonic(wordlist, strength);
}

/**
 * Normalises (NFKD, lower case, single spaces) and validates a mnemonic the user supplied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const words = importMnemonic("  Leader monkey parrot ring guide accident before fence cannon height naive bean\n");
 * assert.equal(words, "leader monkey parrot ring guide accident before fence cannon height naive bean");
 * ```
 */
export function importMnemonic(text: string): string {
  if (text.length > MAX_MNEMONIC_CHARS) {
    throw new InvalidMnemonicError(`mnemonic text is over ${MAX_MNEMONIC_CHARS} characters`);
  }
  const words = text.normalize("NFKD").toLowerCase().trim().split(/\s+/).filter((w) => w !== "");
  if (!WORD_COUNTS.has(words.length)) {
    throw new InvalidMnemonicError(
      `a mnemonic has 12, 15, 18, 21 or 24 words, got ${words.length}`,
    );
  }
  const unknown = words.findIndex((w) => !WORDS.has(w));
  if (unknown !== -1) {
    throw new InvalidMnemonicError(`word ${unknown + 1} is not in the BIP-39 English word list`);
  }
  const mnemonic = words.join(" ");
  if (!validateMnemonic(mnemonic, wordlist)) {
    throw new InvalidMnemonicError("checksum does not match: a word is wrong or out of order");
  }
  return mnemonic;
}

/**
 * Getting the vault passphrase from the user without it ever being echoed, stored or logged:
 * a file descriptor (`--passphrase-fd N`, read through `/dev/fd/N`), a file
 * (`--passphrase-file F`, or `$TURNPIKE_PASSPHRASE_FILE`), or a hidden prompt on a terminal.
 * `--non-interactive` never prompts. One trailing newline (`\n` or `\r\n`) is stripped from
 * file and fd input, so `echo secret > F` works.
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import type { EnvReader } from "../config/state_dir.ts";

/** Longest passphrase (or hidden line) read, in bytes. */
export const MAX_PASSPHRASE_BYTES = 4096;

/** Options for {@linkcode readPassphrase}. */
export interface ReadPassphraseOptions {
  /** Read the passphrase from this file. */
  passphraseFile?: string;
  /** Read the passphrase from this inherited file descriptor. */
  passphraseFd?: number;
  /** Never prompt; fail when no source is given. */
  nonInteractive?: boolean;
  /** On a prompt, ask twice and require the same answer (for creating a vault). */
  confirm?: boolean;
  /** Prompt text; default "Passphrase: ". */
  prompt?: string;
  /** Environment (for TURNPIKE_PASSPHRASE_FILE); default `Deno.env.get`. */
  env?: EnvReader;
}

/** No passphrase source is available (non-interactive, or stdin is not a terminal). */
export class PassphraseUnavailableError extends IdentityError {
  override name = "PassphraseUnavailableError";
}

/** The passphrase file or fd could not be read (missing, too large, not UTF-8). */
export class PassphraseSourceError extends IdentityError {
  override name = "PassphraseSourceError";
}

/** The two entries on a confirming prompt differ. */
export class PassphraseMismatchError extends IdentityError {
  override name = "PassphraseMismatchError";
  constructor() {
    super("the passphrases do not match");
  }
}

/** The user pressed Ctrl-C or Ctrl-D at a hidden prompt. */
export class PromptCancelledError extends IdentityError {
  override name = "PromptCancelledError";
  constructor() {
    super("cancelled at the prompt");
  }
}

/**
 * Reads the passphrase from the first source given: fd, file, `TURNPIKE_PASSPHRASE_FILE`, then a
 * hidden terminal prompt (unless non-interactive).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPassphrase } from "./passphrase.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/pw`, "correct horse\n");
 * const passphrase = await readPassphrase({ passphraseFile: `${dir}/pw`, nonInteractive: true });
 * await Deno.remove(dir, { recursive: true });
 * assert.equal(passphrase, "correct horse");
 * ```
 */
export async function readPassphrase(options: ReadPassphraseOptions = {}): Promise<string> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  if (options.passphraseFd !== undefined) {
    const fd = options.passphraseFd;
    if (!Number.isInteger(fd) || fd < 0) {
      throw new PassphraseSourceError(`--passphrase-fd must be a file descriptor number`);
    }
    return await readSecretFile(`/dev/fd/${fd}`, `file descriptor ${fd}`);
  }
  if (options.passphraseFile !== undefined) {
    return await readSecretFile(options.passphraseFile, options.passphraseFile);
  }
  const envFile = env("TURNPIKE_PASSPHRASE_FILE");
  if (envFile) return await readSecretFile(envFile, `${envFile} (TURNPIKE_PASSPHRASE_FILE)`);
  if (options.nonInteractive) {
    throw new PassphraseUnavailableError(
      "no passphrase source in non-interactive mode: give --passphrase-file, --passphrase-fd or TURNPIKE_PASSPHRASE_FILE",
    );
  }
  if (!Deno.stdin.isTerminal()) {
    throw new PassphraseUnavailableError(
      "stdin is not a terminal, so the passphrase cannot be asked: give --passphrase-file, --passphrase-fd or TURNPIKE_PASSPHRASE_FILE",
    );
  }
  const first = await readHiddenLine(options.prompt ?? "Passphrase: ");
  if (options.confirm) {
    const second = await readHiddenLine("Repeat passphrase: ");
    if (first !== second) throw new PassphraseMismatchError();
  }
  return first;
}

/**
 * Reads a small secret from a file (or `/dev/fd/N`), stripping one trailing newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSecretFile } from "./passphrase.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/mnemonic.txt`, "abandon ability\r\n");
 * const words = await readSecretFile(`${dir}/mnemonic.txt`, "--mnemonic-file");
 * await Deno.remove(dir, { recursive: true });
 * assert.equal(words, "abandon ability");
 * ```
 */
export async function readSecretFile(path: string, label = path): Promise<string> {
  let bytes: Uint8Array;
  try {
    using file = await Deno.open(path, { read: true });
    bytes = await readAtMost(file, MAX_PASSPHRASE_BYTES);
  } catch (err) {
    if (err instanceof PassphraseSourceError) {
      throw new PassphraseSourceError(`${label}: ${err.message}`);
    }
    throw new PassphraseSourceError(`cannot read ${label}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new PassphraseSourceError(`${label} is not UTF-8 text`);
  } finally {
    bytes.fill(0);
  }
  return stripOneNewline(text);
}

/**
 * Removes exactly one trailing `\n` or `\r\n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripOneNewline } from "./passphrase.ts";
 *
 * assert.equal(stripOneNewline("pw\n\n"), "pw\n");
 * ```
 */
export function stripOneNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

async function readAtMost(file: Deno.FsFile, max: number): Promise<Uint8Array> {
  const out = new Uint8Array(max + 1);
  let len = 0;
  while (len <= max) {
    const n = await file.read(out.subarray(len));
    if (n === null) break;
    len += n;
  }
  if (len > max) {
    out.fill(0);
    throw new PassphraseSourceError(`more than ${max} bytes`);
  }
  const result = out.slice(0, len);
  out.fill(0);
  return result;
}

/**
 * Prompts on stderr and reads one line from the terminal with echo off (raw mode), handling
 * backspace, Ctrl-U (clear), Ctrl-C and Ctrl-D (cancel). Requires stdin to be a terminal, so it
 * has no example that runs: `readPassphrase` above is its caller.
 */
export async function readHiddenLine(prompt: string): Promise<string> {
  const enc = new TextEncoder();
  // Raw mode (echo off) before the prompt: input typed as soon as the prompt shows must not echo.
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(256);
  try {
    await Deno.stderr.write(enc.encode(prompt));
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) throw new PromptCancelledError();
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return new TextDecoder().decode(Uint8Array.from(bytes));
        if (b === 0x03 || (b === 0x04 && bytes.length === 0)) throw new PromptCancelledError();
        if (b === 0x7f || b === 0x08) popCodePoint(bytes);
        else if (b === 0x15) bytes.length = 0;
        else if (b >= 0x20 || b === 0x09) bytes.push(b);
        if (bytes.length > MAX_PASSPHRASE_BYTES) {
          throw new PassphraseSourceError(`input is over ${MAX_PASSPHRASE_BYTES} bytes`);
        }
      }
    }
  } finally {
    buf.fill(0);
    bytes.fill(0);
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
}

// Backspace removes a whole UTF-8 character: drop continuation bytes (10xxxxxx) and their lead.
function popCodePoint(bytes: number[]): void {
  while (bytes.length > 0 && (bytes[bytes.length - 1] & 0xc0) === 0x80) bytes.pop();
  bytes.pop();
}

/**
 * Unlocks a wallet in a short-lived `deno run` process with no permissions
 * (identity/wallet_unlock_process_main.ts) instead of a worker of the node's: Argon2id's
 * WebAssembly (64 MiB of memory, and the pages of Deno's binary its compilers touch, which stay
 * counted in a process's resident size after a worker ends) is another process's, gone when it
 * exits. The key comes back sealed to the key worker's X25519 key (identity/sealed_key.ts): the
 * node's thread carries the box and cannot open it (docs/ARCHITECTURE.md "The key's worker").
 *
 * Used where the node may start Deno itself (`run` allowed for `Deno.execPath()`) and runs from
 * files; elsewhere (a library loaded over https, a process without `run`) the wallet is unlocked
 * in a worker as before (identity/wallet_unlock_worker.ts).
 *
 * @module
 */
import { NodeSignerError } from "../protocol/node_signer.ts";
import type { SealedKey } from "./sealed_key.ts";
import { CorruptVaultError, WrongPassphraseError } from "./vault_errors.ts";
import type { WalletRecord } from "./wallet_file.ts";
import type {
  WalletUnlockProcessAnswer,
  WalletUnlockProcessRequest,
} from "./wallet_unlock_process_main.ts";

/** What {@linkcode unlockWalletInProcess} gives back: the key sealed, and its public names. */
export interface WalletUnlockedSealed {
  pubkey: string;
  evmAddress: `0x${string}`;
  sealed: SealedKey;
}

const ENTRY = new URL("./wallet_unlock_process_main.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

// The errors an unlock can end in, revived as themselves so callers can catch them by class.
const KEY_ERRORS: Record<string, new (message: string) => Error> = {
  WrongPassphraseError,
  CorruptVaultError,
};

/**
 * True when this process may unlock a wallet in a process of its own: its modules are files and
 * it may run Deno's binary (no prompt is shown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(typeof canUnlockInProcess(), "boolean");
 * ```
 */
export function canUnlockInProcess(): boolean {
  if (ENTRY.protocol !== "file:") return false;
  try {
    const run = Deno.permissions.querySync({ name: "run", command: Deno.execPath() });
    return run.state === "granted";
  } catch {
    return false; // no permission to ask the binary's path
  }
}

function configArgs(): string[] {
  try {
    Deno.statSync(CONFIG);
    return ["--config", CONFIG.pathname];
  } catch {
    return []; // no deno.json beside the modules: Deno finds one itself, or none
  }
}

/**
 * Unlocks `source.wallet` with `source.passphrase` in a `deno run` process with no permissions
 * and returns the key sealed to `recipient` (an X25519 public key the key's worker holds the
 * private half of).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { createWalletRecord } from "./wallet.ts";
 * import { newKeyRecipient } from "./sealed_key.ts";
 *
 * const wallet = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * const recipient = await newKeyRecipient();
 * const unlocked = await unlockWalletInProcess({ wallet, passphrase: "pw" }, recipient.publicKey);
 * assert.equal(unlocked.pubkey, wallet.pubkey);
 * assert.equal((await recipient.open(unlocked.sealed)).length, 32);
 * ```
 * @throws {WrongPassphraseError} when the wallet's passphrase is wrong.
 * @throws {CorruptVaultError} when the wallet cannot be opened.
 * @throws {NodeSignerError} when the process fails otherwise.
 */
export async function unlockWalletInProcess(
  source: { wallet: WalletRecord; passphrase: string },
  recipient: Uint8Array,
): Promise<WalletUnlockedSealed> {
  const request: WalletUnlockProcessRequest = {
    wallet: source.wallet,
    passphrase: source.passphrase,
    recipient: btoa(String.fromCharCode(...recipient)),
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...configArgs(), ENTRY.pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request)));
  await writer.close();
  const out = await child.output();
  let answer: WalletUnlockProcessAnswer;
  try {
    answer = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    const stderr = new TextDecoder().decode(out.stderr).trim().slice(-500);
    throw new NodeSignerError(
      `the wallet's process failed (exit ${out.code}): ${stderr || "no answer"}`,
    );
  }
  if (answer.ok) {
    return { pubkey: answer.pubkey, evmAddress: answer.evmAddress, sealed: answer.sealed };
  }
  const Known = KEY_ERRORS[answer.error.name];
  if (Known) throw new Known(answer.error.message);
  throw new NodeSignerError(`the wallet's process failed: ${answer.error.message}`);
}

/**
 * The key a command (`town up`, `node up`, `job submit`, `channel open`...) signs with: the
 * wallet of the state dir unlocked with the passphrase the user names, or a throwaway key when
 * `--generate-key` allows one, held by a signer Worker with no permissions
 * (`identity/worker_node_signer.ts`): the wallet is unlocked in that worker, so the key is never
 * in the command's thread. Shared so every command reads the passphrase and reports a missing
 * wallet or a wrong passphrase the same way.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { readPassphrase } from "../identity/passphrase.ts";
import { passphraseError } from "./passphrase_error.ts";
import { openWorkerNodeSigner } from "../identity/worker_node_signer.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import { readWalletFile, walletFilePath, WalletNotFoundError } from "../identity/wallet_file.ts";

/** The passphrase options commands take (strings, as commander hands them). */
export interface PassphraseFlags {
  passphraseFile?: string;
  passphraseFd?: string;
  nonInteractive?: boolean;
}

/** Options for {@linkcode loadNodeSigner}. */
export interface LoadNodeSignerOptions extends PassphraseFlags {
  /** Told if the signer's worker fails while the command runs (see `openWorkerNodeSigner`). */
  onFailure?: (error: Error) => void;
  /** State dir whose wallet is unlocked. */
  stateDir: string;
  /** Who is missing the identity, for the error ("the town", "the provider"...). */
  who: string;
  /** Stop the signer's worker after this long without a request (see `openWorkerNodeSigner`). */
  stopWhenIdleMs?: number;
  /** Use a throwaway key instead of the wallet (only where the command offers it). */
  generateKey?: boolean;
  /** Suggestion shown when there is no wallet; default "run `turnpike wallet init` first". */
  missingSuggestion?: string;
  /**
   * Handed the proof of the passphrase the wallet is unlocked with
   * (`identity/passphrase_proof.ts`): the profile's node checks its commands' against it.
   */
  onPassphraseProof?: (proof: string) => void;
}

/**
 * Unlocks the state dir's wallet in a signer worker (or makes a throwaway key there with
 * `generateKey`); a missing wallet or a wrong passphrase becomes a {@linkcode CliError}. Close
 * the signer when the command ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNodeSigner } from "./node_identity.ts";
 * import { CliError } from "./cli_error.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * await assert.rejects(loadNodeSigner({ stateDir, who: "the town", nonInteractive: true }), CliError);
 * const signer = await loadNodeSigner({ stateDir, who: "the town", generateKey: true }); // throwaway
 * try {
 *   assert.match(signer.evm.address, /^0x[0-9a-fA-F]{40}$/);
 * } finally {
 *   signer.close();
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function loadNodeSigner(options: LoadNodeSignerOptions): Promise<NodeSigner> {
  const workerOptions = { onFailure: options.onFailure, stopWhenIdleMs: options.stopWhenIdleMs };
  if (options.generateKey) return await openWorkerNodeSigner({ generate: true }, workerOptions);
  const path = walletFilePath(options.stateDir);
  try {
    const record = await readWalletFile(path);
    const passphrase = await readPassphrase({
      passphraseFile: options.passphraseFile,
      passphraseFd: options.passphraseFd === undefined ? undefined : Number(options.passphraseFd),
      nonInteractive: options.nonInteractive,
      prompt: "Wallet passphrase: ",
    });
    if (options.onPassphraseProof) {
      const { passphraseProof } = await import("../identity/passphrase_proof.ts");
      options.onPassphraseProof(await passphraseProof(record.vault, passphrase));
    }
    return await openWorkerNodeSigner({ wallet: record, passphrase }, workerOptions);
  } catch (err) {
    if (err instanceof WalletNotFoundError) {
      throw new CliError(`${options.who} has no identity`, {
        context: path,
        code: "no-identity",
        suggestion: options.missingSuggestion ?? "run `turnpike wallet init` first",
        cause: err,
      });
    }
    throw passphraseError(err);
  }
}

/**
 * The passphrase a paying command proves to the profile's node (docs/ARCHITECTURE.md "The
 * profile's node"): read, checked against the wallet file, and its proof derived
 * (identity/passphrase_proof.ts). cli/node_call.ts loads it when a command proves, never for
 * `node status` (docs/SCALE.md "A command's start").
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { passphraseError } from "./passphrase_error.ts";
import { readPassphrase } from "../identity/passphrase.ts";
import { readWalletFile, walletFilePath, WalletNotFoundError } from "../identity/wallet_file.ts";
import { passphraseProof } from "../identity/passphrase_proof.ts";
import type { PassphraseFlags } from "./node_identity.ts";

/** What a command read to prove the passphrase (read once: a descriptor or a prompt cannot be read again). */
export interface ProvenPassphrase {
  /** The passphrase, handed to a node the command starts. */
  passphrase: string;
  /** Its proof, sent with every paying request. */
  proof: string;
}

/**
 * Reads the passphrase, checks it with the state dir's wallet file, derives its proof:
 * `no-identity` without a wallet, `passphrase` without a passphrase or a wrong one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPassphraseProof } from "./node_passphrase.ts";
 * import { createWallet } from "./wallet_command.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const passphraseFile = `${stateDir}/passphrase`;
 * await Deno.writeTextFile(passphraseFile, "correct horse battery staple\n");
 * await createWallet(stateDir, { passphraseFile });
 * const { proof } = await readPassphraseProof(stateDir, { passphraseFile });
 * assert(proof.length > 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readPassphraseProof(
  stateDir: string,
  flags: PassphraseFlags,
): Promise<ProvenPassphrase> {
  let record;
  try {
    record = await readWalletFile(walletFilePath(stateDir));
  } catch (err) {
    if (err instanceof WalletNotFoundError) {
      throw new CliError("the requester has no identity", {
        context: walletFilePath(stateDir),
        code: "no-identity",
        suggestion: "run `turnpike init --role requester` (or `turnpike wallet init`) first",
        cause: err,
      });
    }
    throw err;
  }
  const passphrase = await readPassphrase({
    passphraseFile: flags.passphraseFile,
    passphraseFd: flags.passphraseFd === undefined ? undefined : Number(flags.passphraseFd),
    nonInteractive: flags.nonInteractive,
    prompt: "Wallet passphrase: ",
  }).catch((err) => {
    throw passphraseError(err);
  });
  const proof = await passphraseProof(record.vault, passphrase).catch((err) => {
    throw passphraseError(err);
  });
  return { passphrase, proof };
}

/**
 * Test helper: a state dir with a wallet imported from a mnemonic the way a user scripts it
 * (`wallet init --import --mnemonic-file --passphrase-file`), optionally a `config.toml`, and a
 * runner for `turnpike` commands in it that passes the passphrase non-interactively.
 *
 * @module
 */
import { ALICE_MNEMONIC, type ChannelPair } from "./anvil_channel_pair.ts";
import { chainToml } from "./chain_toml.ts";
import { type CliResult, initWalletWithCli, runCli, type RunCliOptions } from "./run_cli.ts";

/** Options for {@linkcode createCliWallet}. */
export interface CliWalletOptions {
  /** Parent dir: holds `pass`, `<name>-words` and the state dir `<name>`. */
  dir: string;
  /** Name of the state dir under `dir`. */
  name: string;
  mnemonic: string;
  /** Written to `<state dir>/config.toml` when given. */
  config?: string;
}

/** A state dir with a wallet. */
export interface CliWallet {
  stateDir: string;
  passphraseFile: string;
  /** `--passphrase-file <file> --non-interactive`. */
  secret: string[];
  /** Runs `turnpike --state-dir <state dir> <args> <secret>`. */
  run(args: string[], options?: RunCliOptions): Promise<CliResult>;
}

/**
 * Creates `<dir>/<name>` with the mnemonic's wallet (one passphrase file per `dir`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ALICE_MNEMONIC } from "./anvil_channel_pair.ts";
 * import { createCliWallet } from "./cli_wallet.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const alice = await createCliWallet({ dir, name: "alice", mnemonic: ALICE_MNEMONIC });
 * const listed = await alice.run(["channel", "list"]);
 * assert.equal(listed.code, 0, listed.stderr);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createCliWallet(options: CliWalletOptions): Promise<CliWallet> {
  const { dir, name } = options;
  const passphraseFile = `${dir}/pass`;
  const stateDir = `${dir}/${name}`;
  await Deno.writeTextFile(passphraseFile, "test passphrase\n");
  await Deno.writeTextFile(`${dir}/${name}-words`, options.mnemonic + "\n");
  await initWalletWithCli({ stateDir, passphraseFile, mnemonicFile: `${dir}/${name}-words` });
  if (options.config !== undefined) {
    await Deno.writeTextFile(`${stateDir}/config.toml`, options.config);
  }
  const secret = ["--passphrase-file", passphraseFile, "--non-interactive"];
  return {
    stateDir,
    passphraseFile,
    secret,
    run: (args, runOptions) => runCli(["--state-dir", stateDir, ...args, ...secret], runOptions),
  };
}

/**
 * Alice's wallet in `<dir>/state` with the pair's chain configured and no channel files yet:
 * where a CLI test of the payer starts (or her node after losing its state dir).
 *
 * It needs a pair on anvil, so it has no example here: tests/interop/anvil_channel_recover_test.ts
 * recovers a channel with it.
 */
export function createAliceChainWallet(
  pair: Pick<ChannelPair, "anvil" | "contracts">,
  dir: string,
): Promise<CliWallet> {
  return createCliWallet({ dir, name: "state", mnemonic: ALICE_MNEMONIC, config: chainToml(pair) });
}

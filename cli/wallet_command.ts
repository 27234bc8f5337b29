/**
 * `turnpike wallet init|show`: create or import the node's identity (a BIP-39 mnemonic, NIP-06
 * key, sealed with Argon2id + AES-256-GCM in `<state dir>/wallet.toml`) and show its public
 * faces. The mnemonic is printed once, at creation; afterwards only `show --reveal` with the
 * passphrase prints it.
 *
 * @module
 */
import { csvRow } from "../protocol/csv_row.ts";
import { type Command, Option } from "commander";
import { pathExists } from "../state/path_exists.ts";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { resolveStateDir } from "../config/state_dir.ts";
import { explicitProfile } from "./settings_flags.ts";
import { createMnemonic, importMnemonic } from "../identity/mnemonic.ts";
import { encodeNsec, parseSecretKey } from "../identity/nip06_key.ts";
import { readHiddenLine, readPassphrase, readSecretFile } from "../identity/passphrase.ts";
import { createWalletRecord, unlockWallet } from "../identity/wallet.ts";
import {
  readWalletFile,
  WalletExistsError,
  walletFilePath,
  type WalletRecord,
  writeWalletFile,
} from "../identity/wallet_file.ts";
import type { GlobalOptions, OutputFormat } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { registerWalletSend } from "./wallet_send_command.ts";
import { registerWalletReceive } from "./wallet_receive_command.ts";

/** Options `wallet` subcommands read (their own plus the root's globals). */
interface WalletOptions extends GlobalOptions {
  passphraseFile?: string;
  passphraseFd?: string;
}

interface InitOptions extends WalletOptions {
  import?: boolean;
  mnemonicFile?: string;
  keyFile?: string;
  force?: boolean;
  words?: "12" | "24";
  account?: string;
}

interface ShowOptions extends WalletOptions {
  reveal?: boolean;
}

/**
 * Adds `wallet init` and `wallet show` to the program.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { registerWalletCommand } from "./wallet_command.ts";
 *
 * const wallet = registerWalletCommand(new Command("turnpike").option("--state-dir <dir>"));
 * assert(wallet.commands.some((c) => c.name() === "show"));
 * ```
 */
export function registerWalletCommand(program: Command): Command {
  const wallet = program.command("wallet").description(
    "the node's identity: one key for Nostr and EVM, encrypted at rest",
  );
  addPassphraseOptions(
    wallet.command("init")
      .description("create a new wallet (or --import a mnemonic or a key) in the state dir")
      .option("--import", "import an existing BIP-39 mnemonic instead of creating one")
      .option("--mnemonic-file <file>", "with --import: read the mnemonic from this file")
      .option(
        "--key-file <file>",
        "with --import: an existing secret key instead (64 hex, 0x optional, or nsec), e.g. a " +
          "funded testnet key: used as is, no mnemonic",
      )
      .addOption(
        new Option("--words <n>", "length of a new mnemonic").choices(["12", "24"]),
      )
      .option("--account <n>", "NIP-06 account index (m/44'/1237'/<n>'/0/0)")
      .option("--force", "replace an existing wallet (its key is lost without its mnemonic)"),
  ).action(async (_opts: unknown, cmd: Command) => {
    await runWalletAction(() => walletInit(cmd.optsWithGlobals<InitOptions>(), cmd));
  });
  addPassphraseOptions(
    wallet.command("show")
      .description("show the wallet's public identity (no passphrase needed)")
      .option("--reveal", "decrypt and show the mnemonic and nsec (asks for the passphrase)"),
  ).action(async (_opts: unknown, cmd: Command) => {
    await runWalletAction(() => walletShow(cmd.optsWithGlobals<ShowOptions>(), cmd));
  });
  registerWalletSend(wallet);
  registerWalletReceive(wallet);
  return wallet;
}

function addPassphraseOptions(cmd: Command): Command {
  return cmd
    .option(
      "--passphrase-file <file>",
      "read the passphrase from this file (one trailing newline is stripped)",
    )
    .option("--passphrase-fd <n>", "read the passphrase from this inherited file descriptor")
    .option("--non-interactive", "never prompt; fail when input would be needed");
}

/** A wallet {@linkcode createWallet} wrote. */
export interface CreatedWallet {
  record: WalletRecord;
  /** `<state dir>/wallet.toml`. */
  path: string;
  /** The words: print them once when not `imported`, never store them. */
  mnemonic: string;
  imported: boolean;
}

/** Options for {@linkcode createWallet}: `wallet init`'s flags. */
export interface CreateWalletOptions {
  nonInteractive?: boolean;
  passphraseFile?: string;
  passphraseFd?: string;
  import?: boolean;
  mnemonicFile?: string;
  /** With `import`: a file holding an existing secret key (hex or nsec) instead of words. */
  keyFile?: string;
  force?: boolean;
  words?: "12" | "24";
  account?: string;
}

/**
 * Creates (or imports) the wallet of a state dir, asking for the new passphrase twice (or
 * reading it from the file or descriptor named): what `wallet init` and `init` run. Failures
 * are {@linkcode CliError}s with a suggestion.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWallet } from "./wallet_command.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const passphraseFile = `${stateDir}/passphrase`;
 * await Deno.writeTextFile(passphraseFile, "correct horse battery staple\n");
 * const { mnemonic } = await createWallet(stateDir, { passphraseFile });
 * assert.equal(mnemonic?.split(" ").length, 24);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function createWallet(
  stateDir: string,
  opts: CreateWalletOptions,
): Promise<CreatedWallet> {
  const path = walletFilePath(stateDir);
  try {
    const account = parseAccount(opts.account);
    for (
      const [flag, given] of [["--mnemonic-file", opts.mnemonicFile], ["--key-file", opts.keyFile]]
    ) {
      if (given !== undefined && !opts.import) {
        throw new CliError(`${flag} needs --import`, { exitCode: ExitCode.Usage });
      }
    }
    if (opts.mnemonicFile !== undefined && opts.keyFile !== undefined) {
      throw new CliError("give --mnemonic-file or --key-file, not both", {
        exitCode: ExitCode.Usage,
      });
    }
    if (!opts.force && await pathExists(path)) throw mapError(new WalletExistsError(path), path);
    if (opts.keyFile !== undefined) {
      // An existing key (a funded testnet account): sealed as is, there are no words to show.
      const secretKey = parseSecretKey(await readSecretFile(opts.keyFile, opts.keyFile));
      try {
        const passphrase = await readPassphrase({
          ...passphraseSource(opts),
          confirm: true,
          prompt: "New wallet passphrase: ",
        });
        const record = await createWalletRecord({ secretKey, passphrase });
        await writeWalletFile(path, record, { force: opts.force });
        return { record, path, mnemonic: "", imported: true };
      } finally {
        secretKey.fill(0);
      }
    }
    const imported = opts.import ? await readImportedMnemonic(opts) : undefined;
    const mnemonic = imported ?? createMnemonic({ strength: opts.words === "12" ? 128 : 256 });
    const passphrase = await readPassphrase({
      ...passphraseSource(opts),
      confirm: true,
      prompt: "New wallet passphrase: ",
    });
    const record = await createWalletRecord({ mnemonic, passphrase, account });
    await writeWalletFile(path, record, { force: opts.force });
    return { record, path, mnemonic, imported: imported !== undefined };
  } catch (err) {
    throw mapError(err, path);
  }
}

async function walletInit(opts: InitOptions, cmd: Command): Promise<void> {
  const output = outputFormat(opts);
  const stateDir = stateDirOf(opts, cmd);
  const { record, path, mnemonic, imported } = await createWallet(stateDir, opts);
  const info = publicInfo(record, stateDir, path);
  if (output === "json") {
    const json: Record<string, unknown> = { ...info, imported };
    if (!imported) {
      json.mnemonic = mnemonic;
      json.warning = MNEMONIC_WARNING;
    }
    printJsonLine("wallet", json);
  } else if (output === "csv") {
    printCsv({ ...info, mnemonic: imported ? "" : mnemonic });
  } else {
    console.log(`Wallet ${imported ? "imported" : "created"}: ${path}`);
    printText(info);
    if (!imported) printMnemonicOnce(mnemonic);
  }
}

/** What JSON output says next to a new mnemonic. */
export const MNEMONIC_WARNING = "shown once: write the mnemonic down and keep it offline";

async function walletShow(opts: ShowOptions, cmd: Command): Promise<void> {
  const output = outputFormat(opts);
  const stateDir = stateDirOf(opts, cmd);
  const path = walletFilePath(stateDir);
  const record = await readWalletFile(path);
  const info: Record<string, string | number> = publicInfo(record, stateDir, path);
  if (opts.reveal) {
    const passphrase = await readPassphrase({
      ...passphraseSource(opts),
      prompt: "Wallet passphrase: ",
    });
    const unlocked = await unlockWallet(record, passphrase);
    if (unlocked.mnemonic !== undefined) info.mnemonic = unlocked.mnemonic;
    info.nsec = encodeNsec(unlocked.secretKey);
    unlocked.secretKey.fill(0);
  }
  if (output === "json") printJsonLine("wallet", info);
  else if (output === "csv") printCsv(info);
  else printText(info);
}

async function runWalletAction(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    throw mapError(err);
  }
}

function publicInfo(record: WalletRecord, stateDir: string, path: string) {
  return {
    npub: record.npub,
    pubkey: record.pubkey,
    evmAddress: record.evmAddress,
    account: record.account,
    secretKind: record.secretKind,
    createdAt: record.createdAt,
    stateDir,
    walletFile: path,
  };
}

const TEXT_LABELS: Record<string, string> = {
  npub: "npub",
  pubkey: "pubkey (hex)",
  evmAddress: "EVM address",
  account: "NIP-06 account",
  secretKind: "holds",
  createdAt: "created",
  stateDir: "state dir",
  walletFile: "wallet file",
  mnemonic: "mnemonic",
  nsec: "nsec",
};

function printText(info: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(info)) {
    console.log(`  ${(TEXT_LABELS[k] ?? k).padEnd(15)} ${v}`);
  }
}

/**
 * Prints a new wallet's mnemonic, numbered, with the warning that it is shown once.
 *
 * @example
 * ```ts
 * import { printMnemonicOnce } from "./wallet_command.ts";
 * import { createMnemonic } from "../identity/mnemonic.ts";
 *
 * printMnemonicOnce(createMnemonic()); // numbered, four words a row
 * ```
 */
export function printMnemonicOnce(mnemonic: string): void {
  const words = mnemonic.split(" ");
  console.log("\nRecovery mnemonic (shown ONCE: write it down now and keep it offline;");
  console.log("anyone who has it controls this identity and its funds):\n");
  for (let i = 0; i < words.length; i += 4) {
    const row = words.slice(i, i + 4).map((w, j) =>
      `${String(i + j + 1).padStart(2)}. ${w.padEnd(10)}`
    );
    console.log(`  ${row.join(" ").trimEnd()}`);
  }
  console.log("");
}

function printCsv(info: Record<string, string | number>): void {
  console.log(csvRow(Object.keys(info)));
  console.log(csvRow(Object.values(info)));
}

function outputFormat(opts: WalletOptions): OutputFormat {
  const output = opts.output ?? "text";
  if (output !== "text" && output !== "json" && output !== "csv") {
    throw new CliError(`--output must be text, json or csv, got "${output}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return output;
}

function stateDirOf(opts: WalletOptions, cmd: Command): string {
  return resolveStateDir({ stateDir: opts.stateDir, profile: explicitProfile(opts, cmd) });
}

function parseAccount(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,10}$/.test(text) || Number(text) >= 2 ** 31) {
    throw new CliError(`--account must be an integer 0 to 2147483647, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return Number(text);
}

function passphraseSource(opts: CreateWalletOptions) {
  if (opts.passphraseFile !== undefined && opts.passphraseFd !== undefined) {
    throw new CliError("give --passphrase-file or --passphrase-fd, not both", {
      exitCode: ExitCode.Usage,
    });
  }
  let passphraseFd: number | undefined;
  if (opts.passphraseFd !== undefined) {
    if (!/^\d{1,4}$/.test(opts.passphraseFd)) {
      throw new CliError(
        `--passphrase-fd must be a descriptor number, got "${opts.passphraseFd}"`,
        {
          exitCode: ExitCode.Usage,
        },
      );
    }
    passphraseFd = Number(opts.passphraseFd);
  }
  return { passphraseFile: opts.passphraseFile, passphraseFd, nonInteractive: opts.nonInteractive };
}

async function readImportedMnemonic(opts: CreateWalletOptions): Promise<string> {
  if (opts.mnemonicFile !== undefined) {
    return importMnemonic(await readSecretFile(opts.mnemonicFile, opts.mnemonicFile));
  }
  if (opts.nonInteractive || !Deno.stdin.isTerminal()) {
    throw new CliError("no mnemonic to import", {
      context: opts.nonInteractive ? "--non-interactive" : "stdin is not a terminal",
      suggestion: "give --mnemonic-file F (a file holding the words)",
      exitCode: ExitCode.Usage,
    });
  }
  return importMnemonic(await readHiddenLine("Mnemonic (input hidden): "));
}

/** The wallet's errors, each as CLI_ERRORS says; `path`: the wallet file, when known. */
function mapError(err: unknown, path?: string): unknown {
  return toCliError(err, [
    errorCase("WalletExistsError", (e) => CLI_ERRORS.walletExists(e, path)),
    errorCase("WalletNotFoundError", CLI_ERRORS.walletNotFound),
    errorCase("WrongPassphraseError", CLI_ERRORS.wrongPassphrase),
    errorCase("PassphraseUnavailableError", CLI_ERRORS.noPassphrase),
    errorCase("PromptCancelledError", CLI_ERRORS.promptCancelled),
    errorCase("SecretKeyFormatError", CLI_ERRORS.badKeyFile),
    errorCase("InvalidMnemonicError", CLI_ERRORS.badMnemonic),
    errorCase("EmptyPassphraseError", CLI_ERRORS.emptyPassphrase),
    errorCase([
      "CorruptVaultError",
      "WalletFileError",
      "PassphraseSourceError",
      "PassphraseMismatchError",
      "ConfigError",
      "PresetTableError",
      "AgentPresetsError",
      "ModelPresetsError",
      "InsecureUrlError",
    ], CLI_ERRORS.localState),
  ]);
}

/**
 * The one way a command turns an error into what an agent sees (docs/AGENTS.md "Errors" and
 * "Exit codes"): {@linkcode toCliError} passes a {@linkcode CliError} through, turns an error of
 * a class the command names into the CliError {@linkcode CLI_ERRORS} says for it (its message,
 * context, suggestion, documented code and exit status), and leaves any other error as it is
 * (printed as `internal`).
 *
 * What is said for each class is here, every command's; which classes a command meets is its own
 * small table of {@linkcode errorCase}s. A case names the classes by their `name` (each error
 * class of the node sets it to its class name: docs/ARCHITECTURE.md "Errors"), with their
 * subclasses, so that a table loads none of the modules that define them: a command that only
 * calls the profile's node (`job submit`) or meets none of them (`wallet show`) does not load the
 * requester's or the chain's code to map its errors (docs/SCALE.md "A command's start"). This
 * module imports their types only. A class from elsewhere (viem's `BaseError`, whose subclasses
 * are viem's) is named by the class itself.
 *
 * @module
 */
import type { BaseError } from "viem";
import type { ChainTxError } from "../chain/token_network_client.ts";
import type { AutoChannelError } from "../roles/channels/channel_auto_open.ts";
import type { ChannelNotOnChainError } from "../roles/channels/channel_chain_sync.ts";
import type { ChannelSenderError } from "../roles/channels/channel_sender.ts";
import type { BlobPublishError } from "../roles/blob_publisher.ts";
import type { JobEndedError } from "../roles/requester/requester_job_error.ts";
import type { PriceAboveCeilingError } from "../roles/requester/town_link.ts";
import type { TownRejectedError } from "../roles/town_client/town_rejection.ts";
import type { RelayQueryError } from "../transport/relay_query.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";

/** A class of errors (abstract or not), matched with `instanceof`. */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/**
 * What a case matches: an error class's `name` (an error whose `name` is this one), or a class
 * (an error `instanceof` it).
 */
export type ErrorKind<E extends Error> = string | ErrorClass<E>;

/** One class (or several) of errors and the CliError each becomes. */
export interface ErrorCase {
  /** Whether `err` is of the case's classes. */
  matches(err: unknown): boolean;
  /** The CliError for an error the case matches. */
  toCli(err: Error): CliError;
}

/**
 * The case of the errors of `kinds`: each becomes what `say` makes of it. A kind is a class's
 * `name`, which matches that class only: a case names each subclass it takes too
 * (tests/unit/cli/cli_error_cases_test.ts checks the tables against the source); or a class.
 *
 * @example
 * ```ts
 * import { CLI_ERRORS, errorCase } from "./cli_error_map.ts";
 * import type { RelayQueryError } from "../transport/relay_query.ts";
 *
 * const relayRead = errorCase<RelayQueryError>(
 *   "RelayQueryError",
 *   (e) => CLI_ERRORS.townUnread(e, "ws://town"),
 * );
 * ```
 */
export function errorCase<E extends Error>(
  kinds: ErrorKind<E> | readonly ErrorKind<E>[],
  say: (err: E) => CliError,
): ErrorCase {
  const all: readonly ErrorKind<E>[] = Array.isArray(kinds) ? kinds : [kinds as ErrorKind<E>];
  const names = all.filter((k): k is string => typeof k === "string");
  const classes = all.filter((k): k is ErrorClass<E> => typeof k !== "string");
  const matches = (err: unknown): err is E =>
    err instanceof Error &&
    (names.includes(err.name) || classes.some((type) => err instanceof type));
  return {
    matches,
    toCli: (err) => say(err as E),
  };
}

/**
 * `err` as what the CLI says of it: a {@linkcode CliError} as it is, an error of the first of
 * `cases` that matches as that case says, anything else unchanged.
 *
 * @example
 * ```ts
 * import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
 * import { RelayQueryError } from "../transport/relay_query.ts";
 *
 * const cases = [
 *   errorCase<RelayQueryError>("RelayQueryError", (e) => CLI_ERRORS.townUnread(e, "ws://town")),
 * ];
 * toCliError(new RelayQueryError("timeout", "no EOSE in 5 s"), cases); // town-unreachable
 * ```
 */
export function toCliError(err: unknown, cases: readonly ErrorCase[]): unknown {
  if (err instanceof CliError) return err;
  const found = cases.find((c) => c.matches(err));
  return found === undefined ? err : found.toCli(err as Error);
}

/**
 * What the CLI says for each kind of error, with its documented code (docs/AGENTS.md "Errors"):
 * one entry per kind, named for it; a command binds the classes it meets to them with
 * {@linkcode errorCase}. No `code` means the exit status's own (`failed`, `usage`, `interrupted`).
 *
 * @example
 * ```ts
 * import { CLI_ERRORS } from "./cli_error_map.ts";
 * import { cliErrorJson } from "./cli_error.ts";
 *
 * cliErrorJson(CLI_ERRORS.noJob(new Error("no job ab12")));
 * // { type: "error", code: "no-job", message: "no job ab12", exit: 2 }
 * ```
 */
export const CLI_ERRORS = {
  // A job: no-job.
  /** A job that has ended cannot be cancelled (`no-job`, usage; its status). */
  jobEnded: (err: JobEndedError): CliError =>
    new CliError(err.message, {
      exitCode: ExitCode.Usage,
      code: "no-job",
      fields: { status: err.status },
      cause: err,
    }),
  /** No such job (`no-job`, usage). */
  noJob: (err: Error): CliError =>
    new CliError(err.message, { exitCode: ExitCode.Usage, code: "no-job", cause: err }),

  // The town: town-rejected, price-above-ceiling, town-unreachable.
  /** A paid write the town refused (`town-rejected`, its ILP code). */
  townRejected: (err: TownRejectedError): CliError =>
    new CliError(err.message, {
      context: `ILP ${err.code}`,
      code: "town-rejected",
      suggestion: err.suggestion,
      cause: err,
    }),
  /** The town asks more per byte than the ceiling (`price-above-ceiling`, both figures). */
  priceAboveCeiling: (err: PriceAboveCeilingError): CliError =>
    new CliError(err.message, {
      context: "price_ceiling",
      code: "price-above-ceiling",
      fields: { pricePerByte: String(err.price), priceCeiling: String(err.ceiling) },
      suggestion: "pass --accept-price to pay it, or raise --price-ceiling / price_ceiling",
      cause: err,
    }),
  /**
   * A write retried to its job's deadline against a town that never answered over BTP
   * (`town-unreachable`): not a bug.
   */
  townSilent: (err: Error): CliError =>
    new CliError(`the town did not answer: ${err.message}`, {
      context: "town unreachable",
      code: "town-unreachable",
      suggestion: untrusted(err) ??
        "check that the town is up (`turnpike --json doctor`), then submit again",
      cause: err,
    }),
  /**
   * The town's relay or BTP does not answer (`town-unreachable`); `job`: the job recorded before,
   * which ended `error`.
   */
  townUnreachable: (err: Error, job: string | undefined): CliError =>
    new CliError(err.message, {
      context: "town unreachable",
      code: "town-unreachable",
      suggestion: (untrusted(err) ??
        "check that the town is up and --relay-url / --connector-btp-url point at it") +
        (job === undefined ? "" : `; job ${job.slice(0, 12)} ended error: submit it again then`),
      fields: job === undefined ? undefined : { job, status: "error" },
      cause: err,
    }),
  /** A read of the town's relay at `relayUrl` failed (`town-unreachable`). */
  townUnread: (err: RelayQueryError, relayUrl: string): CliError =>
    new CliError(`cannot read the town: ${err.message}`, {
      // The reason names the URL already, except for a refusal or a limit.
      context: err.message.includes(relayUrl) ? undefined : relayUrl,
      code: "town-unreachable",
      suggestion: untrusted(err) ?? "check that the town is up and --relay-url points at it",
      cause: err,
    }),
  /**
   * The relay's NIP-11, health or round trip failed (`relay status`): a refused certificate says
   * `ca_file`, anything else that the town may be down.
   */
  relaySilent: (err: Error): CliError =>
    new CliError("the relay does not answer", {
      context: err.message,
      suggestion: untrusted(err) ?? "is `turnpike town up` running? check --relay-url",
      cause: err,
    }),
  /**
   * The profile's node at its bound on jobs followed at once (`busy`,
   * roles/requester/job_slots.ts): nothing was signed, written or paid.
   */
  requesterBusy: (err: Error): CliError =>
    new CliError(err.message, {
      code: "busy",
      context: "max_jobs",
      suggestion: "submit again later (the jobs in flight end first), or raise --max-jobs / " +
        "max_jobs",
      cause: err,
    }),
  /** The profile's node was stopping and served nothing (`node-stopping`). */
  nodeStopping: (err: Error): CliError =>
    new CliError(err.message, {
      code: "node-stopping",
      suggestion: "run the command again: nothing was done, and the next one starts a new node",
      cause: err,
    }),
  /** A blob input the town's blob store refused (`failed`). */
  blobUploadRefused: (err: Error): CliError =>
    new CliError(`cannot upload a blob input: ${err.message}`, {
      context: "the town's blob store",
      cause: err,
    }),
  /** A blob input not published (`failed`, what to do). */
  blobNotPublished: (err: BlobPublishError): CliError =>
    new CliError(err.message, { suggestion: err.suggestion, cause: err }),

  // Paying over a channel: channel.
  /** The payment channel cannot pay (`channel`). */
  channelCannotPay: (err: ChannelSenderError): CliError =>
    new CliError(err.message, {
      context: "payment channel",
      code: "channel",
      suggestion: err.suggestion,
      cause: err,
    }),
  /** The payment channel's deposit is used up (`channel`). */
  channelUsedUp: (err: Error): CliError =>
    new CliError(`the payment channel's deposit is used up: ${err.message}`, {
      context: "payment channel",
      code: "channel",
      suggestion: "top it up (`turnpike channel topup <id> --amount <n>`; `turnpike channel " +
        "list` names it), or raise [channels] topup_amount / topup_daily_cap",
      cause: err,
    }),
  /** No channel could be opened automatically (`channel`). */
  autoChannelFailed: (err: AutoChannelError): CliError =>
    new CliError(err.message, {
      context: "[channels] auto",
      code: "channel",
      suggestion: err.suggestion,
      cause: err,
    }),

  // The wallet (`turnpike wallet`).
  /** A wallet is there already (`failed`); `path`: the wallet file. */
  walletExists: (err: Error, path: string | undefined): CliError =>
    new CliError("a wallet already exists", {
      context: path ?? err.message,
      suggestion:
        "use `wallet show` to see it, or --force to replace it (its key is lost unless you have its mnemonic)",
      cause: err,
    }),
  /** No wallet in the state dir (`failed`). */
  walletNotFound: (err: Error): CliError =>
    new CliError("no wallet in this state dir", {
      context: err.message,
      suggestion: "run `turnpike wallet init` (or pass --state-dir / --profile)",
      cause: err,
    }),
  /** The passphrase does not open the wallet (`passphrase`, as every command says it). */
  wrongPassphrase: (err: Error): CliError =>
    new CliError(err.message, { code: "passphrase", context: "wallet vault", cause: err }),
  /** No way to ask for the passphrase (`passphrase`). */
  noPassphrase: (err: Error): CliError =>
    new CliError("no passphrase given", {
      code: "passphrase",
      context: err.message,
      suggestion: "pass --passphrase-file F, or run in a terminal without --non-interactive",
      cause: err,
    }),
  /**
   * A passphrase a command must have and could not read (its source refused, or no way to ask),
   * or a proof of it the profile's node refused (`passphrase`; what to give, in the suggestion).
   */
  passphraseNeeded: (err: Error): CliError =>
    new CliError(err.message, {
      code: "passphrase",
      suggestion: "give the wallet's passphrase with --passphrase-file <file> (mode 0600), " +
        "--passphrase-fd <n> or TURNPIKE_PASSPHRASE_FILE",
      cause: err,
    }),
  /** The user cancelled a prompt (`interrupted`). */
  promptCancelled: (err: Error): CliError =>
    new CliError(err.message, { exitCode: ExitCode.Interrupted, cause: err }),
  /** `--key-file` holds no key (`usage`). */
  badKeyFile: (err: Error): CliError =>
    new CliError("invalid secret key in --key-file", {
      context: err.message,
      suggestion: "the file holds one key: 64 hex digits (0x optional) or nsec1...",
      exitCode: ExitCode.Usage,
      cause: err,
    }),
  /** A mnemonic that is not BIP-39 (`failed`). */
  badMnemonic: (err: Error): CliError =>
    new CliError("invalid mnemonic", {
      context: err.message,
      suggestion: "check the words against your written copy (BIP-39 English, 12-24 words)",
      cause: err,
    }),
  /** An empty passphrase chosen (`failed`). */
  emptyPassphrase: (err: Error): CliError =>
    new CliError(err.message, { suggestion: "choose a non-empty passphrase", cause: err }),
  /** An error of the local state (wallet, vault, config, channel file) said as it is (`failed`). */
  localState: (err: Error): CliError =>
    new CliError(err.message, { context: err.name, cause: err }),

  // The chain (`turnpike channel`).
  /** Not enough tokens for a deposit (`failed`). */
  notEnoughTokens: (err: Error): CliError =>
    new CliError("not enough tokens for the deposit", {
      context: err.message,
      suggestion: "fund the wallet's EVM address (`turnpike wallet show`) or lower --deposit",
      cause: err,
    }),
  /** Not enough native currency for gas (`failed`). */
  notEnoughGas: (err: Error): CliError =>
    new CliError("not enough native currency (ETH) for gas", {
      context: err.message,
      suggestion: "send some ETH to the wallet's EVM address for gas",
      cause: err,
    }),
  /** A transaction the chain or the contract refused (`failed`, the reason). */
  chainRefused: (err: ChainTxError): CliError =>
    new CliError(err.message, {
      context: err.reason,
      suggestion: err.reason === "RpcError"
        ? "check that the chain is up (`turnpike chain up` for a local one) and its rpc_url"
        : "the contract refused it for the reason shown; `turnpike channel list --refresh` " +
          "shows the channel as the chain has it",
      cause: err,
    }),
  /** A channel the chain does not know (`failed`). */
  channelNotOnChain: (err: ChannelNotOnChainError): CliError =>
    new CliError(err.message, {
      context: `channel ${err.channelId}`,
      suggestion: "a local chain that was restarted (`turnpike chain up`) has forgotten every " +
        'channel: open a new one; otherwise fix [chains."<id>"] rpc_url in config.toml',
      cause: err,
    }),
  /** viem's own errors: the RPC did not answer, the chain is down or the URL wrong (`failed`). */
  chainSilent: (err: BaseError): CliError =>
    new CliError(`the chain did not answer: ${err.shortMessage}`, {
      suggestion: "start it (`turnpike chain up --config <state dir>` for a local one; a " +
        'restarted anvil forgets every channel) or fix [chains."<id>"] rpc_url in config.toml',
      cause: err,
    }),
  /** A mainnet or unknown chain without `--mainnet` (`usage`): the chain named, how to confirm. */
  mainnetConsent: (err: Error): CliError =>
    new CliError(err.message, {
      context: "real funds",
      suggestion: "add --mainnet to this command if you mean to move real funds on that chain " +
        '(docs/OPERATIONS.md "A chain of your choice")',
      exitCode: ExitCode.Usage,
      cause: err,
    }),
  /** The RPC is another chain, or the token is no ERC-20 there (`failed`). */
  chainMismatch: (err: Error): CliError =>
    new CliError(err.message, {
      context: "chain config",
      suggestion: 'fix [chains."<id>"] rpc_url or token in config.toml (or --rpc-url / --token)',
      cause: err,
    }),
  /** A chain without its RPC URL or token network (`usage`). */
  chainUnconfigured: (err: Error): CliError =>
    new CliError(err.message, {
      context: "chain config",
      suggestion: 'set [chains."<id>"] rpc_url / token_network in config.toml or pass --rpc-url',
      exitCode: ExitCode.Usage,
      cause: err,
    }),
  /** The user's input refused, said as it is (`usage`): a value, a name, an amount. */
  usage: (err: Error): CliError =>
    new CliError(err.message, { exitCode: ExitCode.Usage, cause: err }),
  /**
   * A setting that does not resolve (a bad flag, variable or config.toml value): `usage`, the
   * message naming the setting, the error's class as its context.
   */
  badSetting: (err: Error): CliError =>
    new CliError(err.message, { context: err.name, exitCode: ExitCode.Usage, cause: err }),
  /** A bad value in config.toml or the environment: the user's to fix, like a bad flag (`usage`). */
  badChannelSetting: (err: Error): CliError =>
    new CliError(err.message, {
      context: "configuration",
      suggestion: "fix the setting named in config.toml ([channels], [chains]) or its variable",
      exitCode: ExitCode.Usage,
      cause: err,
    }),
} as const;

/**
 * The suggestion for a town whose TLS certificate was refused (a `TlsTrustError` in the cause
 * chain, transport/tls_trust.ts): set `ca_file`; else undefined (the caller's own suggestion).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { untrusted } from "./cli_error_map.ts";
 * import { TlsTrustError } from "../transport/tls_trust.ts";
 *
 * const refused = new Error("cannot reach", { cause: new TlsTrustError("UnknownIssuer") });
 * assert(untrusted(refused)?.startsWith("set ca_file"));
 * assert(untrusted(new Error("connection refused")) === undefined);
 * ```
 */
export function untrusted(err: Error): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e.name === "TlsTrustError") {
      return "set ca_file in the profile's config.toml (or TURNPIKE_CA_FILE) to the PEM file " +
        'of the CA that signed the town\'s certificate (docs/OPERATIONS.md "A town on the internet")';
    }
  }
  return undefined;
}

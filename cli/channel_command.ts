/**
 * `turnpike channel open|list|show|topup|withdraw|close|recover`: EVM payment channels with the BTP peer.
 * The network is always printed; mainnet needs `--mainnet`. Deposits are given in token units
 * (`--deposit 50` = 50 M2M) and refused above the configured maximum (default 100), and when
 * the wallet lacks tokens or gas. Channel files live in `<state dir>/channels/` and every change
 * is committed to the audit trail. `recover` rebuilds them from the chain and, for channels this
 * node pays over, asks the BTP peer for the newest claim of ours it holds (`last-claim`): the
 * chain does not know the claims signed off chain.
 *
 * Config (`<state dir>/config.toml`):
 *
 * ```toml
 * [channels]
 * peer = "0x..."                 # the BTP peer's settlement address (or --peer / --peer-info;
 *                                # none: the town's kind 10032, read from relay_url / --town)
 * chains = ["evm:base:31337", "evm:base:84532"]   # supported, in order of preference
 * prefer = ["evm:base:31337"]    # preferred when negotiating with the peer (after --chain)
 * max_deposit = "100"            # token units
 * settle_timeout = 3600          # seconds
 * warn_percent = 10              # low-balance warning threshold
 * auto = true                    # open, use and top up a channel with the town by itself
 * deposit = "50"                 # (config/channel_policy.ts: topup_below, topup_amount,
 *                                #  topup_daily_cap)
 * watch_interval = 15           # seconds between a running node's chain polls
 * [chains."evm:base:31337"]
 * rpc_url = "http://127.0.0.1:8545"
 * token_network = "0x..."
 * token = "0x..."
 * ```
 *
 * @module
 */
import type { Command } from "commander";
import { BaseError, formatUnits, parseUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings, type SettingsFlags } from "../config/settings.ts";
import {
  type ChainTables,
  chainTables,
  type ChannelOpenSettings,
  channelOpenSettings,
} from "../config/channel_settings.ts";
import {
  type ChainConfig,
  ChainConfigError,
  LOCAL_CHAIN,
  networkLabel,
  resolveChainConfig,
} from "../config/chain_config.ts";
import {
  ChainTxError,
  InsufficientFundsError,
  InsufficientGasError,
  TokenNetworkClient,
  TokenNetworkConfigError,
} from "../chain/token_network_client.ts";
import {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  listChannels,
  readChannel,
  saveChannel,
} from "../state/channel_file.ts";
import { openAuditLog } from "../state/audit_log.ts";
import { ClaimBooksError } from "../state/postgres_claim_books.ts";
import {
  closeChannelStep,
  cosignFailure,
  withBooksClaim,
} from "../roles/channels/channel_close.ts";
import { type ChannelLock, ChannelLockedError, lockChannel } from "../state/channel_lock.ts";
import { nodeHello, restartProfileNode, stopProfileNode } from "./profile_node.ts";
import type { PassphraseFlags } from "./node_identity.ts";
import { BtpClient } from "../transport/btp_client.ts";
import {
  DEFAULT_COSIGN_TIMEOUT_MS,
  withdrawCooperatively,
  WithdrawTooLargeError,
} from "../roles/channels/channel_cosign_request.ts";
import { existingChannelWith, openRecordedChannel } from "../roles/channels/channel_open.ts";
import { raiseChannelDeposit } from "../roles/channels/channel_deposit.ts";
import { channelBooks } from "../state/channel_books.ts";
import { channelsDelivered } from "../state/channel_delivered.ts";
import { openPaymentLog } from "../state/payment_log.ts";
import { ChannelNotOnChainError, syncChannelFile } from "../roles/channels/channel_chain_sync.ts";
import { loadNodeSigner } from "./node_identity.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import {
  announcedBtpUrl,
  ChannelPeerError,
  resolveChannelPeer,
  type ResolvedChannelPeer,
} from "../roles/channels/channel_peer_resolver.ts";
import { NoPeerUrlError, recoverChannels } from "../roles/channels/channel_recover.ts";
import { CorruptVaultError, WrongPassphraseError } from "../identity/key_vault.ts";
import {
  PassphraseMismatchError,
  PassphraseSourceError,
  PassphraseUnavailableError,
} from "../identity/passphrase.ts";
import { WalletFileError, WalletNotFoundError } from "../identity/wallet_file.ts";
import { EmptyPassphraseError } from "../identity/wallet.ts";
import { ConfigError } from "../config/config_error.ts";
import { csvRow } from "../protocol/csv_row.ts";
import { printJsonLine } from "./json_line.ts";
import type { GlobalOptions } from "./global_options.ts";

/** Errors of the local state (wallet, passphrase, config, channel file): said as they are. */
const LOCAL_STATE_ERRORS = [
  WrongPassphraseError,
  CorruptVaultError,
  PassphraseUnavailableError,
  PassphraseSourceError,
  PassphraseMismatchError,
  WalletNotFoundError,
  WalletFileError,
  EmptyPassphraseError,
  TokenNetworkConfigError,
  ChannelFileError,
];

interface ChannelOptions extends GlobalOptions {
  passphraseFile?: string;
  chain?: string;
  rpcUrl?: string;
  tokenNetwork?: string;
  token?: string;
  mainnet?: boolean;
  /** `open`: the town whose kind 10032 names the peer (default: the relay URL setting). */
  town?: string;
}

interface OpenOptions extends ChannelOptions {
  deposit: string;
  peer?: string;
  peerInfo?: string;
  settleTimeout?: string;
  maxDeposit?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * Adds `channel open|list|show|close|recover` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerChannelCommand(new Command("turnpike"));
 * ```
 */
export function registerChannelCommand(program: Command): Command {
  const channel = program.command("channel").description(
    "EVM payment channels with the BTP peer (open, balances, withdraw, close, recover)",
  );
  const common = (cmd: Command) =>
    cmd
      .option("--chain <id>", "settlement chain, e.g. evm:base:31337 or evm:base:84532")
      .option("--rpc-url <url>", "chain RPC URL (overrides config)")
      .option("--token-network <address>", "TokenNetwork contract (overrides config)")
      .option("--token <address>", "ERC-20 token (overrides config)")
      .option("--mainnet", "allow a mainnet chain (real funds)")
      .option("--passphrase-file <file>", "read the wallet passphrase from this file")
      .option("--non-interactive", "never prompt");
  common(
    channel.command("open")
      .description("open and fund a channel to the peer (waits for confirmation)")
      .requiredOption("--deposit <amount>", "deposit in token units, e.g. 50")
      .option("--peer <address>", "peer settlement address (default: config [channels] peer)")
      .option("--peer-info <file>", "peer's kind 10032 event or content (JSON) to negotiate with")
      .option("--town <url>", "read the peer from this town's kind 10032 (default: relay URL)")
      .option("--settle-timeout <seconds>", "settle timeout in seconds (default 3600)")
      .option("--max-deposit <amount>", "refuse deposits above this (default config or 100)"),
  ).action(async (_o: unknown, cmd: Command) => {
    await run(() => channelOpen(cmd.optsWithGlobals<OpenOptions>()));
  });
  common(
    channel.command("list").description("channels and balances")
      .option("--refresh", "read each channel on chain and update the files"),
  ).action(async (_o: unknown, cmd: Command) => {
    await run(() => channelList(cmd.optsWithGlobals(), undefined));
  });
  common(
    channel.command("show").argument("<id>", "channel id").description("one channel")
      .option("--refresh", "read the channel on chain and update the file"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await run(() => channelList(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("close").argument("<id>", "channel id").description(
      "settle at once with the peer's co-signature (BTP); when the peer does not answer or " +
        "refuses, close unilaterally with its newest claim, then (run again) settle after the timeout",
    )
      .option("--unilateral", "skip asking the peer to co-sign; close on chain alone")
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)")
      .option(
        "--store <url>",
        "a town on several processes: close with the newest claim of its shared books " +
          "(default $TURNPIKE_STORE_URL)",
      ),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await run(() => channelClose(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("withdraw").argument("<id>", "channel id").description(
      "take tokens out of the open channel, co-signed by the peer over BTP",
    )
      .requiredOption("--amount <units>", "token units to withdraw, e.g. 10")
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await run(() => channelWithdraw(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("topup").argument("<id>", "channel id").description(
      "add tokens to the channel's deposit (the contract's setTotalDeposit)",
    ).requiredOption("--amount <units>", "token units to add, e.g. 10"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await run(() => channelTopUp(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("recover").description(
      "rebuild channel files from the chain (contract state and events) and, for channels this " +
        "node pays over, the newest claim of ours the peer (the town) holds",
    )
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--town <url>", "the town's NIP-01 URL: its kind 10032 names its BTP URL")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)"),
  ).action(async (_o: unknown, cmd: Command) => {
    await run(() => channelRecover(cmd.optsWithGlobals()));
  });
  return channel;
}

interface Context {
  stateDir: string;
  /** `[chains."<id>"]` (config/channel_settings.ts). */
  chains: ChainTables;
  /** `[channels]`, the keys an opening reads. */
  channels: ChannelOpenSettings;
  /** The town's relay URL (`--town`, else the relay URL setting). */
  relayUrl: string;
  /** The profile's role (`turnpike init --role`), when said. */
  role?: string;
}

async function context(opts: ChannelOptions): Promise<Context> {
  const loaded = await loadSettings({
    flags: { stateDir: opts.stateDir, profile: opts.profile, relayUrl: opts.town },
  });
  return {
    stateDir: loaded.settings.stateDir,
    chains: chainTables(loaded),
    channels: channelOpenSettings(loaded),
    relayUrl: loaded.settings.relayUrl,
    role: loaded.settings.role,
  };
}

function chainFor(ctx: Context, opts: ChannelOptions, id: string): ChainConfig {
  const chainsTable = ctx.chains;
  const overrides: Partial<ChainConfig> = {};
  if (opts.rpcUrl) overrides.rpcUrl = opts.rpcUrl;
  if (opts.tokenNetwork) {
    overrides.tokenNetworkAddress = address(opts.tokenNetwork, "--token-network");
  }
  if (opts.token) overrides.tokenAddress = address(opts.token, "--token");
  return resolveChainConfig(id, {
    section: chainsTable[id],
    overrides,
    allowMainnet: opts.mainnet,
  });
}

function unlock(ctx: Context, opts: ChannelOptions): Promise<NodeSigner> {
  return loadNodeSigner({
    stateDir: ctx.stateDir,
    who: "this node",
    passphraseFile: opts.passphraseFile,
    nonInteractive: opts.nonInteractive,
  });
}

/** The peer and chain: --peer-info, --peer / [channels] peer, else the town's kind 10032. */
async function resolvePeer(ctx: Context, opts: OpenOptions): Promise<ResolvedChannelPeer> {
  const chainsTable = ctx.chains;
  const text = (v: unknown) => typeof v === "string" ? v : undefined;
  try {
    return await resolveChannelPeer({
      mine: ctx.channels.chains ?? [LOCAL_CHAIN],
      chain: opts.chain,
      prefer: ctx.channels.prefer,
      peerFlag: opts.peer,
      peerConfig: ctx.channels.peer,
      peerInfoFile: opts.peerInfo,
      townUrl: ctx.relayUrl,
      local: (id) => ({
        tokenNetwork: opts.tokenNetwork ?? text(chainsTable[id]?.token_network),
        token: opts.token ?? text(chainsTable[id]?.token),
      }),
    });
  } catch (err) {
    if (!(err instanceof ChannelPeerError)) throw err;
    throw new CliError(err.message, {
      context: err.context,
      suggestion: err.suggestion,
      exitCode: err.reason === "no-peer" ? ExitCode.Usage : ExitCode.Failure,
      cause: err,
    });
  }
}

async function channelOpen(opts: OpenOptions): Promise<void> {
  const ctx = await context(opts);
  const resolved = await resolvePeer(ctx, opts);
  const peerAddress = address(resolved.peerAddress, "--peer");
  const chain = chainFor(
    ctx,
    { ...opts, tokenNetwork: resolved.tokenNetwork, token: resolved.token },
    resolved.chain,
  );
  info(opts, `Peer: ${resolved.peerLabel} (${resolved.origin}), chain: ${networkLabel(chain)}`);
  const deposit = units(opts.deposit, chain.tokenDecimals, "--deposit");
  const maxText = opts.maxDeposit ?? ctx.channels.maxDeposit;
  const max = units(maxText, chain.tokenDecimals, "max deposit");
  if (deposit <= 0n) throw new CliError("--deposit must be positive", { exitCode: ExitCode.Usage });
  if (deposit > max) {
    throw new CliError(`deposit ${opts.deposit} ${chain.tokenSymbol} is above the maximum`, {
      context: `max ${maxText} ${chain.tokenSymbol}`,
      suggestion: "lower --deposit, or raise [channels] max_deposit / --max-deposit",
      exitCode: ExitCode.Usage,
    });
  }
  const settleTimeout = BigInt(opts.settleTimeout ?? ctx.channels.settleTimeoutSeconds);
  info(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  // The contract allows one channel per pair until it is settled: say which, before any tx.
  await refuseExistingChannel(client, peerAddress, ctx.stateDir, opts);
  const started = performance.now();
  const audit = await openAuditLog({ dir: ctx.stateDir });
  let record: ChannelRecord;
  try {
    ({ record } = await openRecordedChannel({
      client,
      peer: peerAddress,
      deposit,
      settleTimeout,
      stateDir: ctx.stateDir,
      audit,
      warnPercent: ctx.channels.warnPercent,
      auto: false,
    }).catch(async (err) => {
      if (err instanceof ChainTxError && err.reason === "ChannelExists") {
        await refuseExistingChannel(client, peerAddress, ctx.stateDir, opts);
      }
      throw err;
    }));
  } finally {
    await audit.close();
  }
  const ms = performance.now() - started;
  printRecords(opts, [record], `Opened channel ${record.channelId} in ${Math.round(ms)} ms`);
  info(
    opts,
    `Pay the town with it: --channel ${record.channelId} (job submit, node up, requester)`,
  );
}

/**
 * Fails when the chain already has a channel between us and the peer (the contract's
 * `ChannelExists`): open, it can be paid over; closed, it must be settled first (after its
 * settle timeout) before a new one can be opened.
 */
async function refuseExistingChannel(
  client: TokenNetworkClient,
  peer: `0x${string}`,
  stateDir: string,
  opts: ChannelOptions,
): Promise<void> {
  const existing = await existingChannelWith(client, peer);
  if (existing === undefined) return;
  const { channelId: id, onChain } = existing;
  const hasFile = await Deno.stat(channelFilePath(stateDir, id)).then(() => true, () => false);
  const me = cliPrefix(opts);
  const recover = hasFile ? "" : ` (no channel file here: \`${me} channel recover\` first)`;
  if (onChain.state === "closed") {
    const at = new Date(Number(onChain.settleAt) * 1000).toISOString();
    throw new CliError(`a channel with this peer already exists: ${id} is closed, not settled`, {
      context:
        `ChannelExists: one channel per pair until it is settled; its settle timeout ends ${at}`,
      suggestion: `after ${at}, settle it with \`${me} channel close ${id}\` (the town's ` +
        `watcher also settles it by itself), then open a new one${recover}`,
    });
  }
  throw new CliError(`a channel with this peer is already open: ${id}`, {
    context: "ChannelExists: one channel per pair until it is settled",
    suggestion: `pay over it (--channel ${id}), or close it first with \`${me} channel close ` +
      `${id}\` and open a new one${recover}`,
  });
}

/** `turnpike` with the state dir or profile this command was given, for suggestions. */
function cliPrefix(opts: ChannelOptions): string {
  if (opts.stateDir !== undefined) return `turnpike --state-dir ${opts.stateDir}`;
  if (opts.profile !== undefined && opts.profile !== "default") {
    return `turnpike --profile ${opts.profile}`;
  }
  return "turnpike";
}

async function channelList(opts: ChannelOptions & { refresh?: boolean }, id?: string) {
  const ctx = await context(opts);
  let records = await listChannels(ctx.stateDir);
  if (id !== undefined) {
    records = records.filter((r) => r.channelId.toLowerCase() === id.toLowerCase());
    if (records.length === 0) {
      throw new CliError(`no channel ${id}`, { context: `${ctx.stateDir}/channels` });
    }
  }
  printNetworkLines(opts, ctx, records);
  if (opts.refresh && records.length > 0) {
    using signer = await unlock(ctx, opts);
    const audit = await openAuditLog({ dir: ctx.stateDir });
    try {
      for (const [i, r] of records.entries()) {
        const chain = chainOfRecord(ctx, opts, r);
        const client = new TokenNetworkClient({ chain, account: signer.evm });
        records[i] = await syncChannelFile(r, client, { stateDir: ctx.stateDir, audit });
      }
    } finally {
      await audit.close();
    }
  }
  printRecords(opts, records, undefined, await deliveredByBooks(ctx, records));
}

/**
 * What this node paid over each channel by its payment log (state/channel_delivered.ts), for a
 * requester's or a provider's profile; a town pays its payouts by books of its own: none.
 */
async function deliveredByBooks(
  ctx: Context,
  records: readonly ChannelRecord[],
): Promise<ReadonlyMap<string, bigint>> {
  if (ctx.role === "town" || records.length === 0) return new Map();
  const log = await openPaymentLog({ stateDir: ctx.stateDir });
  return channelsDelivered(records, log.entries());
}

async function channelClose(opts: CosignCliOptions, id: string): Promise<void> {
  const ctx = await context(opts);
  let record = await readChannel(channelFilePath(ctx.stateDir, id));
  await using _lock = await holdChannel(ctx.stateDir, record.channelId, opts);
  const storeUrl = opts.store ?? Deno.env.get("TURNPIKE_STORE_URL");
  if (storeUrl !== undefined && storeUrl !== "") {
    record = await withBooksClaim(record, storeUrl, ctx.stateDir).catch((err) => {
      if (!(err instanceof ClaimBooksError)) throw err;
      throw new CliError(err.message, {
        context: "--store / TURNPIKE_STORE_URL",
        suggestion: "start the town's database, or leave --store out to close with this state " +
          "dir's newest claim",
        cause: err,
      });
    });
  }
  const chain = chainOfRecord(ctx, opts, record);
  info(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  try {
    record = await syncChannelFile(record, client, { stateDir: ctx.stateDir, audit });
    const step = await closeChannelStep({
      client,
      record,
      signer,
      stateDir: ctx.stateDir,
      audit,
      unilateral: opts.unilateral,
      connectPeer: () => connectPeer(opts),
      onCosignRefused: (why) => {
        console.error(`Error: the peer did not co-sign the final balances: ${why}`);
        console.error("Closing unilaterally instead.");
      },
    });
    const signed = record.sent;
    record = step.record;
    const at = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();
    if (step.kind === "settled-cooperatively") {
      const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
      const { settle } = step.agreement;
      info(
        opts,
        `Settled ${record.channelId} cooperatively in ${step.ms} ms (tx ${step.tx}): ` +
          `${settle.participant1} ${fmt(settle.balance1)}, ` +
          `${settle.participant2} ${fmt(settle.balance2)}`,
      );
    } else if (step.kind === "closed") {
      info(
        opts,
        `Closed ${record.channelId} (unilateral); settle after ${at(record.settleAt)}: run \`${
          cliPrefix(opts)
        } channel close ${record.channelId}\` again then`,
      );
    } else if (step.kind === "waiting") {
      info(opts, `Closed; the settle timeout ends ${at(step.settleAt)}`);
    } else if (step.kind === "settled") {
      const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
      // Booked as the chain paid: claims the peer never submitted came back (audit Unclaimed).
      const back = signed > record.sent
        ? `; ${fmt(signed - record.sent)} of claims the peer never took came back`
        : "";
      info(opts, `Settled ${record.channelId} (tx ${step.tx}): sent ${fmt(record.sent)}${back}`);
    }
  } finally {
    await audit.close();
  }
  printRecords(opts, [record]);
}

interface CosignCliOptions extends ChannelOptions {
  unilateral?: boolean;
  /** A town on several processes: its shared store, whose books hold the newest claim. */
  store?: string;
  connectorBtpUrl?: string;
  btpToken?: string;
}

/** The settings flags of the peer connection (state dir, BTP URL and token, the town). */
function peerFlags(opts: CosignCliOptions): SettingsFlags {
  const flags: SettingsFlags = { stateDir: opts.stateDir, profile: opts.profile };
  if (opts.connectorBtpUrl) flags.connectorBtpUrl = opts.connectorBtpUrl;
  if (opts.btpToken) flags.btpToken = opts.btpToken;
  if (opts.town) flags.relayUrl = opts.town;
  return flags;
}

/** The peer's BTP URL and token: flag > environment > config (as `job submit` reaches the town). */
async function connectPeer(opts: CosignCliOptions): Promise<BtpClient> {
  const loaded = await loadSettings({ flags: peerFlags(opts) });
  const peer = new BtpClient({
    url: loaded.settings.connectorBtpUrl,
    authToken: loaded.settings.btpToken,
    reconnect: false,
    responseTimeoutMs: DEFAULT_COSIGN_TIMEOUT_MS,
  });
  await peer.connect();
  return peer;
}

/**
 * What `withdraw` and `topup` start from: the context, the channel's file under its lock (a node
 * paying over the channel writes the file: it must not run meanwhile), its chain (the `Network:`
 * line said) and `--amount` in base units, positive.
 */
async function amountOnChannel(opts: ChannelOptions & { amount: string }, id: string): Promise<{
  ctx: Context;
  record: ChannelRecord;
  lock: ChannelLock;
  chain: ChainConfig;
  amount: bigint;
}> {
  const ctx = await context(opts);
  const record = await readChannel(channelFilePath(ctx.stateDir, id));
  const lock = await holdChannel(ctx.stateDir, record.channelId, opts);
  try {
    const chain = chainOfRecord(ctx, opts, record);
    info(opts, `Network: ${networkLabel(chain)}`);
    const amount = units(opts.amount, record.tokenDecimals, "--amount");
    if (amount <= 0n) {
      throw new CliError("--amount must be positive", { exitCode: ExitCode.Usage });
    }
    return { ctx, record, lock, chain, amount };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function channelWithdraw(
  opts: CosignCliOptions & { amount: string },
  id: string,
): Promise<void> {
  const { ctx, chain, amount, lock, ...held } = await amountOnChannel(opts, id);
  let record = held.record;
  await using _lock = lock;
  using signer = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  let peer: BtpClient | undefined;
  try {
    record = await syncChannelFile(record, client, { stateDir: ctx.stateDir, audit });
    const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
    const remaining = record.deposit - record.withdrawn - record.sent;
    if (amount > remaining) {
      throw new CliError(`cannot withdraw ${fmt(amount)}: the channel holds ${fmt(remaining)}`, {
        context: "deposit - withdrawn - claims signed",
        suggestion: `withdraw at most ${formatUnits(remaining, record.tokenDecimals)}`,
        exitCode: ExitCode.Usage,
      });
    }
    peer = await connectPeer(opts);
    const done = await withdrawCooperatively({
      peer,
      chain: client,
      record,
      signer,
      stateDir: ctx.stateDir,
      audit,
      amount,
    });
    record = done.record;
    info(opts, `Withdrew ${fmt(amount)} from ${record.channelId} (tx ${done.tx})`);
  } catch (err) {
    const why = cosignFailure(err);
    if (why) throw new CliError(`the peer did not co-sign the withdraw: ${why}`, { cause: err });
    if (err instanceof WithdrawTooLargeError) {
      throw new CliError(err.message, { exitCode: ExitCode.Usage, cause: err });
    }
    throw err;
  } finally {
    await peer?.close();
    await audit.close();
  }
  printRecords(opts, [record]);
}

async function channelTopUp(opts: ChannelOptions & { amount: string }, id: string): Promise<void> {
  const { ctx, chain, amount, lock, ...held } = await amountOnChannel(opts, id);
  let record = held.record;
  await using _lock = lock;
  const maxDeposit = topUpMaximum(ctx, record, amount);
  using signer = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  try {
    record = await syncChannelFile(record, client, { stateDir: ctx.stateDir, audit });
    if (record.status !== "open") {
      throw new CliError(
        `channel ${record.channelId} is ${record.status}: it cannot be topped up`,
        {
          suggestion: `open a new one with \`${cliPrefix(opts)} channel open\``,
        },
      );
    }
    const done = await raiseChannelDeposit({
      stateDir: ctx.stateDir,
      record,
      amount,
      chain: client,
      update: async (change, save) => {
        const next = change(record);
        await saveChannel(next, { stateDir: ctx.stateDir, audit, ...save });
        return next;
      },
      audit,
      auto: false,
      maxDeposit,
    });
    record = done.record;
    const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
    info(
      opts,
      `Topped up ${record.channelId} by ${fmt(amount)} to ${fmt(done.total)} (tx ${done.tx})`,
    );
  } finally {
    await audit.close();
  }
  printRecords(opts, [record]);
}

/** `[channels] max_deposit` in base units; a top-up past it is refused (exit 2) before paying gas. */
function topUpMaximum(ctx: Context, record: ChannelRecord, amount: bigint): bigint {
  const maxText = ctx.channels.maxDeposit;
  const max = units(maxText, record.tokenDecimals, "max deposit");
  const held = record.deposit - record.withdrawn;
  if (held + amount > max) {
    const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
    throw new CliError(
      `a top-up of ${fmt(amount)} would make the channel hold ${fmt(held + amount)}`,
      {
        context: `above the maximum of ${fmt(max)} ([channels] max_deposit)`,
        suggestion: held >= max
          ? "open a new channel, or raise [channels] max_deposit"
          : `top up at most ${
            formatUnits(max - held, record.tokenDecimals)
          }, or raise [channels] max_deposit`,
        exitCode: ExitCode.Usage,
      },
    );
  }
  return max;
}

async function channelRecover(opts: CosignCliOptions): Promise<void> {
  const ctx = await context(opts);
  const mine = ctx.channels.chains ?? [LOCAL_CHAIN];
  const chain = chainFor(ctx, opts, opts.chain ?? mine[0]);
  info(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  const peer = lastClaimPeer(opts);
  let recovered: ChannelRecord[];
  try {
    recovered = await recoverChannels({
      client,
      stateDir: ctx.stateDir,
      audit,
      warnPercent: ctx.channels.warnPercent,
      lock: (channelId) => holdChannel(ctx.stateDir, channelId, opts),
      peer: peer.get,
      onLastClaim: (record, last) =>
        info(
          opts,
          `${record.channelId}: last claim from the peer: nonce ${last.nonce}, ` +
            `${formatUnits(last.transferredAmount, record.tokenDecimals)} ${record.tokenSymbol}`,
        ),
      onLastClaimUnknown: (record, why, err) =>
        console.error(
          `Warning: sent amount of ${record.channelId} unknown (peer unavailable: ${why}): the ` +
            "file has only what the chain (and a surviving file) shows, nonce " +
            `${record.sentNonce} and ${
              formatUnits(record.sent, record.tokenDecimals)
            } ${record.tokenSymbol} sent, not the claims signed off chain since; do not pay ` +
            "over this channel until `turnpike channel recover` reaches the peer" +
            (err instanceof NoPeerUrlError
              ? "; pass the town's BTP URL (--connector-btp-url btp+ws://<town host>:3000, " +
                "printed by `town up` as btpUrl) or its NIP-01 URL (--town ws://<town host>:7100), " +
                "or set connector_btp_url in config.toml (`turnpike init` writes it)"
              : ""),
        ),
    });
  } finally {
    await peer.close();
    await audit.close();
  }
  printRecords(opts, recovered, `Recovered ${recovered.length} channel(s) from the chain`);
}

/** The BTP connection `recover` asks over: opened on first use, once; its failure is kept. */
interface LastClaimPeer {
  get(): Promise<BtpClient>;
  close(): Promise<void>;
}

function lastClaimPeer(opts: CosignCliOptions): LastClaimPeer {
  let connecting: Promise<BtpClient> | undefined;
  return {
    get: () =>
      connecting ??= (async () => {
        const loaded = await loadSettings({ flags: peerFlags(opts) });
        if (loaded.sources.connectorBtpUrl.kind !== "default") return await connectPeer(opts);
        // The default URL is a local town's: asking some unrelated local server is no answer.
        // A configured town announces its BTP URL in its kind 10032: ask that one.
        if (loaded.sources.relayUrl.kind === "default") throw new NoPeerUrlError();
        const url = await announcedBtpUrl(loaded.settings.relayUrl);
        info(opts, `Asking the town over ${url} (the BTP URL its kind 10032 announces)`);
        return await connectPeer({ ...opts, connectorBtpUrl: url });
      })(),
    close: async () => {
      const peer = await connecting?.catch(() => undefined);
      await peer?.close();
    },
  };
}

/**
 * Closing and withdrawing sign on the channel, so they take its lock like a running sender: a
 * node paying over the channel meanwhile would sign claims the final balances do not cover.
 * When the profile's node holds it (docs/ARCHITECTURE.md "The profile's node"), the node is
 * stopped for the command and started again after it if it was following jobs.
 */
async function holdChannel(
  stateDir: string,
  channelId: string,
  opts: PassphraseFlags = {},
): Promise<ChannelLock> {
  try {
    return await lockChannel(stateDir, channelId);
  } catch (err) {
    if (!(err instanceof ChannelLockedError)) throw err;
    const hello = await nodeHello(stateDir);
    // A node a command started is stopped for this one; one the user runs (`turnpike
    // requester`) is theirs to stop.
    if (hello === undefined || hello.pid !== err.pid || !hello.background) {
      throw new CliError(err.message, {
        context: "payment channel",
        suggestion: `stop the node or requester paying over it (pid ${
          err.pid ?? "unknown"
        }), then run this again`,
        cause: err,
      });
    }
    console.error(
      `node: stopping the profile's node (pid ${hello.pid}) for the channel` +
        (hello.activeJobs > 0 ? `; it follows ${hello.activeJobs} job(s) again after` : ""),
    );
    await stopProfileNode(stateDir);
    const lock = await lockChannel(stateDir, channelId);
    if (hello.activeJobs === 0) return lock;
    const release = async () => {
      await lock.release();
      await restartProfileNode(stateDir, hello, opts).catch((e) =>
        console.error(
          `node: not started again (${(e as Error).message}); the next job command starts it`,
        )
      );
    };
    return { path: lock.path, release, [Symbol.asyncDispose]: release };
  }
}

function chainOfRecord(ctx: Context, opts: ChannelOptions, r: ChannelRecord): ChainConfig {
  return chainFor(ctx, {
    ...opts,
    tokenNetwork: opts.tokenNetwork ?? r.tokenNetworkAddress,
    token: opts.token ?? r.tokenAddress,
  }, r.chain);
}

interface RecordView {
  channelId: string;
  network: string;
  chain: string;
  peer: string;
  status: string;
  deposit: string;
  sent: string;
  claimed: string;
  cover: string;
  remaining: string;
  received: string;
  receivedClaimed: string;
  token: string;
  warning: string;
  withdrawn: string;
  peerDeposit: string;
}

function view(r: ChannelRecord, delivered?: bigint): RecordView {
  // Paid and received by the books (docs/AGENTS.md "A channel's figures"), claims beside them.
  const books = channelBooks(r, delivered);
  const { remaining, low } = books;
  const fmt = (v: bigint) => formatUnits(v, r.tokenDecimals);
  return {
    channelId: r.channelId,
    network: r.network,
    chain: r.chain,
    peer: r.peerAddress,
    status: r.status,
    deposit: fmt(r.deposit),
    sent: fmt(books.sent),
    claimed: fmt(books.claimed),
    cover: fmt(books.cover),
    remaining: fmt(remaining),
    received: fmt(books.received),
    receivedClaimed: fmt(books.receivedClaimed),
    token: r.tokenSymbol,
    warning: low ? `below ${r.warnPercent}% of the deposit: top up or open a new channel` : "",
    withdrawn: fmt(r.withdrawn),
    peerDeposit: fmt(r.peerDeposit),
  };
}

function printRecords(
  opts: ChannelOptions,
  records: ChannelRecord[],
  headline?: string,
  delivered: ReadonlyMap<string, bigint> = new Map(),
): void {
  const views = records.map((r) => view(r, delivered.get(r.channelId.toLowerCase())));
  const output = opts.output ?? "text";
  if (output === "json") {
    // One line per channel (docs/AGENTS.md): no array to read whole.
    for (const v of views) printJsonLine("channel", { ...v });
  } else if (output === "csv") {
    const keys: (keyof RecordView)[] = [
      "channelId",
      "network",
      "chain",
      "peer",
      "status",
      "deposit",
      "sent",
      "claimed",
      "cover",
      "remaining",
      "received",
      "receivedClaimed",
      "token",
      "warning",
      "withdrawn",
      "peerDeposit",
    ];
    console.log(csvRow(keys));
    for (const v of views) console.log(csvRow(keys.map((k) => v[k])));
  } else {
    if (headline) console.log(headline);
    if (views.length === 0) console.log("No channels.");
    for (const v of views) {
      console.log(`${v.channelId}  [${v.network}: ${v.chain}]  ${v.status}`);
      console.log(`  peer ${v.peer}`);
      console.log(
        `  deposit ${v.deposit} ${v.token}${
          v.withdrawn !== "0" ? ` (${v.withdrawn} withdrawn)` : ""
        }, sent ${v.sent}${
          v.cover !== "0" ? ` (claims ${v.claimed}: ${v.cover} not delivered)` : ""
        }, received ${v.received}, ${v.remaining} ${v.token} remaining${
          v.peerDeposit !== "0" ? `; peer deposit ${v.peerDeposit} ${v.token}` : ""
        }`,
      );
    }
  }
  for (const v of views) {
    if (v.warning) console.error(`Warning: channel ${v.channelId} is ${v.warning}`);
  }
}

/** One `Network:` line per chain the listed channels are on, as every other channel command. */
function printNetworkLines(opts: ChannelOptions, ctx: Context, records: ChannelRecord[]): void {
  const seen = new Set<string>();
  for (const r of records) {
    if (seen.has(r.chain)) continue;
    seen.add(r.chain);
    let label: string;
    try {
      label = networkLabel(chainOfRecord(ctx, opts, r));
    } catch {
      // No RPC configured for it any more: the record still says where it is.
      label = `${r.chain} (${r.network})`;
    }
    info(opts, `Network: ${label}`);
  }
}

function info(opts: ChannelOptions, line: string): void {
  // Text output prints it on stdout; machine formats keep stdout clean, so it goes to stderr.
  if ((opts.output ?? "text") === "text") console.log(line);
  else console.error(line);
}

function units(text: string, decimals: number, what: string): bigint {
  if (!/^\d{1,30}(\.\d{1,18})?$/.test(text)) {
    throw new CliError(`${what} must be a positive decimal amount, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return parseUnits(text, decimals);
}

function address(text: string, what: string): `0x${string}` {
  if (!ADDRESS.test(text)) {
    throw new CliError(`${what} must be a 0x EVM address, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return text as `0x${string}`;
}

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    throw mapError(err);
  }
}

/** What the channel commands meet, each said as CLI_ERRORS says. */
const CHANNEL_ERROR_CASES = [
  errorCase(InsufficientFundsError, CLI_ERRORS.notEnoughTokens),
  errorCase(InsufficientGasError, CLI_ERRORS.notEnoughGas),
  errorCase(ChainTxError, CLI_ERRORS.chainRefused),
  errorCase(ChannelNotOnChainError, CLI_ERRORS.channelNotOnChain),
  errorCase(BaseError, CLI_ERRORS.chainSilent),
  errorCase(ChainConfigError, CLI_ERRORS.chainUnconfigured),
  errorCase(ConfigError, CLI_ERRORS.badChannelSetting),
  errorCase(LOCAL_STATE_ERRORS, CLI_ERRORS.localState),
];

/** The channel commands' errors, each as CLI_ERRORS says. */
function mapError(err: unknown): unknown {
  return toCliError(err, CHANNEL_ERROR_CASES);
}

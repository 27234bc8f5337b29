/**
 * `turnpike channel open|list|show|close|recover`: EVM payment channels with the BTP peer.
 * The network is always printed; mainnet needs `--mainnet`. Deposits are given in token units
 * (`--deposit 50` = 50 M2M) and refused above the configured maximum (default 100), and when
 * the wallet lacks tokens or gas. Channel files live in `<state dir>/channels/` and every change
 * is committed to the audit trail.
 *
 * Config (`<state dir>/config.toml`):
 *
 * ```toml
 * [channels]
 * peer = "0x..."                 # the BTP peer's settlement address (or --peer / --peer-info)
 * chains = ["evm:base:31337", "evm:base:84532"]   # supported, in order of preference
 * max_deposit = "100"            # token units
 * settle_timeout = 3600          # seconds
 * warn_percent = 10              # low-balance warning threshold
 * [chains."evm:base:31337"]
 * rpc_url = "http://127.0.0.1:8545"
 * token_network = "0x..."
 * token = "0x..."
 * ```
 *
 * @module
 */
import type { Command } from "commander";
import { formatUnits, type Hex, parseUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings } from "../config/settings.ts";
import {
  type ChainConfig,
  ChainConfigError,
  LOCAL_CHAIN,
  networkLabel,
  resolveChainConfig,
} from "../chain/chain_config.ts";
import {
  ChainTxError,
  InsufficientFundsError,
  InsufficientGasError,
  type OnChainChannel,
  TokenNetworkClient,
} from "../chain/token_network_client.ts";
import {
  channelFilePath,
  type ChannelRecord,
  listChannels,
  readChannel,
  saveChannel,
} from "../state/channel_file.ts";
import { openAuditLog } from "../state/audit_log.ts";
import { loadNodeIdentity } from "./node_identity.ts";
import { negotiateSettlementChain, parsePeerInfo } from "../protocol/peer_info.ts";

type OutputFormat = "text" | "json" | "csv";

interface ChannelOptions {
  stateDir?: string;
  profile?: string;
  output?: OutputFormat;
  nonInteractive?: boolean;
  passphraseFile?: string;
  chain?: string;
  rpcUrl?: string;
  tokenNetwork?: string;
  token?: string;
  mainnet?: boolean;
}

interface OpenOptions extends ChannelOptions {
  deposit: string;
  peer?: string;
  peerInfo?: string;
  settleTimeout?: string;
  maxDeposit?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DEFAULT_MAX_DEPOSIT = "100";

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
    "EVM payment channels with the BTP peer (open, balances, close, recover)",
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
      "close unilaterally with the peer's newest claim, then (run again) settle after the timeout",
    ),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await run(() => channelClose(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("recover").description(
      "rebuild channel files from the chain (contract state and events)",
    ),
  ).action(async (_o: unknown, cmd: Command) => {
    await run(() => channelRecover(cmd.optsWithGlobals()));
  });
  return channel;
}

interface Context {
  stateDir: string;
  sections: Record<string, Record<string, unknown>>;
  channels: Record<string, unknown>;
}

async function context(opts: ChannelOptions): Promise<Context> {
  const { settings, sections } = await loadSettings({
    flags: { stateDir: opts.stateDir, profile: opts.profile },
  });
  return { stateDir: settings.stateDir, sections, channels: sections.channels ?? {} };
}

function chainFor(ctx: Context, opts: ChannelOptions, id: string): ChainConfig {
  const chainsTable = (ctx.sections.chains ?? {}) as Record<string, Record<string, unknown>>;
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

function unlock(ctx: Context, opts: ChannelOptions): Promise<Uint8Array> {
  return loadNodeIdentity({
    stateDir: ctx.stateDir,
    who: "this node",
    passphraseFile: opts.passphraseFile,
    nonInteractive: opts.nonInteractive,
  });
}

async function channelOpen(opts: OpenOptions): Promise<void> {
  const ctx = await context(opts);
  const mine = stringList(ctx.channels.chains) ?? [LOCAL_CHAIN];
  let chainId = opts.chain;
  let peer = opts.peer ?? (typeof ctx.channels.peer === "string" ? ctx.channels.peer : undefined);
  if (opts.peerInfo) {
    const text = await Deno.readTextFile(opts.peerInfo);
    const json = JSON.parse(text) as Record<string, unknown>;
    const info = parsePeerInfo(
      typeof json.content === "string"
        ? { kind: Number(json.kind), content: json.content }
        : { kind: 10032, content: text },
    );
    const common = negotiateSettlementChain(mine, info.supportedChains, chainId ? [chainId] : mine);
    if (common.length === 0) {
      throw new CliError("no settlement chain in common with the peer", {
        context: `ours: ${mine.join(", ")}; theirs: ${info.supportedChains.join(", ")}`,
      });
    }
    chainId = common[0];
    peer ??= info.settlementAddresses[chainId];
  }
  chainId ??= mine[0];
  if (!peer) {
    throw new CliError("no peer to open a channel to", {
      suggestion: "pass --peer 0x... or --peer-info <10032 event file>, or set [channels] peer",
      exitCode: ExitCode.Usage,
    });
  }
  const peerAddress = address(peer, "--peer");
  const chain = chainFor(ctx, opts, chainId);
  const deposit = units(opts.deposit, chain.tokenDecimals, "--deposit");
  const maxText = opts.maxDeposit ?? String(ctx.channels.max_deposit ?? DEFAULT_MAX_DEPOSIT);
  const max = units(maxText, chain.tokenDecimals, "max deposit");
  if (deposit <= 0n) throw new CliError("--deposit must be positive", { exitCode: ExitCode.Usage });
  if (deposit > max) {
    throw new CliError(`deposit ${opts.deposit} ${chain.tokenSymbol} is above the maximum`, {
      context: `max ${maxText} ${chain.tokenSymbol}`,
      suggestion: "lower --deposit, or raise [channels] max_deposit / --max-deposit",
      exitCode: ExitCode.Usage,
    });
  }
  const settleTimeout = BigInt(opts.settleTimeout ?? String(ctx.channels.settle_timeout ?? 3600));
  info(opts, `Network: ${networkLabel(chain)}`);
  const secretKey = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, secretKey });
  secretKey.fill(0);
  const started = performance.now();
  const opened = await client.openChannel({ partner: peerAddress, deposit, settleTimeout });
  const ms = performance.now() - started;
  const record: ChannelRecord = {
    channelId: opened.channelId,
    chain: chain.id,
    chainId: chain.chainId,
    network: chain.network,
    tokenNetworkAddress: client.tokenNetworkAddress,
    tokenAddress: client.tokenAddress,
    tokenSymbol: chain.tokenSymbol,
    tokenDecimals: chain.tokenDecimals,
    selfAddress: client.address,
    peerAddress,
    status: "open",
    deposit,
    peerDeposit: 0n,
    sent: 0n,
    sentNonce: 0n,
    received: 0n,
    receivedNonce: 0n,
    settleTimeout,
    settleAt: 0n,
    openedAt: new Date().toISOString(),
    openTx: opened.openTx,
    warnPercent: Number(ctx.channels.warn_percent ?? 10),
  };
  const audit = await openAuditLog({ dir: ctx.stateDir });
  try {
    await saveChannel(record, {
      stateDir: ctx.stateDir,
      audit,
      action: "open",
      fields: {
        Tx: opened.openTx,
        Token: client.tokenAddress,
        TokenNetwork: client.tokenNetworkAddress,
      },
    });
  } finally {
    await audit.close();
  }
  printRecords(opts, [record], `Opened channel ${opened.channelId} in ${Math.round(ms)} ms`);
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
  if (opts.refresh && records.length > 0) {
    const secretKey = await unlock(ctx, opts);
    const audit = await openAuditLog({ dir: ctx.stateDir });
    try {
      for (const [i, r] of records.entries()) {
        const client = new TokenNetworkClient({ chain: chainOfRecord(ctx, opts, r), secretKey });
        records[i] = await syncRecord(ctx, client, r, audit);
      }
    } finally {
      secretKey.fill(0);
      await audit.close();
    }
  }
  printRecords(opts, records);
}

async function channelClose(opts: ChannelOptions, id: string): Promise<void> {
  const ctx = await context(opts);
  let record = await readChannel(channelFilePath(ctx.stateDir, id));
  const chain = chainOfRecord(ctx, opts, record);
  info(opts, `Network: ${networkLabel(chain)}`);
  const secretKey = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, secretKey });
  secretKey.fill(0);
  const audit = await openAuditLog({ dir: ctx.stateDir });
  try {
    record = await syncRecord(ctx, client, record, audit);
    const onChain = await client.getChannel(record.channelId);
    if (onChain.state === "opened") {
      const proof = record.receivedSignature && record.receivedNonce > 0n
        ? {
          nonce: record.receivedNonce,
          transferredAmount: record.received,
          signature: record.receivedSignature,
        }
        : undefined;
      const tx = await client.closeChannel(record.channelId, proof);
      const after = await client.getChannel(record.channelId);
      record = { ...record, status: "closed", settleAt: after.settleAt };
      await saveChannel(record, {
        stateDir: ctx.stateDir,
        audit,
        action: "close",
        fields: { Tx: tx },
      });
      info(
        opts,
        `Closed ${record.channelId} (unilateral); settle after ${
          new Date(Number(after.settleAt) * 1000).toISOString()
        }: run \`turnpike channel close ${record.channelId}\` again then`,
      );
    } else if (onChain.state === "closed") {
      const now = await client.chainTime();
      if (now <= onChain.settleAt) {
        info(
          opts,
          `Closed; the settle timeout ends ${
            new Date(Number(onChain.settleAt) * 1000).toISOString()
          }`,
        );
      } else {
        const tx = await client.settleChannel(record.channelId);
        record = { ...record, status: "settled" };
        await saveChannel(record, {
          stateDir: ctx.stateDir,
          audit,
          action: "settle",
          fields: { Tx: tx },
        });
        info(opts, `Settled ${record.channelId}`);
      }
    }
  } finally {
    await audit.close();
  }
  printRecords(opts, [record]);
}

async function channelRecover(opts: ChannelOptions): Promise<void> {
  const ctx = await context(opts);
  const mine = stringList(ctx.channels.chains) ?? [LOCAL_CHAIN];
  const chain = chainFor(ctx, opts, opts.chain ?? mine[0]);
  info(opts, `Network: ${networkLabel(chain)}`);
  const secretKey = await unlock(ctx, opts);
  const client = new TokenNetworkClient({ chain, secretKey });
  secretKey.fill(0);
  const events = await client.channelEvents();
  const byId = new Map<
    string,
    { opened?: Record<string, unknown>; settled: boolean; at: bigint }
  >();
  for (const e of events) {
    const entry = byId.get(e.channelId) ?? { settled: false, at: e.blockNumber };
    if (e.event === "opened") entry.opened = e.args;
    if (e.event === "settled") entry.settled = true;
    byId.set(e.channelId, entry);
  }
  const audit = await openAuditLog({ dir: ctx.stateDir });
  const recovered: ChannelRecord[] = [];
  try {
    for (const [channelId, entry] of byId) {
      if (!entry.opened) continue;
      const p1 = String(entry.opened.participant1) as `0x${string}`;
      const p2 = String(entry.opened.participant2) as `0x${string}`;
      const me = client.address.toLowerCase();
      const peerAddress = p1.toLowerCase() === me ? p2 : p1;
      const base: ChannelRecord = {
        channelId: channelId as Hex,
        chain: chain.id,
        chainId: chain.chainId,
        network: chain.network,
        tokenNetworkAddress: client.tokenNetworkAddress,
        tokenAddress: client.tokenAddress,
        tokenSymbol: chain.tokenSymbol,
        tokenDecimals: chain.tokenDecimals,
        selfAddress: client.address,
        peerAddress,
        status: entry.settled ? "settled" : "open",
        deposit: 0n,
        peerDeposit: 0n,
        sent: 0n,
        sentNonce: 0n,
        received: 0n,
        receivedNonce: 0n,
        settleTimeout: BigInt(entry.opened.settleTimeout as bigint),
        settleAt: 0n,
        openedAt: new Date().toISOString(),
        warnPercent: Number(ctx.channels.warn_percent ?? 10),
      };
      const record = entry.settled
        ? base
        : applyChain(base, await client.getChannel(base.channelId));
      await saveChannel(record, { stateDir: ctx.stateDir, audit, action: "recover" });
      recovered.push(record);
    }
  } finally {
    await audit.close();
  }
  printRecords(opts, recovered, `Recovered ${recovered.length} channel(s) from the chain`);
}

/** Brings a record up to date with the chain (the peer may have closed or deposited). */
async function syncRecord(
  ctx: Context,
  client: TokenNetworkClient,
  record: ChannelRecord,
  audit: Awaited<ReturnType<typeof openAuditLog>>,
): Promise<ChannelRecord> {
  if (record.status === "settled") return record;
  const onChain = await client.getChannel(record.channelId);
  let next: ChannelRecord = onChain.state === "none"
    ? { ...record, status: "settled" }
    : applyChain(record, onChain);
  // The peer closed with an older claim of theirs than we hold: submit ours while we may.
  const peerOnChain = onChain.participants[record.peerAddress.toLowerCase()];
  if (
    onChain.state === "closed" && peerOnChain && record.receivedSignature &&
    record.receivedNonce > peerOnChain.nonce && (await client.chainTime()) <= onChain.settleAt
  ) {
    await client.updateNonClosingBalanceProof(record.channelId, {
      nonce: record.receivedNonce,
      transferredAmount: record.received,
      signature: record.receivedSignature,
    });
  }
  if (encodeState(next) !== encodeState(record)) {
    next = { ...next };
    await saveChannel(next, { stateDir: ctx.stateDir, audit, action: "update" });
  }
  return next;
}

function applyChain(record: ChannelRecord, onChain: OnChainChannel): ChannelRecord {
  const self = onChain.participants[record.selfAddress.toLowerCase()];
  const peer = onChain.participants[record.peerAddress.toLowerCase()];
  const next = { ...record };
  next.status = onChain.state === "closed"
    ? "closed"
    : onChain.state === "opened"
    ? "open"
    : "settled";
  next.settleAt = onChain.settleAt;
  if (self) {
    if (self.deposit > next.deposit) next.deposit = self.deposit;
    if (self.nonce > next.sentNonce) {
      next.sentNonce = self.nonce;
      next.sent = self.transferredAmount;
    }
  }
  if (peer) {
    if (peer.deposit > next.peerDeposit) next.peerDeposit = peer.deposit;
    if (peer.nonce > next.receivedNonce) {
      next.receivedNonce = peer.nonce;
      next.received = peer.transferredAmount;
    }
  }
  return next;
}

function encodeState(r: ChannelRecord): string {
  return `${r.status}|${r.deposit}|${r.peerDeposit}|${r.sent}|${r.received}|${r.settleAt}`;
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
  remaining: string;
  received: string;
  token: string;
  warning: string;
}

function view(r: ChannelRecord): RecordView {
  const remaining = r.deposit - r.sent + r.received;
  const low = r.status === "open" && r.deposit > 0n &&
    remaining * 100n < r.deposit * BigInt(r.warnPercent);
  const fmt = (v: bigint) => formatUnits(v, r.tokenDecimals);
  return {
    channelId: r.channelId,
    network: r.network,
    chain: r.chain,
    peer: r.peerAddress,
    status: r.status,
    deposit: fmt(r.deposit),
    sent: fmt(r.sent),
    remaining: fmt(remaining),
    received: fmt(r.received),
    token: r.tokenSymbol,
    warning: low ? `below ${r.warnPercent}% of the deposit: top up or open a new channel` : "",
  };
}

function printRecords(opts: ChannelOptions, records: ChannelRecord[], headline?: string): void {
  const views = records.map(view);
  const output = opts.output ?? "text";
  if (output === "json") {
    console.log(JSON.stringify(views, null, 2));
  } else if (output === "csv") {
    const keys: (keyof RecordView)[] = [
      "channelId",
      "network",
      "chain",
      "peer",
      "status",
      "deposit",
      "sent",
      "remaining",
      "received",
      "token",
      "warning",
    ];
    console.log(keys.join(","));
    for (const v of views) console.log(keys.map((k) => csvCell(v[k])).join(","));
  } else {
    if (headline) console.log(headline);
    if (views.length === 0) console.log("No channels.");
    for (const v of views) {
      console.log(`${v.channelId}  [${v.network}: ${v.chain}]  ${v.status}`);
      console.log(`  peer ${v.peer}`);
      console.log(
        `  deposit ${v.deposit} ${v.token}, sent ${v.sent}, received ${v.received}, ${v.remaining} ${v.token} remaining`,
      );
    }
  }
  for (const v of views) {
    if (v.warning) console.error(`Warning: channel ${v.channelId} is ${v.warning}`);
  }
}

function info(opts: ChannelOptions, line: string): void {
  // Text output prints it on stdout; machine formats keep stdout clean, so it goes to stderr.
  if ((opts.output ?? "text") === "text") console.log(line);
  else console.error(line);
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
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

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? v as string[] : undefined;
}

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    throw mapError(err);
  }
}

function mapError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof InsufficientFundsError) {
    return new CliError("not enough tokens for the deposit", {
      context: err.message,
      suggestion: "fund the wallet's EVM address (`turnpike wallet show`) or lower --deposit",
      cause: err,
    });
  }
  if (err instanceof InsufficientGasError) {
    return new CliError("not enough native currency (ETH) for gas", {
      context: err.message,
      suggestion: "send some ETH to the wallet's EVM address for gas",
      cause: err,
    });
  }
  if (err instanceof ChainTxError) {
    return new CliError(err.message, { context: err.reason, cause: err });
  }
  if (err instanceof ChainConfigError) {
    return new CliError(err.message, {
      context: "chain config",
      suggestion: 'set [chains."<id>"] rpc_url / token_network in config.toml or pass --rpc-url',
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  if (err instanceof Error && /Wallet|Passphrase|Vault|Config|ChannelFile/.test(err.name)) {
    return new CliError(err.message, { context: err.name, cause: err });
  }
  return err;
}

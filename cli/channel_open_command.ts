/**
 * `turnpike channel open`: the peer and chain negotiated (`--peer-info`, `--peer` / `[channels]
 * peer`, else the town's kind 10032), the deposit checked against the maximum, then the channel
 * opened and funded on chain (roles/channels/channel_open.ts).
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { LOCAL_CHAIN, networkLabel } from "../config/chain_config.ts";
import { connectChain } from "../chain/chain_connection.ts";
import { ChainTxError, TokenNetworkClient } from "../chain/token_network_client.ts";
import { channelFilePath, type ChannelRecord } from "../state/channels/channel_file.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { existingChannelWith, openRecordedChannel } from "../roles/channels/channel_open.ts";
import {
  ChannelPeerError,
  resolveChannelPeer,
  type ResolvedChannelPeer,
} from "../roles/channels/channel_peer_resolver.ts";
import {
  chainFor,
  type ChannelContext,
  channelContext,
  type ChannelOptions,
  cliPrefix,
  evmAddress,
  infoLine,
  tokenUnits,
  unlockWallet,
} from "./channel_context.ts";
import { printRecords } from "./channel_rows.ts";

/** The options of `channel open`. */
export interface OpenOptions extends ChannelOptions {
  deposit: string;
  peer?: string;
  peerInfo?: string;
  settleTimeout?: string;
  maxDeposit?: string;
}

/** The peer and chain: --peer-info, --peer / [channels] peer, else the town's kind 10032. */
async function resolvePeer(ctx: ChannelContext, opts: OpenOptions): Promise<ResolvedChannelPeer> {
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

/**
 * `turnpike channel open`: opens and funds a channel to the peer, waits for its confirmation,
 * writes its file and prints it. A deposit above the maximum is refused (exit 2); so is a channel
 * the chain already has with the peer, before any transaction.
 *
 * It needs a chain (anvil) and a town, so it has no example that runs here:
 * tests/e2e/channel_walkthrough_test.ts
 */
export async function channelOpen(opts: OpenOptions): Promise<void> {
  const ctx = await channelContext(opts);
  const resolved = await resolvePeer(ctx, opts);
  const peerAddress = evmAddress(resolved.peerAddress, "--peer");
  // Connected: the RPC's chain id checked, the token's decimals and symbol its contract's.
  const chain = await connectChain(chainFor(
    ctx,
    { ...opts, tokenNetwork: resolved.tokenNetwork, token: resolved.token },
    resolved.chain,
  ));
  infoLine(opts, `Peer: ${resolved.peerLabel} (${resolved.origin}), chain: ${networkLabel(chain)}`);
  const deposit = tokenUnits(opts.deposit, chain.tokenDecimals, "--deposit");
  const maxText = opts.maxDeposit ?? ctx.channels.maxDeposit;
  const max = tokenUnits(maxText, chain.tokenDecimals, "max deposit");
  if (deposit <= 0n) throw new CliError("--deposit must be positive", { exitCode: ExitCode.Usage });
  if (deposit > max) {
    throw new CliError(`deposit ${opts.deposit} ${chain.tokenSymbol} is above the maximum`, {
      context: `max ${maxText} ${chain.tokenSymbol}`,
      suggestion: "lower --deposit, or raise [channels] max_deposit / --max-deposit",
      exitCode: ExitCode.Usage,
    });
  }
  const settleTimeout = BigInt(opts.settleTimeout ?? ctx.channels.settleTimeoutSeconds);
  infoLine(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlockWallet(ctx, opts);
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
  infoLine(
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

/**
 * `turnpike channel withdraw` and `turnpike channel topup`: an amount out of or into an open
 * channel, under the channel's lock, the channel read on chain first.
 *
 * @module
 */
import { formatUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { type ChainConfig, networkLabel } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../state/channels/channel_file.ts";
import { changeChannel } from "../state/channels/channel_writer.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import type { ChannelLock } from "../state/channels/channel_lock.ts";
import { cosignFailure } from "../roles/channels/channel_close.ts";
import {
  withdrawCooperatively,
  WithdrawTooLargeError,
} from "../roles/channels/channel_cosign_chain.ts";
import { raiseChannelDeposit } from "../roles/channels/channel_deposit.ts";
import { syncChannelFile } from "../roles/channels/channel_chain_sync.ts";
import type { BtpClient } from "../transport/btp_client.ts";
import {
  chainOfRecord,
  type ChannelContext,
  channelContext,
  type ChannelOptions,
  cliPrefix,
  infoLine,
  tokenUnits,
  unlockWallet,
} from "./channel_context.ts";
import { connectPeer, type CosignCliOptions } from "./channel_btp_peer.ts";
import { holdChannel } from "./channel_hold.ts";
import { printRecords } from "./channel_rows.ts";

/**
 * What `withdraw` and `topup` start from: the context, the channel's file under its lock (a node
 * paying over the channel writes the file: it must not run meanwhile), its chain (the `Network:`
 * line said) and `--amount` in base units, positive.
 */
async function amountOnChannel(opts: ChannelOptions & { amount: string }, id: string): Promise<{
  ctx: ChannelContext;
  record: ChannelRecord;
  lock: ChannelLock;
  chain: ChainConfig;
  amount: bigint;
}> {
  const ctx = await channelContext(opts);
  const record = await readChannel(channelFilePath(ctx.stateDir, id));
  const lock = await holdChannel(ctx.stateDir, record.channelId, opts);
  try {
    const chain = chainOfRecord(ctx, opts, record);
    infoLine(opts, `Network: ${networkLabel(chain)}`);
    const amount = tokenUnits(opts.amount, record.tokenDecimals, "--amount");
    if (amount <= 0n) {
      throw new CliError("--amount must be positive", { exitCode: ExitCode.Usage });
    }
    return { ctx, record, lock, chain, amount };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * `turnpike channel withdraw <id> --amount <units>`: takes tokens out of the open channel,
 * co-signed by the peer over BTP; more than the channel holds is refused (exit 2).
 *
 * It needs a chain (anvil) and the peer's co-signature over BTP, so it has no example that runs
 * here: tests/interop/anvil_channel_withdraw_test.ts
 */
export async function channelWithdraw(
  opts: CosignCliOptions & { amount: string },
  id: string,
): Promise<void> {
  const { ctx, chain, amount, lock, ...held } = await amountOnChannel(opts, id);
  let record = held.record;
  await using _lock = lock;
  using signer = await unlockWallet(ctx, opts);
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
    infoLine(opts, `Withdrew ${fmt(amount)} from ${record.channelId} (tx ${done.tx})`);
  } catch (err) {
    const why = cosignFailure(err);
    if (why) throw new CliError(`the peer did not co-sign the withdraw: ${why}`, { cause: err });
    if (err instanceof WithdrawTooLargeError) {
      throw CLI_ERRORS.usage(err);
    }
    throw err;
  } finally {
    await peer?.close();
    await audit.close();
  }
  printRecords(opts, [record]);
}

/**
 * `turnpike channel topup <id> --amount <units>`: adds tokens to the open channel's deposit
 * (roles/channels/channel_deposit.ts); past `[channels] max_deposit` it is refused (exit 2).
 *
 * It needs a chain (anvil) and a town, so it has no example that runs here:
 * tests/e2e/channel_list_topup_cli_test.ts
 */
export async function channelTopUp(
  opts: ChannelOptions & { amount: string },
  id: string,
): Promise<void> {
  const { ctx, chain, amount, lock, ...held } = await amountOnChannel(opts, id);
  let record = held.record;
  await using _lock = lock;
  const maxDeposit = topUpMaximum(ctx, record, amount);
  using signer = await unlockWallet(ctx, opts);
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
      update: (change, save) =>
        changeChannel(record, change, { stateDir: ctx.stateDir, audit, ...save }),
      audit,
      auto: false,
      maxDeposit,
    });
    record = done.record;
    const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
    infoLine(
      opts,
      `Topped up ${record.channelId} by ${fmt(amount)} to ${fmt(done.total)} (tx ${done.tx})`,
    );
  } finally {
    await audit.close();
  }
  printRecords(opts, [record]);
}

/** `[channels] max_deposit` in base units; a top-up past it is refused (exit 2) before paying gas. */
function topUpMaximum(ctx: ChannelContext, record: ChannelRecord, amount: bigint): bigint {
  const maxText = ctx.channels.maxDeposit;
  const max = tokenUnits(maxText, record.tokenDecimals, "max deposit");
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

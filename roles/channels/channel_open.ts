/**
 * Opening a channel, the one way both openers do it (`turnpike channel open` and the automatic
 * opener, `channel_auto_open.ts`): look for the channel the contract already has with the peer
 * (it allows one per pair until it is settled), open and fund it in one transaction, then write
 * its file (`channels/<id>.toml`, audit `payment channel <id> opened`) and the channel log's
 * `open` line, so the deposits logged for a channel add up to its deposit on chain. Each caller
 * says in its own words what stands in the way.
 *
 * @module
 */
import type { OnChainChannel, TokenNetworkClient } from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { recordChannel } from "../../state/channels/channel_writer.ts";
import { logChannelDeposit } from "./channel_deposit_log.ts";
import { DEFAULT_WARN_PERCENT } from "../../config/channel_settings.ts";
import { newChannelRecord } from "./channel_record_builder.ts";

/** The channel the contract already has between the client's account and a peer. */
export interface ExistingChannel {
  channelId: `0x${string}`;
  /** As the chain has it (`opened` or `closed`; a settled one is no longer in the way). */
  onChain: OnChainChannel;
}

/**
 * The channel between the client's account and `peer` that is not settled yet, if any: while it
 * exists the contract refuses to open another (`ChannelExists`).
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_cli_test.ts.
 */
export async function existingChannelWith(
  client: Pick<TokenNetworkClient, "channelWith" | "getChannel">,
  peer: `0x${string}`,
): Promise<ExistingChannel | undefined> {
  const channelId = await client.channelWith(peer);
  if (/^0x0*$/.test(channelId)) return undefined;
  return { channelId, onChain: await client.getChannel(channelId) };
}

/** Options for {@linkcode openRecordedChannel}. */
export interface OpenRecordedChannelOptions {
  /** The chain client of the opener's account (it pays the deposit and the gas). */
  client: TokenNetworkClient;
  /** The peer's settlement address. */
  peer: `0x${string}`;
  /** Token base units deposited in the opening transaction. */
  deposit: bigint;
  /** Seconds between a close and the earliest settle. */
  settleTimeout: bigint;
  stateDir: string;
  /** Where the file and the log line are recorded; none: the files only. */
  audit?: AuditLog;
  /** Low-balance warning threshold, percent of the deposit (default 10). */
  warnPercent?: number;
  /** true when the node opens it by itself (`[channels] auto`), false for a command. */
  auto: boolean;
}

/** What {@linkcode openRecordedChannel} did. */
export interface RecordedChannel {
  /** The channel's file as written. */
  record: ChannelRecord;
  /** The transaction that opened and funded it. */
  openTx: `0x${string}`;
}

/**
 * Opens and funds a channel with the peer, then writes its file and the channel log's `open`
 * line (both before this returns; the transaction is mined first, so a crash in between leaves
 * a channel on chain that `turnpike channel recover` rebuilds).
 *
 * It needs a chain: no example that runs here: tests/interop/anvil_channel_cli_test.ts.
 */
export async function openRecordedChannel(
  options: OpenRecordedChannelOptions,
): Promise<RecordedChannel> {
  const { client, peer, deposit, settleTimeout, stateDir, audit } = options;
  const opened = await client.openChannel({ partner: peer, deposit, settleTimeout });
  const record = newChannelRecord(client, {
    channelId: opened.channelId,
    peerAddress: peer,
    settleTimeout,
    deposit,
    openTx: opened.openTx,
    warnPercent: options.warnPercent ?? DEFAULT_WARN_PERCENT,
  });
  await recordChannel(record, {
    stateDir,
    audit,
    action: "open",
    fields: {
      Tx: opened.openTx,
      Token: client.tokenAddress,
      TokenNetwork: client.tokenNetworkAddress,
      ...(options.auto ? { Auto: "yes" } : {}),
    },
  });
  await logChannelDeposit({
    stateDir,
    audit,
    record,
    action: "open",
    amount: deposit,
    totalDeposit: deposit,
    tx: opened.depositTx,
    auto: options.auto,
  });
  return { record, openTx: opened.openTx };
}

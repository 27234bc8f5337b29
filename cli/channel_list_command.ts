/**
 * `turnpike channel list` and `turnpike channel show <id>`: the channels this profile has, as
 * their files say or, with `--refresh`, as the chain says (the files updated).
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { type ChannelRecord, listChannels } from "../state/channels/channel_file.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { channelsDelivered } from "../state/channels/channel_delivered.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { syncChannelFile } from "../roles/channels/channel_chain_sync.ts";
import {
  chainOfRecord,
  type ChannelContext,
  channelContext,
  type ChannelOptions,
  unlockWallet,
} from "./channel_context.ts";
import { printNetworkLines, printRecords } from "./channel_rows.ts";

/**
 * `turnpike channel list` (every channel) and `turnpike channel show <id>` (one): the channels'
 * files, with `--refresh` each read on chain first, printed with what this node paid over each
 * by its payment log.
 *
 * @example
 * ```ts
 * import { channelList } from "./channel_list_command.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no channel: the list is empty
 * await channelList({ stateDir, output: "json" });
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function channelList(
  opts: ChannelOptions & { refresh?: boolean },
  id?: string,
): Promise<void> {
  const ctx = await channelContext(opts);
  let records = await listChannels(ctx.stateDir);
  if (id !== undefined) {
    records = records.filter((r) => r.channelId.toLowerCase() === id.toLowerCase());
    if (records.length === 0) {
      throw new CliError(`no channel ${id}`, { context: `${ctx.stateDir}/channels` });
    }
  }
  printNetworkLines(opts, records);
  if (opts.refresh && records.length > 0) {
    using signer = await unlockWallet(ctx, opts);
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
 * What this node paid over each channel by its payment log (state/channels/channel_delivered.ts), for a
 * requester's or a provider's profile; a town pays its payouts by books of its own: none.
 */
async function deliveredByBooks(
  ctx: ChannelContext,
  records: readonly ChannelRecord[],
): Promise<ReadonlyMap<string, bigint>> {
  if (ctx.role === "town" || records.length === 0) return new Map();
  const log = await openPaymentLog({ stateDir: ctx.stateDir });
  return channelsDelivered(records, log.entries());
}

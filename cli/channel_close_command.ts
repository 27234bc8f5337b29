/**
 * `turnpike channel close <id>`: one step of closing a channel (roles/channels/channel_close.ts),
 * under the channel's lock, with the newest claim of a town's shared books when `--store` names
 * them.
 *
 * @module
 */
import { formatUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { networkLabel } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { channelFilePath, readChannel } from "../state/channels/channel_file.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { ClaimBooksError } from "../state/postgres/postgres_claim_books.ts";
import { closeChannelStep, withBooksClaim } from "../roles/channels/channel_close.ts";
import { syncChannelFile } from "../roles/channels/channel_chain_sync.ts";
import {
  chainOfRecord,
  channelContext,
  cliPrefix,
  infoLine,
  unlockWallet,
} from "./channel_context.ts";
import { connectPeer, type CosignCliOptions } from "./channel_btp_peer.ts";
import { holdChannel } from "./channel_hold.ts";
import { printRecords } from "./channel_rows.ts";
import { PAYOUT_CHANNEL_LABEL } from "../roles/channels/payout_receiver.ts";
import { terminalText } from "./terminal_text.ts";
import { resolveWritesInDoubtAtClose } from "./channel_close_in_doubt.ts";

/**
 * `turnpike channel close <id>`: settles at once with the peer's co-signature over BTP; when
 * the peer does not answer or refuses (or `--unilateral`), closes on chain alone with its newest
 * claim, and run again after the settle timeout, settles.
 *
 * It needs a chain (anvil) and the peer over BTP, so it has no example that runs here:
 * tests/e2e/channel_walkthrough_test.ts
 */
export async function channelClose(opts: CosignCliOptions, id: string): Promise<void> {
  const ctx = await channelContext(opts);
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
  infoLine(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlockWallet(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  try {
    record = await syncChannelFile(record, client, { stateDir: ctx.stateDir, audit });
    // The town co-signs the close of a channel its peer pays it over, never of its own payout
    // channel: the provider closes that one with the town's newest claim (docs/OPERATIONS.md
    // "Paying providers"), without asking first.
    const payout = record.peerLabel === PAYOUT_CHANNEL_LABEL;
    if (payout && !opts.unilateral && record.status === "open") {
      infoLine(opts, "A payout channel from the town: closing it on chain with the town's claim");
    }
    const step = await closeChannelStep({
      client,
      record,
      signer,
      stateDir: ctx.stateDir,
      audit,
      unilateral: opts.unilateral || payout,
      connectPeer: () => connectPeer(opts),
      onCosignRefused: (why) => {
        console.error(`Error: the peer did not co-sign the final balances: ${terminalText(why)}`);
        console.error("Closing unilaterally instead.");
      },
    });
    const signed = record.sent;
    record = step.record;
    // The channel pays no more: the writes still in doubt get their outcome on the payment log.
    if (step.kind === "settled-cooperatively" || step.kind === "closed") {
      await resolveWritesInDoubtAtClose(opts, ctx.stateDir);
    }
    const at = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();
    if (step.kind === "settled-cooperatively") {
      const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
      const { settle } = step.agreement;
      infoLine(
        opts,
        `Settled ${record.channelId} cooperatively in ${step.ms} ms (tx ${step.tx}): ` +
          `${settle.participant1} ${fmt(settle.balance1)}, ` +
          `${settle.participant2} ${fmt(settle.balance2)}`,
      );
    } else if (step.kind === "closed") {
      infoLine(
        opts,
        `Closed ${record.channelId} (unilateral); settle after ${at(record.settleAt)}: run \`${
          cliPrefix(opts)
        } channel close ${record.channelId}\` again then`,
      );
    } else if (step.kind === "waiting") {
      infoLine(opts, `Closed; the settle timeout ends ${at(step.settleAt)}`);
    } else if (step.kind === "settled") {
      const fmt = (v: bigint) => `${formatUnits(v, record.tokenDecimals)} ${record.tokenSymbol}`;
      // Booked as the chain paid: claims the peer never submitted came back (audit Unclaimed).
      const back = signed > record.sent
        ? `; ${fmt(signed - record.sent)} of claims the peer never took came back`
        : "";
      infoLine(
        opts,
        `Settled ${record.channelId} (${step.tx ? `tx ${step.tx}` : step.settledBy}): sent ${
          fmt(record.sent)
        }${back}`,
      );
    }
  } finally {
    await audit.close();
  }
  printRecords(opts, [record]);
}

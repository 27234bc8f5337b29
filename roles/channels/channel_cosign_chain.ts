/**
 * The payer's cooperative close and withdraw on chain (docs/PROTOCOL.md "Cooperative close and
 * withdraw"): the peer's co-signature asked for (roles/channels/channel_cosign_request.ts), the
 * transaction submitted, then the channel file and the audit trail written. Nothing is written before the
 * transaction is mined: a crash in between leaves the chain ahead of the file, which the next
 * `channel close`, `channel list --refresh` or the node's watcher reads back.
 *
 * @module
 */
import { WithdrawTooLargeError } from "./channel_cosign_request_errors.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { changeChannel, type SentClaimWriter } from "../../state/channels/channel_writer.ts";
import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
import {
  type CooperativeSettleAgreement,
  type CosignTransport,
  DEFAULT_WITHDRAW_EXPIRY_SECONDS,
  requestCooperativeSettle,
  requestLastClaim,
  requestWithdraw,
  type WithdrawAgreement,
} from "./channel_cosign_request.ts";

/** Options for {@linkcode closeCooperatively} and {@linkcode withdrawCooperatively}. */
export interface CooperativeChainOptions {
  peer: CosignTransport;
  /** This node's chain client (submits the transaction). */
  chain: TokenNetworkClient;
  record: ChannelRecord;
  signer: NodeSigner;
  stateDir: string;
  audit?: AuditLog;
  timeoutMs?: number;
}

/** A cooperative settle on chain. */
export interface CooperativeClose {
  record: ChannelRecord;
  agreement: CooperativeSettleAgreement;
  tx: `0x${string}`;
  /**
   * Base units this node had claimed that the peer never took (0 mostly): claims saved before
   * their packet was sent and then refused, or in flight when the peer died; not paid.
   */
  unclaimed: bigint;
}

/**
 * The record a cooperative settle starts from: our newest claim, or what the peer says was
 * delivered against the claims it holds when that is lower (its newest claim when it does not
 * say). The sender saves each claim before its packet leaves (crash safety), so a packet refused,
 * or in flight when the peer died, leaves our record ahead of what the peer took; and a packet
 * refused after the peer took its claim leaves the peer's claim ahead of what it delivered. That
 * difference is not owed (docs/PROTOCOL.md "Cooperative close and withdraw"). A peer that cannot say what it
 * holds is settled at our own newest claim, as before.
 */
async function settleFrom(
  options: CooperativeChainOptions,
): Promise<{ record: ChannelRecord; unclaimed: bigint }> {
  const { record } = options;
  const held = await requestLastClaim({ peer: options.peer, record }).catch((err) => {
    if (err instanceof ChannelCosignError) return undefined;
    throw err;
  });
  const owed = held?.delivered ?? held?.transferredAmount;
  if (owed === undefined || owed >= record.sent) return { record, unclaimed: 0n };
  return { record: { ...record, sent: owed }, unclaimed: record.sent - owed };
}

/**
 * Co-signs the final balances with the peer and settles on chain at once (no settle timeout);
 * the channel file says `settled` with the transaction.
 *
 * It needs a chain and the channel's peer: no example that runs here:
 * tests/interop/anvil_channel_cooperative_close_test.ts.
 * @throws {ChannelCosignError} when the peer does not co-sign (fall back to a unilateral close).
 */
export async function closeCooperatively(
  options: CooperativeChainOptions,
): Promise<CooperativeClose> {
  const onChain = await options.chain.getChannel(options.record.channelId);
  if (onChain.state !== "opened") {
    throw new ChannelCosignError(
      "channel-not-open",
      `channel ${options.record.channelId} is ${onChain.state} on chain`,
    );
  }
  const from = await settleFrom(options);
  const agreement = await requestCooperativeSettle({ ...options, record: from.record, onChain });
  const { settle } = agreement;
  const tx = await options.chain.cooperativeSettle(
    settle.channelId,
    settle.balance1,
    settle.balance2,
    agreement.signature1,
    agreement.signature2,
  );
  // Booked at what the settle paid (`from`'s amount sent), on the file as it is now.
  const settled = (r: ChannelRecord): ChannelRecord => ({
    ...r,
    sent: from.record.sent,
    status: "settled",
    settleAt: 0n,
  });
  const record = await changeChannel(from.record, settled, {
    stateDir: options.stateDir,
    audit: options.audit,
    action: "settle",
    fields: {
      Cooperative: "yes",
      Tx: tx,
      Balance1: `${settle.participant1} ${settle.balance1}`,
      Balance2: `${settle.participant2} ${settle.balance2}`,
      ...(from.unclaimed > 0n ? { Unclaimed: `${from.unclaimed}` } : {}),
    },
  });
  return { record, agreement, tx, unclaimed: from.unclaimed };
}

/** Options for {@linkcode withdrawCooperatively}. */
export interface WithdrawChainOptions extends CooperativeChainOptions {
  /** Base units to take out now (on top of what was withdrawn before). */
  amount: bigint;
  /** Validity of the signatures. Default {@linkcode DEFAULT_WITHDRAW_EXPIRY_SECONDS}. */
  expirySeconds?: bigint;
  /** A live claim signer of this channel: its cap is lowered before anything is signed. */
  claims?: { noteWithdraw(totalWithdraw: bigint): Promise<void> };
  /**
   * The live sender's channel file writer: the withdraw is written through it, so its next
   * claim write starts from a record that has the withdraw (a separate write would be undone).
   */
  writer?: Pick<SentClaimWriter, "update">;
}

/** A withdraw on chain. */
export interface CooperativeWithdraw {
  record: ChannelRecord;
  agreement: WithdrawAgreement;
  tx: `0x${string}`;
}

export { WithdrawTooLargeError };

/**
 * Takes `amount` out of the open channel: co-signed by the peer, submitted with
 * `setTotalWithdraw`; the channel file's `withdrawn` rises (deposit unchanged).
 *
 * It needs a chain and the channel's peer: no example that runs here:
 * tests/interop/anvil_channel_cooperative_close_test.ts.
 * @throws {WithdrawTooLargeError} above what the channel holds beyond the claims signed.
 * @throws {ChannelCosignError} when the peer does not co-sign.
 */
export async function withdrawCooperatively(
  options: WithdrawChainOptions,
): Promise<CooperativeWithdraw> {
  const { record, chain } = options;
  const onChain = await chain.getChannel(record.channelId);
  if (onChain.state !== "opened") {
    throw new ChannelCosignError(
      "channel-not-open",
      `channel ${record.channelId} is ${onChain.state} on chain`,
    );
  }
  const self = onChain.participants[record.selfAddress.toLowerCase()];
  const deposit = self?.deposit ?? record.deposit;
  const withdrawn = maxOf(record.withdrawn, self?.withdrawn ?? 0n);
  const available = deposit - withdrawn - record.sent;
  if (options.amount <= 0n || options.amount > available) {
    throw new WithdrawTooLargeError(options.amount, available);
  }
  const totalWithdraw = withdrawn + options.amount;
  await options.claims?.noteWithdraw(totalWithdraw);
  const expiration = (await chain.chainTime()) +
    (options.expirySeconds ?? DEFAULT_WITHDRAW_EXPIRY_SECONDS);
  const agreement = await requestWithdraw({ ...options, onChain, totalWithdraw, expiration });
  const tx = await chain.setTotalWithdraw(record.channelId, {
    ...agreement.withdraw,
    participantSignature: agreement.participantSignature,
    partnerSignature: agreement.partnerSignature,
  });
  const fields = {
    Tx: tx,
    Amount: options.amount.toString(),
    TotalWithdraw: totalWithdraw.toString(),
  };
  const withdraw = (r: ChannelRecord): ChannelRecord => ({ ...r, withdrawn: totalWithdraw });
  const next = options.writer
    ? await options.writer.update(withdraw, { action: "withdraw", fields })
    : await changeChannel(record, withdraw, {
      stateDir: options.stateDir,
      audit: options.audit,
      action: "withdraw",
      fields,
    });
  return { record: next, agreement, tx };
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

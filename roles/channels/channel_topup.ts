/**
 * Keeps a payer's channel funded while it pays (`[channels] auto`): after each claim, when what
 * is left (deposit - withdrawn - claimed) falls below `topup_below` (default 10% of the
 * deposit), it raises the deposit on chain by `topup_amount` (default the configured deposit),
 * within the wallet's balance and `topup_daily_cap` per UTC day (counted from the channel log,
 * so separate commands share the cap). The claim signer learns the new cap once the transaction
 * is mined; the channel file (audit `payment channel <id> topped-up`) and the channel log record
 * it. A low balance, a top-up and a failed or capped top-up are alerts (roles/node_alerts.ts).
 *
 * It runs beside the payments, never in their way: a check that finds work starts it in the
 * background, one at a time; a payment that outruns it fails on the deposit as it would without.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { formatTokens } from "../../chain/token_amount.ts";
import { type ChannelPolicy, channelPolicyAmounts } from "../../config/channel_policy.ts";
import type { AuditLog } from "../../state/audit_log.ts";
import type { ChannelRecord, SentClaimWriter } from "../../state/channel_file.ts";
import { autoTopUpsSince, readChannelLog } from "../../state/channel_log.ts";
import { type DepositChain, raiseChannelDeposit } from "./channel_deposit.ts";
import type { AlertKind } from "../node_alerts.ts";

/** Options for {@linkcode startChannelTopUp}. */
export interface ChannelTopUpOptions {
  stateDir: string;
  policy: ChannelPolicy;
  /** The channel file's owner: the record as last written, and ordered writes. */
  sent: Pick<SentClaimWriter, "record" | "update">;
  chain: DepositChain;
  /** Learns the raised deposit (the claim signer's cap). */
  signer: { noteDeposit(totalDeposit: bigint): Promise<void> };
  audit?: AuditLog;
  /** Told about low balance, top-ups and failures. */
  alert?: (kind: AlertKind, message: string, details: Record<string, string>) => void;
  /** The clock, for the daily cap (tests). */
  now?: () => Date;
}

/** An automatic top-up was not done (daily cap reached, empty wallet). */
export class TopUpRefusedError extends RoleError {
  override name = "TopUpRefusedError";
}

/** A running top-up keeper. */
export interface ChannelTopUp {
  /** Looks at the balance; starts a top-up in the background when needed. Never throws. */
  check(): void;
  /** Resolves when no top-up is running (before a process exits). */
  idle(): Promise<void>;
}

/**
 * Starts the keeper of one channel.
 *
 * @example
 * ```ts
 * declare const o: Parameters<typeof startChannelTopUp>[0];
 * const { stateDir, policy, sent, signer } = o;
 * declare const client: typeof o.chain;
 * const topUp = startChannelTopUp({ stateDir, policy, sent, chain: client, signer });
 * // after each claim:
 * topUp.check();
 * ```
 */
export function startChannelTopUp(options: ChannelTopUpOptions): ChannelTopUp {
  let running: Promise<void> | undefined;
  const check = () => {
    if (running) return;
    const record = options.sent.record();
    if (record.status !== "open") return;
    const amounts = channelPolicyAmounts(options.policy, record.tokenDecimals);
    const left = record.deposit - record.withdrawn - record.sent;
    const below = amounts.topUpBelow(record.deposit);
    if (left >= below) return;
    const fmt = (v: bigint) => formatTokens(v, record);
    options.alert?.(
      "low-balance",
      `channel ${record.channelId} has ${fmt(left)} left (below ${fmt(below)})`,
      details(record, { left: left.toString(), threshold: below.toString() }),
    );
    if (below === 0n || amounts.topUpAmount === 0n) return;
    running = topUp(options, record, amounts.topUpAmount, amounts.topUpDailyCap, amounts.maxDeposit)
      .catch((err) => {
        options.alert?.(
          "topup-failed",
          `channel ${record.channelId}: the top-up failed: ${(err as Error).message}`,
          details(record, {}),
        );
      })
      .finally(() => running = undefined);
  };
  return { check, idle: async () => await running };
}

async function topUp(
  options: ChannelTopUpOptions,
  record: ChannelRecord,
  wanted: bigint,
  dailyCap: bigint,
  maxDeposit: bigint,
): Promise<void> {
  const now = options.now?.() ?? new Date();
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const used = autoTopUpsSince(await readChannelLog(options.stateDir), day);
  const fmt = (v: bigint) => formatTokens(v, record);
  let amount = dailyCap - used < wanted ? dailyCap - used : wanted;
  if (amount <= 0n) {
    throw new TopUpRefusedError(
      `the daily cap of ${fmt(dailyCap)} is reached (${fmt(used)} topped up today; ` +
        "[channels] topup_daily_cap)",
    );
  }
  // Never past [channels] max_deposit: the top-up is cut to the room left under it.
  const room = maxDeposit - (record.deposit - record.withdrawn);
  if (room <= 0n) {
    throw new TopUpRefusedError(
      `the channel holds ${fmt(record.deposit - record.withdrawn)}, the maximum ` +
        `([channels] max_deposit ${fmt(maxDeposit)})`,
    );
  }
  if (amount > room) amount = room;
  const held = await options.chain.tokenBalance();
  if (held < amount) amount = held;
  if (amount <= 0n) throw new TopUpRefusedError(`the wallet holds no ${record.tokenSymbol}`);
  const { total, tx } = await raiseChannelDeposit({
    stateDir: options.stateDir,
    record,
    amount,
    chain: options.chain,
    // The cap rises only once the deposit is on chain: the town reads it there.
    update: async (change, save) => {
      await options.signer.noteDeposit(record.deposit + amount);
      return await options.sent.update(change, save);
    },
    audit: options.audit,
    auto: true,
    maxDeposit,
  });
  options.alert?.(
    "topup",
    `channel ${record.channelId} topped up by ${fmt(amount)} to ${fmt(total)} (tx ${tx})`,
    details(record, { amount: amount.toString(), totalDeposit: total.toString(), tx }),
  );
}

function details(record: ChannelRecord, extra: Record<string, string>): Record<string, string> {
  return { channelId: record.channelId, chain: record.chain, ...extra };
}

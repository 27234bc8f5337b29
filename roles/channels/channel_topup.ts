/**
 * Keeps a payer's channel funded while it pays (`[channels] auto`): after each claim, when what
 * is left (deposit - withdrawn - claimed) falls below `topup_below` (default 10% of the
 * deposit), it raises the deposit on chain by `topup_amount` (default the configured deposit),
 * within the wallet's balance and `topup_daily_cap` per UTC day (counted from the channel log,
 * so separate commands share the cap). The claim signer learns the new cap once the transaction
 * is mined; the channel file (audit `payment channel <id> topped-up`) and the channel log record
 * it. A low balance, a top-up and a failed or capped top-up are alerts (roles/node_alerts.ts).
 *
 * It runs beside the payments, one top-up at a time: a check after each claim that finds the
 * channel low starts one in the background. A claim that would pass the deposit asks
 * {@linkcode ChannelTopUp.cover} (docs/OPERATIONS.md "A payment past the deposit"): it waits for the
 * top-up under way, or starts one at least as big as the claim needs when the policy allows
 * (daily cap, `max_deposit`, the wallet), and resolves once the raised deposit is mined; when
 * none can cover the claim it says why ({@linkcode TopUpRefusedError}'s `reason`), and the claim
 * is refused with it. Many claims waiting start no second top-up: there is one at most.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { formatTokens } from "../../chain/token_amount.ts";
import {
  type ChannelPolicy,
  type ChannelPolicyAmounts,
  channelPolicyAmounts,
} from "../../config/channel_policy.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import type { SentClaimWriter } from "../../state/channels/channel_writer.ts";
import { autoTopUpsSince, readChannelLog } from "../../state/channels/channel_log.ts";
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

/**
 * Why no automatic top-up covers a claim: `auto-off` (not configured, or `topup_below` /
 * `topup_amount` 0), `no-rpc` (no chain to write to), `daily-cap`, `max-deposit`, `wallet` (too
 * few tokens), `expired` (the top-up under way outlasted the payment), `failed` (its
 * transaction failed).
 */
export type TopUpRefusal =
  | "auto-off"
  | "no-rpc"
  | "daily-cap"
  | "max-deposit"
  | "wallet"
  | "expired"
  | "failed";

/** An automatic top-up was not done, or cannot cover a claim: `reason` says why. */
export class TopUpRefusedError extends RoleError {
  override name = "TopUpRefusedError";
  constructor(readonly reason: TopUpRefusal, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A running top-up keeper. */
export interface ChannelTopUp {
  /** Looks at the balance; starts a top-up in the background when needed. Never throws. */
  check(): void;
  /**
   * Makes room for a cumulative claim of `total`: resolves once the deposit (less withdrawn)
   * covers it and the signer knows, after waiting for the top-up under way or one started for
   * it; by `until` (epoch ms) at the latest. Rejects with {@linkcode TopUpRefusedError} when no
   * top-up can cover it, or `until` passed first (the top-up goes on).
   */
  cover(total: bigint, until?: number): Promise<void>;
  /** Resolves when no top-up is running (before a process exits). */
  idle(): Promise<void>;
}

/**
 * Starts the keeper of one channel.
 *
 * It needs a chain: no example that runs here:
 * tests/unit/roles/channels/channel_topup_cover_test.ts.
 */
export function startChannelTopUp(options: ChannelTopUpOptions): ChannelTopUp {
  // The top-up under way: resolves with its failure, or undefined once done.
  let running: Promise<Error | undefined> | undefined;
  const start = (record: ChannelRecord, amounts: ChannelPolicyAmounts, need: bigint) => {
    running = topUp(options, record, amounts, need)
      .then(() => undefined, (err: Error) => {
        options.alert?.(
          "topup-failed",
          `channel ${record.channelId}: the top-up failed: ${err.message}`,
          details(record, {}),
        );
        return err;
      })
      .finally(() => running = undefined);
    return running;
  };
  const autoOff = (amounts: ChannelPolicyAmounts, deposit: bigint) =>
    amounts.topUpBelow(deposit) === 0n || amounts.topUpAmount === 0n;
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
    if (autoOff(amounts, record.deposit)) return;
    void start(record, amounts, 1n);
  };
  const cover = async (total: bigint, until?: number) => {
    // Each round either finds the claim covered, or waits for a top-up that raises the
    // deposit (or fails: then the claim is refused with its reason).
    for (;;) {
      const record = options.sent.record();
      const held = record.deposit - record.withdrawn;
      if (total <= held) {
        // Raised by the top-up's own write, or by the chain watcher: the signer's cap too.
        await options.signer.noteDeposit(record.deposit);
        return;
      }
      const waited = running !== undefined;
      const under = running ?? (() => {
        const amounts = channelPolicyAmounts(options.policy, record.tokenDecimals);
        if (autoOff(amounts, record.deposit)) {
          throw new TopUpRefusedError(
            "auto-off",
            "automatic top-up is off ([channels] topup_below or topup_amount is 0)",
          );
        }
        return start(record, amounts, total - held);
      })();
      const fmt = (v: bigint) => formatTokens(v, record);
      options.alert?.(
        "topup-wait",
        `channel ${record.channelId}: a payment to ${fmt(total)} in all waits for the ` +
          `${waited ? "top-up under way" : "top-up it started"} (the channel holds ${fmt(held)})`,
        details(record, { total: total.toString(), held: held.toString() }),
      );
      const failed = await beforeDeadline(under, until);
      if (failed instanceof TopUpRefusedError) throw failed;
      if (failed) {
        throw new TopUpRefusedError("failed", `the top-up failed: ${failed.message}`, {
          cause: failed,
        });
      }
    }
  };
  return { check, cover, idle: async () => void await running };
}

/** `under`'s outcome, or a refusal once `until` (epoch ms) passed first. */
async function beforeDeadline<T>(under: Promise<T>, until: number | undefined): Promise<T> {
  if (until === undefined) return await under;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TopUpRefusedError(
            "expired",
            "the top-up under way was not mined before the payment's deadline",
          ),
        ),
      Math.max(0, until - Date.now()),
    );
  });
  try {
    return await Promise.race([under, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Raises the deposit by `topup_amount`, or by `need` when that is more (a claim waiting for it),
 * cut to the daily cap, the room under `max_deposit` and the wallet's balance; refused when
 * what is left of them is below `need`.
 */
async function topUp(
  options: ChannelTopUpOptions,
  record: ChannelRecord,
  amounts: ChannelPolicyAmounts,
  need: bigint,
): Promise<void> {
  const { topUpDailyCap: dailyCap, maxDeposit } = amounts;
  const now = options.now?.() ?? new Date();
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const used = autoTopUpsSince(await readChannelLog(options.stateDir), day);
  const fmt = (v: bigint) => formatTokens(v, record);
  const short = `, ${fmt(need)} needed`;
  let amount = amounts.topUpAmount > need ? amounts.topUpAmount : need;
  const capLeft = dailyCap - used;
  if (capLeft < need) {
    throw new TopUpRefusedError(
      "daily-cap",
      capLeft <= 0n
        ? `the daily cap of ${fmt(dailyCap)} is reached (${fmt(used)} topped up today` +
          `${need > 1n ? short : ""}; [channels] topup_daily_cap)`
        : `the daily cap of ${fmt(dailyCap)} leaves ${fmt(capLeft)} today${short} ` +
          "([channels] topup_daily_cap)",
    );
  }
  if (amount > capLeft) amount = capLeft;
  // Never past [channels] max_deposit: the top-up is cut to the room left under it.
  const room = maxDeposit - (record.deposit - record.withdrawn);
  if (room < need) {
    throw new TopUpRefusedError(
      "max-deposit",
      `the channel holds ${fmt(record.deposit - record.withdrawn)}, the maximum ` +
        `([channels] max_deposit ${fmt(maxDeposit)}${need > 1n ? short : ""})`,
    );
  }
  if (amount > room) amount = room;
  const held = await options.chain.tokenBalance();
  if (held < need) {
    throw new TopUpRefusedError(
      "wallet",
      held <= 0n
        ? `the wallet holds no ${record.tokenSymbol}`
        : `the wallet holds ${fmt(held)}${short}`,
    );
  }
  if (amount > held) amount = held;
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

/**
 * What one payment channel holds for this node, from its record: the one computation that
 * `channel list`, `wallet balance` and `dash` all show, so the three agree.
 *
 * - `deposit`: the total ever deposited (the contract's `setTotalDeposit`);
 * - `held`: `deposit - withdrawn`, what the contract still holds of it;
 * - `remaining`: `held - sent + received`, this node's balance in the channel; 0 once the channel
 *   is settled (the settlement paid the balances out, nothing is left in the contract);
 * - `low`: an open channel below its warning percentage of `held`.
 *
 * @module
 */
import type { ChannelRecord } from "./channel_file.ts";

/** One channel's amounts, token base units. */
export interface ChannelBooks {
  deposit: bigint;
  withdrawn: bigint;
  held: bigint;
  sent: bigint;
  received: bigint;
  remaining: bigint;
  low: boolean;
}

/**
 * The channel's amounts as shown everywhere.
 *
 * @example
 * ```ts
 * declare const record: Parameters<typeof channelBooks>[0];
 * const { remaining, low } = channelBooks(record);
 * ```
 */
export function channelBooks(
  record: Pick<
    ChannelRecord,
    "deposit" | "withdrawn" | "sent" | "received" | "status" | "warnPercent"
  >,
): ChannelBooks {
  const held = record.deposit - record.withdrawn;
  const remaining = record.status === "settled" ? 0n : held - record.sent + record.received;
  return {
    deposit: record.deposit,
    withdrawn: record.withdrawn,
    held,
    sent: record.sent,
    received: record.received,
    remaining,
    low: record.status === "open" && held > 0n &&
      remaining * 100n < held * BigInt(record.warnPercent),
  };
}

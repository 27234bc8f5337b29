/**
 * What one payment channel holds for this node, from its record: the one computation that
 * `channel list`, `wallet balance` and `dash` all show, so the three agree.
 *
 * - `deposit`: the total ever deposited (the contract's `setTotalDeposit`);
 * - `held`: `deposit - withdrawn`, what the contract still holds of it;
 * - `sent`: what this node paid over the channel: by its books when they are given
 *   (`state/channels/channel_delivered.ts`: what `wallet history` adds up), else its newest claim;
 *   `claimed` is its newest claim's cumulative amount, and `cover` what the claims cover beyond
 *   `sent` (packets signed for and refused or unanswered: not paid, it comes back at the close);
 * - `received`: what the peer paid this node, delivered against its claims (`received_forwarded`,
 *   at most its newest claim); `receivedClaimed` its newest claim's amount;
 * - `remaining`: `held - claimed + receivedClaimed`, what the channel can still pay by claims;
 *   0 once the channel is settled (the settlement paid the balances out, nothing is left in the
 *   contract);
 * - `low`: an open channel below its warning percentage of `held`.
 *
 * A settled channel's record holds what the settle paid (roles/channels/channel_chain_sync.ts
 * `settledBooks`, the cooperative close's final amount): `sent` is that, whatever the books.
 *
 * @module
 */
import type { ChannelRecord } from "./channel_file.ts";

/** One channel's amounts, token base units. */
export interface ChannelBooks {
  deposit: bigint;
  withdrawn: bigint;
  held: bigint;
  /** Paid to the peer: by the books when given, else the newest claim. */
  sent: bigint;
  /** The cumulative amount of this node's newest claim. */
  claimed: bigint;
  /** `claimed - sent` when positive: claimed, not delivered. */
  cover: bigint;
  /** Paid by the peer: delivered against its claims. */
  received: bigint;
  /** The cumulative amount of the peer's newest claim. */
  receivedClaimed: bigint;
  remaining: bigint;
  low: boolean;
}

/**
 * The channel's amounts as shown everywhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = {
 *   deposit: 10_000n,
 *   withdrawn: 0n,
 *   sent: 5_000n, // the newest claim
 *   received: 0n,
 *   status: "open",
 *   warnPercent: 20,
 * } as const;
 * const { remaining, low } = channelBooks(record);
 * assert.deepEqual([remaining, low], [5_000n, false]);
 * const { sent, cover } = channelBooks(record, 4_000n); // paid 4,000 by the books
 * assert.deepEqual([sent, cover], [4_000n, 1_000n]);
 * ```
 */
export function channelBooks(
  record:
    & Pick<
      ChannelRecord,
      "deposit" | "withdrawn" | "sent" | "received" | "status" | "warnPercent"
    >
    & Partial<Pick<ChannelRecord, "receivedForwarded">>,
  delivered?: bigint,
): ChannelBooks {
  const held = record.deposit - record.withdrawn;
  const remaining = record.status === "settled" ? 0n : held - record.sent + record.received;
  const sent = record.status === "settled" || delivered === undefined ? record.sent : delivered;
  const forwarded = record.receivedForwarded ?? record.received;
  return {
    deposit: record.deposit,
    withdrawn: record.withdrawn,
    held,
    sent,
    claimed: record.sent,
    cover: record.sent > sent ? record.sent - sent : 0n,
    received: forwarded < record.received ? forwarded : record.received,
    receivedClaimed: record.received,
    remaining,
    low: record.status === "open" && held > 0n &&
      remaining * 100n < held * BigInt(record.warnPercent),
  };
}

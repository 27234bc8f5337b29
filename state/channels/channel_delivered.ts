/**
 * What this node paid over each of its payment channels by its books (the payment log,
 * `state/payments/payment_log.ts`: what `wallet history` adds up), as opposed to what its claims cover.
 * A claim is signed before its packet leaves; a packet the town refused after taking the claim,
 * or that got no answer (the town went away under it), leaves the claims ahead of what was
 * delivered, until the close settles at what was delivered (docs/AGENTS.md "A channel's
 * figures").
 *
 * Every paid packet of a node goes over the channel open with its town at the time, so a
 * channel's payments are the payment log's `out` payments that moved money (`fulfilled`) from its
 * `openedAt` until the next channel with the same peer was opened, in the channel's token (the
 * same asset code and scale). Only channels holding a deposit of this node's are paid over: one
 * it is only paid over (a town's payout channel) has no `sent` of its own to count. A settled channel is not counted: its record holds what the settle
 * paid. Nor is a channel that overlaps in time with an unsettled channel with another peer (two
 * towns at once): the log does not say which of them a payment went over; nor one with claims
 * while the log has no payment in its token at all (claims signed by another program).
 *
 * @module
 */
import type { ChannelRecord } from "./channel_file.ts";
import type { PaymentEntry } from "../payments/payment_log.ts";

/**
 * What each unsettled channel that can be told apart delivered by the books, by lowercase
 * channel id, base units of its token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listChannels } from "./channel_file.ts";
 * import { openPaymentLog } from "../payments/payment_log.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a profile's
 * const delivered = channelsDelivered(
 *   await listChannels(stateDir),
 *   (await openPaymentLog({ stateDir })).entries(),
 * );
 * assert.equal(delivered.size, 0); // no channel yet
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function channelsDelivered(
  records: readonly ChannelRecord[],
  entries: readonly PaymentEntry[],
): Map<string, bigint> {
  // Channels this node pays over hold its deposit; one it is only paid over (a town's payouts)
  // has none of its own.
  const sorted = records.filter((r) => r.deposit > 0n)
    .sort((a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt));
  const windows = sorted.map((r) => {
    const next = sorted.find((n) =>
      n !== r && n.peerAddress.toLowerCase() === r.peerAddress.toLowerCase() &&
      Date.parse(n.openedAt) > Date.parse(r.openedAt)
    );
    return {
      record: r,
      from: Date.parse(r.openedAt),
      until: next === undefined ? Infinity : Date.parse(next.openedAt),
    };
  });
  const out = new Map<string, bigint>();
  for (const w of windows) {
    if (w.record.status === "settled") continue;
    const overlaps = windows.some((o) =>
      o.record.status !== "settled" &&
      o.record.peerAddress.toLowerCase() !== w.record.peerAddress.toLowerCase() &&
      o.from < w.until && w.from < o.until
    );
    if (overlaps) continue;
    let paid = 0n;
    let booked = false;
    for (const e of entries) {
      if (e.direction !== "out" || e.asset !== w.record.tokenSymbol) continue;
      if (e.scale !== undefined && e.scale !== w.record.tokenDecimals) continue;
      booked = true;
      const at = Date.parse(e.ts);
      if (e.event === "fulfilled" && at >= w.from && at < w.until) paid += BigInt(e.amount);
    }
    // Claims and no payment of the token on the books at all: they are not this log's.
    if (booked || w.record.sent === 0n) out.set(w.record.channelId.toLowerCase(), paid);
  }
  return out;
}

/**
 * What a payer's invoices spend per UTC day, in total and per peer, kept as its payment log's lines
 * arrive (state/payments/payment_log.ts `spentOn`): the spend policy's daily caps ask it before
 * every payment, and summing the log's invoices at each ask cost a payment time in proportion to
 * the profile's 30 days of history (about 25 ms at 100,000 invoices; docs/SCALE.md "The payment
 * log read by a command").
 *
 * An invoice counts on the day of its newest line, for that line's amount, while it is paid or in
 * doubt and its line is one the owner counts (the log: not a town fee). The log hands over each
 * change of an invoice's record (its newest line and state) with the one it replaces.
 *
 * @module
 */
import type { InvoiceRecord } from "./invoice_states.ts";
import type { PaymentEntry } from "./payment_log.ts";

/** One day's spend: the total and per peer. */
interface DayTotals {
  total: bigint;
  byPeer: Map<string, bigint>;
}

/**
 * Per-day spend totals; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DailySpend } from "./daily_spend.ts";
 *
 * const intent = { ts: "2026-11-02T10:00:00.000Z", direction: "out", event: "intent",
 *   jobId: "j1", invoiceId: "i1", amount: "100", asset: "USD", peer: "p1" } as const;
 * const spend = new DailySpend();
 * spend.change(undefined, { state: "in-doubt", entry: intent });
 * spend.change({ state: "in-doubt", entry: intent }, {
 *   state: "rejected",
 *   entry: { ...intent, event: "rejected" },
 * });
 * assert.equal(spend.on("2026-11-02"), 0n); // refused: no money moved
 * spend.change(undefined, { state: "paid", entry: { ...intent, invoiceId: "i2" } });
 * assert.deepEqual([spend.on("2026-11-02"), spend.on("2026-11-02", "p2")], [100n, 0n]);
 * ```
 */
export class DailySpend {
  readonly #days = new Map<string, DayTotals>();
  readonly #counts: (entry: PaymentEntry) => boolean;
  /** The oldest day still kept, once days were forgotten. */
  #oldest: string | undefined;

  /** `counts`: whether an invoice of this line counts at all (default: every one). */
  constructor(counts: (entry: PaymentEntry) => boolean = () => true) {
    this.#counts = counts;
  }

  /** Takes one invoice's record replacing `before` (undefined: its first line) by `after`. */
  change(before: InvoiceRecord | undefined, after: InvoiceRecord): void {
    if (before !== undefined) this.#add(before, -1n);
    this.#add(after, 1n);
  }

  /** What the day (`YYYY-MM-DD`) spent, to `peer` or in all. */
  on(day: string, peer?: string): bigint {
    const totals = this.#days.get(day);
    if (totals === undefined) return 0n;
    return peer === undefined ? totals.total : totals.byPeer.get(peer) ?? 0n;
  }

  /**
   * Forgets the days before `oldest` (`YYYY-MM-DD`): the log no longer keeps them. A line of such
   * a day met later (an invoice's late answer) neither adds to it nor takes from it.
   */
  forgetBefore(oldest: string): void {
    if (this.#oldest === undefined || oldest > this.#oldest) this.#oldest = oldest;
    for (const day of this.#days.keys()) if (day < oldest) this.#days.delete(day);
  }

  #add({ state, entry }: InvoiceRecord, sign: bigint): void {
    if (state !== "paid" && state !== "in-doubt") return;
    if (!this.#counts(entry)) return;
    const day = entry.ts.slice(0, 10);
    if (this.#oldest !== undefined && day < this.#oldest) return;
    let totals = this.#days.get(day);
    if (totals === undefined) this.#days.set(day, totals = { total: 0n, byPeer: new Map() });
    const amount = sign * BigInt(entry.amount);
    totals.total += amount;
    totals.byPeer.set(entry.peer, (totals.byPeer.get(entry.peer) ?? 0n) + amount);
  }
}

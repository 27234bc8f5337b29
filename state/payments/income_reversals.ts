/**
 * Income taken back: a `reversed` entry (`in`) cancels the latest earlier income entry (`in`,
 * `fulfilled`) of the same invoice not cancelled yet. Nothing is rewritten: a provider's income
 * row gets a `reversed` row after it (`ProviderJobStore.reverseIncome`, in the transaction of the
 * record going back to `invoiced`), an older turnpike's income line a `reversed` line in the
 * payment log. A provider writes one when its town says it does not owe a payment the provider
 * counted (docs/PROTOCOL.md "A crash between a payment's two records": killed after its income,
 * before its FULFILL left); what reads the income (`stats`, the town-debt check, the fulfillments
 * shown to a town) reads it through {@linkcode withoutReversed}.
 *
 * @module
 */
import type { PaymentEntry } from "./payment_log.ts";

/**
 * The entries without the reversed income lines and the reversals themselves, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reversalOf, withoutReversed } from "./income_reversals.ts";
 *
 * const paid = { ts: "2026-11-27T10:00:00.000Z", direction: "in", event: "fulfilled", jobId: "j",
 *   invoiceId: "ab".repeat(32), amount: "100", asset: "USD", peer: "c".repeat(64) } as const;
 * const entries = [paid, reversalOf(paid, "2026-11-27T10:01:00.000Z")];
 * assert.deepEqual(withoutReversed(entries), []);
 * // Paid again once its invoice opened again: that payment stands.
 * assert.equal(withoutReversed([...entries, paid]).length, 1);
 * // A reversal ordered before its income (a clock gone back) still takes it.
 * assert.deepEqual(withoutReversed([entries[1], paid]), []);
 * ```
 */
export function withoutReversed(entries: readonly PaymentEntry[]): PaymentEntry[] {
  if (!entries.some((e) => e.event === "reversed")) return [...entries];
  const dropped = new Set<number>();
  const standing = new Map<string, number[]>();
  // A reversal read before its income (entries ordered by a clock that went back across a
  // restart) cancels the next income of its invoice: every reversal has an income to take.
  const early = new Map<string, number>();
  entries.forEach((e, i) => {
    if (e.direction !== "in") return;
    if (e.event === "fulfilled") {
      const owed = early.get(e.invoiceId) ?? 0;
      if (owed > 0) {
        early.set(e.invoiceId, owed - 1);
        dropped.add(i);
      } else standing.set(e.invoiceId, [...standing.get(e.invoiceId) ?? [], i]);
    } else if (e.event === "reversed") {
      dropped.add(i);
      const taken = standing.get(e.invoiceId)?.pop();
      if (taken !== undefined) dropped.add(taken);
      else early.set(e.invoiceId, (early.get(e.invoiceId) ?? 0) + 1);
    }
  });
  return entries.filter((_, i) => !dropped.has(i));
}

/**
 * How many income lines of each invoice stand (written less reversed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { standingIncome } from "./income_reversals.ts";
 *
 * const paid = { ts: "2026-11-27T10:00:00.000Z", direction: "in", event: "fulfilled", jobId: "j",
 *   invoiceId: "i", amount: "100", asset: "USD", peer: "c".repeat(64) } as const;
 * assert.equal(standingIncome([paid, paid]).get("i"), 2);
 * ```
 */
export function standingIncome(entries: readonly PaymentEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of withoutReversed(entries)) {
    if (e.direction === "in" && e.event === "fulfilled") {
      counts.set(e.invoiceId, (counts.get(e.invoiceId) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * The line that reverses an income line, written at `ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reversalOf } from "./income_reversals.ts";
 *
 * const paid = { ts: "2026-11-27T10:00:00.000Z", direction: "in", event: "fulfilled", jobId: "j",
 *   invoiceId: "i", amount: "100", asset: "USD", peer: "c".repeat(64),
 *   fulfillment: "ef".repeat(32) } as const;
 * const back = reversalOf(paid, "2026-11-27T10:01:00.000Z");
 * assert.equal(back.event, "reversed");
 * assert.equal(back.fulfillment, undefined);
 * ```
 */
export function reversalOf(income: PaymentEntry, ts: string): PaymentEntry {
  const { fulfillment: _fulfillment, reason: _reason, ...rest } = income;
  return { ...rest, ts, event: "reversed", reason: "not owed by the town" };
}

/**
 * The books of a node from its payment log: settled (fulfilled) payments summed per asset,
 * direction and category, with the net, per UTC day and per job. What `turnpike stats`, `wallet
 * history` and the demo's cost report print.
 *
 * @module
 */
import {
  categoryOf,
  PAYMENT_CATEGORIES,
  type PaymentCategory,
  type PaymentEntry,
} from "./payment_log.ts";
import { withoutReversed } from "./income_reversals.ts";

/** Base units per category, and their sum. */
export interface CategoryTotals {
  total: bigint;
  byCategory: Record<PaymentCategory, bigint>;
}

/** One asset's books. */
export interface AssetBooks {
  asset: string;
  /** Decimal places, when the log knows them. */
  scale?: number;
  spent: CategoryTotals;
  earned: CategoryTotals;
  /** earned - spent. */
  net: bigint;
  /** Per UTC day (`YYYY-MM-DD`), oldest first. */
  byDay: { day: string; spent: bigint; earned: bigint }[];
  /** Per job (or `blob:<sha256>` for blobs paid outside a job), in first-seen order. */
  byJob: { jobId: string; spent: CategoryTotals; earned: CategoryTotals }[];
  /** Settled payments counted. */
  payments: number;
}

/** Options for {@linkcode summarizePayments}. */
export interface PaymentSummaryOptions {
  /** Only these categories. */
  categories?: readonly PaymentCategory[];
  /** Only this job. */
  jobId?: string;
  /** Only from this UTC day (inclusive, `YYYY-MM-DD`). */
  since?: string;
  /** Only up to this UTC day (inclusive). */
  until?: string;
}

/**
 * Filters entries the way `wallet history` and `stats` do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const paid = { direction: "out", event: "fulfilled", jobId: "j1", invoiceId: "i1",
 *   amount: "1000", asset: "USD", peer: "p" } as const;
 * const entries = [
 *   { ...paid, ts: "2026-11-02T10:00:00Z", category: "town-write" as const, invoiceId: "w1",
 *     amount: "5" },
 *   { ...paid, ts: "2026-10-30T10:00:00Z" },
 *   { ...paid, ts: "2026-11-03T10:00:00Z", direction: "in" as const, invoiceId: "i2",
 *     amount: "3000" },
 * ];
 * const writes = filterPayments(entries, { categories: ["town-write"], since: "2026-11-01" });
 * assert.deepEqual(writes.map((e) => e.invoiceId), ["w1"]);
 * ```
 */
export function filterPayments(
  entries: readonly PaymentEntry[],
  o: PaymentSummaryOptions = {},
): PaymentEntry[] {
  return entries.filter((e) =>
    (o.categories === undefined || o.categories.includes(categoryOf(e))) &&
    (o.jobId === undefined || e.jobId === o.jobId) &&
    (o.since === undefined || e.ts.slice(0, 10) >= o.since) &&
    (o.until === undefined || e.ts.slice(0, 10) <= o.until)
  );
}

/**
 * The books per asset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const paid = { direction: "out", event: "fulfilled", jobId: "j1", invoiceId: "i1",
 *   amount: "1000", asset: "USD", peer: "p" } as const;
 * const entries = [
 *   { ...paid, ts: "2026-11-02T10:00:00Z", category: "town-write" as const, invoiceId: "w1",
 *     amount: "5" },
 *   { ...paid, ts: "2026-10-30T10:00:00Z" },
 *   { ...paid, ts: "2026-11-03T10:00:00Z", direction: "in" as const, invoiceId: "i2",
 *     amount: "3000" },
 * ];
 * const [usd] = summarizePayments(entries);
 * assert.deepEqual([usd.net, usd.spent.byCategory["town-write"], usd.payments], [1995n, 5n, 3]);
 * ```
 */
export function summarizePayments(
  entries: readonly PaymentEntry[],
  o: PaymentSummaryOptions = {},
): AssetBooks[] {
  const books = new Map<string, AssetBooks>();
  const days = new Map<string, Map<string, { spent: bigint; earned: bigint }>>();
  const jobs = new Map<string, Map<string, AssetBooks["byJob"][number]>>();
  // Income taken back is not income (income_reversals.ts).
  for (const e of filterPayments(withoutReversed(entries), o)) {
    if (e.event !== "fulfilled") continue;
    let b = books.get(e.asset);
    if (b === undefined) {
      b = {
        asset: e.asset,
        spent: zero(),
        earned: zero(),
        net: 0n,
        byDay: [],
        byJob: [],
        payments: 0,
      };
      books.set(e.asset, b);
      days.set(e.asset, new Map());
      jobs.set(e.asset, new Map());
    }
    b.scale ??= e.scale;
    const amount = BigInt(e.amount);
    const category = categoryOf(e);
    const side = e.direction === "out" ? "spent" : "earned";
    add(b[side], category, amount);
    b.payments++;
    const day = e.ts.slice(0, 10);
    const d = days.get(e.asset)!.get(day) ?? { spent: 0n, earned: 0n };
    d[side] += amount;
    days.get(e.asset)!.set(day, d);
    const j = jobs.get(e.asset)!.get(e.jobId) ?? { jobId: e.jobId, spent: zero(), earned: zero() };
    add(j[side], category, amount);
    jobs.get(e.asset)!.set(e.jobId, j);
  }
  for (const b of books.values()) {
    b.net = b.earned.total - b.spent.total;
    b.byDay = [...days.get(b.asset)!].sort(([a], [c]) => a < c ? -1 : 1)
      .map(([day, v]) => ({ day, ...v }));
    b.byJob = [...jobs.get(b.asset)!.values()];
  }
  return [...books.values()];
}

function zero(): CategoryTotals {
  return {
    total: 0n,
    byCategory: Object.fromEntries(PAYMENT_CATEGORIES.map((c) => [c, 0n])) as Record<
      PaymentCategory,
      bigint
    >,
  };
}

function add(t: CategoryTotals, category: PaymentCategory, amount: bigint): void {
  t.total += amount;
  t.byCategory[category] += amount;
}

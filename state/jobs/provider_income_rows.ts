/**
 * The provider's income table (`provider.sqlite`, state/jobs/provider_job_index.ts): a row per
 * payment taken for a job (written in the transaction of the record that says it paid), per
 * payment taken back (`reversed`) and per deposit refunded (`out`, `fulfilled`), the payment log's
 * entry of each as JSON. Kept as long as the profile, where the payment log keeps 30 days: what the
 * provider earned, all-time, is their sum (state/payments/provider_earnings.ts), kept in the
 * index's `meta` (key `earnings`: the sum and how many rows it covers) by the transaction that
 * writes each row, so it is read, not summed, at open: summing is ~4 µs a row (each row's JSON
 * parsed), 0.4-0.5 s for 100,000 jobs. A total that does not cover every row (an older turnpike
 * wrote rows without it) is summed again, once (docs/ARCHITECTURE.md "The provider's job records as
 * rows").
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import {
  type PaymentEntry,
  PaymentEntryError,
  validatePaymentEntry,
} from "../payments/payment_log.ts";
import { earningOf } from "../payments/provider_earnings.ts";
import { withoutReversed } from "../payments/income_reversals.ts";
import { readPaymentLogLines } from "../payments/payment_log_reader.ts";
import { refundInvoiceId } from "../../protocol/job_refund.ts";
import { incomeEarnings, INSERT_INCOME_SQL } from "./provider_job_index.ts";
import { inTransaction, type Statements } from "./row_db.ts";

/** Options for {@linkcode ProviderIncomeRows}. */
export interface ProviderIncomeRowsOptions {
  /** The open index (its `income` table made). */
  db: () => DatabaseSync;
  /** The index's prepared statements. */
  statements: Statements;
}

/**
 * The income table's writes and sums; the job store's (state/jobs/provider_job_store.ts), which
 * writes an income or reversal row within its own transactions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 * import { ProviderIncomeRows } from "./provider_income_rows.ts";
 * import { createProviderJobIndex } from "./provider_job_index.ts";
 * import { Statements } from "./row_db.ts";
 *
 * const db = new DatabaseSync(":memory:");
 * createProviderJobIndex(db);
 * const rows = new ProviderIncomeRows({ db: () => db, statements: new Statements(() => db) });
 * rows.load(); // no rows: 0 earned
 * const paid = { ts: "2026-11-27T10:00:00.000Z", direction: "in", event: "fulfilled",
 *   jobId: "j1", invoiceId: "ab", amount: "100", asset: "USD", peer: "c".repeat(64),
 *   category: "job" } as const;
 * rows.insert(paid);
 * rows.written(paid); // the caller's transaction committed
 * rows.refund({ ...paid, direction: "out", invoiceId: "refund:j1" });
 * assert.equal(rows.earnings(), 0n); // paid 100, refunded 100
 * assert.deepEqual(rows.standing("refund:j1"), { rows: 1, standing: 1 });
 * db.close();
 * ```
 */
export class ProviderIncomeRows {
  #o: ProviderIncomeRowsOptions;
  /** The rows' earnings and how many rows they cover, as the last committed write left them. */
  #total = { rows: 0, earned: 0n };

  constructor(options: ProviderIncomeRowsOptions) {
    this.#o = options;
  }

  /**
   * Inserts an income or reversal row (within the caller's transaction). Its key is the invoice
   * for the first row of it; a payment of an invoice whose income was taken back (paid again once
   * its invoice opened again), and a reversal, take `<invoice>#<n>`, n the rows of it before. A
   * second payment of an invoice whose income stands is refused (the key's constraint), as before
   * reversals. Counted in the earnings once the caller's transaction committed
   * ({@linkcode ProviderIncomeRows.written}).
   */
  insert(entry: PaymentEntry): void {
    const insert = this.#o.statements.get(INSERT_INCOME_SQL);
    const json = JSON.stringify(entry);
    this.#count(entry);
    if (entry.event === "fulfilled") {
      try {
        insert.run(entry.invoiceId, entry.jobId, entry.ts, json);
        return;
      } catch (err) {
        const { rows, standing } = this.standing(entry.invoiceId);
        if (rows === 0 || standing > 0) throw err;
      }
    }
    insert.run(this.#nextKey(entry.invoiceId, true), entry.jobId, entry.ts, json);
  }

  /**
   * The key of an invoice's next row: the invoice for its first (unless `numbered`: a row after
   * a refused first insert), `<invoice>#<n>` after n rows.
   */
  #nextKey(invoiceId: string, numbered = false): string {
    const { rows } = this.standing(invoiceId);
    return rows === 0 && !numbered ? invoiceId : `${invoiceId}#${rows}`;
  }

  /** Counts a row the caller's transaction committed in the earnings kept in memory. */
  written(entry: PaymentEntry): void {
    this.#total = { rows: this.#total.rows + 1, earned: this.#total.earned + earningOf(entry) };
  }

  /**
   * Copies the refunds paid that an older turnpike wrote as payment log lines (the `fulfilled`
   * line of `refund:<job id>`) into rows, once: at the first open of a store whose earnings were
   * never kept, before they are summed. Without them the deposits stay in the rows' sum while their
   * refunds leave with the log's days. A kill before the sum is kept copies again: a refund whose
   * row is there is left.
   */
  async importRefundLines(stateDir: string): Promise<void> {
    if (this.#o.statements.get("SELECT 1 FROM meta WHERE key = 'earnings'").get()) return;
    const refunds: PaymentEntry[] = [];
    await readPaymentLogLines({ stateDir, mentioning: ["refund:"] }, (e) => {
      const refund = e.invoiceId === refundInvoiceId(e.jobId);
      if (refund && e.direction === "out" && e.event === "fulfilled") refunds.push(e);
    });
    if (refunds.length === 0) return;
    inTransaction(this.#o.db(), () => {
      const insert = this.#o.statements.get(INSERT_INCOME_SQL);
      for (const r of refunds) {
        if (this.standing(r.invoiceId).rows === 0) {
          insert.run(r.invoiceId, r.jobId, r.ts, JSON.stringify(r));
        }
      }
    });
  }

  /**
   * Reads the earnings kept in `meta` at open; sums the rows (and keeps the sum) when there is
   * none, or it does not cover every row.
   */
  load(): void {
    const total = incomeEarnings(this.#o.db());
    this.#total = { rows: total.rows, earned: total.earned };
    if (!total.kept) inTransaction(this.#o.db(), () => this.#keep(this.#total));
  }

  /** Writes the total with `entry` counted, within the caller's transaction. */
  #count(entry: PaymentEntry): void {
    this.#keep({ rows: this.#total.rows + 1, earned: this.#total.earned + earningOf(entry) });
  }

  #keep(total: { rows: number; earned: bigint }): void {
    this.#o.statements.get("INSERT OR REPLACE INTO meta (key, value) VALUES ('earnings', ?)")
      .run(JSON.stringify({ rows: total.rows, earned: String(total.earned) }));
  }

  /**
   * Records a deposit refunded: its `fulfilled` entry (`out`) as a row, in one durable
   * transaction of its own.
   * @throws {PaymentEntryError} when the entry is malformed or not a refund paid.
   */
  refund(refund: PaymentEntry): void {
    validatePaymentEntry(refund);
    if (refund.direction !== "out" || refund.event !== "fulfilled") {
      throw new PaymentEntryError("a refund's row is its fulfilled outgoing entry");
    }
    inTransaction(this.#o.db(), () => {
      this.#count(refund);
      // The same refund paid twice (never sent again while in doubt: only by hand) is kept too.
      this.#o.statements.get(INSERT_INCOME_SQL).run(
        this.#nextKey(refund.invoiceId),
        refund.jobId,
        refund.ts,
        JSON.stringify(refund),
      );
    });
    this.written(refund);
  }

  /** The rows' earnings, all-time (state/payments/provider_earnings.ts). */
  earnings(): bigint {
    return this.#total.earned;
  }

  /**
   * Whether an invoice's payment stands as a row (paid, not taken back), however long ago: what a
   * restarted provider asks of a record that says paid (the payment log keeps 30 days;
   * roles/provider/payments/unanswered_payments.ts), and the refund desk of a refund paid.
   */
  stands(invoiceId: string): boolean {
    return this.standing(invoiceId).standing > 0;
  }

  /** The payments of an invoice that stand (written, less those taken back), however old. */
  standingEntries(invoiceId: string): PaymentEntry[] {
    return withoutReversed(this.#rowsOf(invoiceId));
  }

  /**
   * The rows of the last moments before the newest row, `withinMs` of it, oldest first (payments
   * and reversals): what a restarted provider asks its town about when its payment log no longer
   * holds them (roles/provider/payments/owed_questions.ts).
   */
  lastMoments(withinMs: number): PaymentEntry[] {
    // From the newest payment: a reversal written by a start after it is no last moment.
    const newest = this.#o.statements.get(
      `SELECT max(ts) AS ts FROM income WHERE instr(entry, '"event":"reversed"') = 0`,
    ).get()?.ts;
    if (newest === null || newest === undefined) return [];
    const since = new Date(Date.parse(String(newest)) - withinMs).toISOString();
    return this.#o.statements.get("SELECT entry FROM income WHERE ts >= ? ORDER BY ts")
      .all(since).map((r) => JSON.parse(String(r.entry)) as PaymentEntry);
  }

  /** The rows of an invoice (payments and reversals) and how many payments stand. */
  standing(invoiceId: string): { rows: number; standing: number } {
    const entries = this.#rowsOf(invoiceId);
    const paid = entries.filter((e) => e.event === "fulfilled").length;
    return { rows: entries.length, standing: paid - (entries.length - paid) };
  }

  #rowsOf(invoiceId: string): PaymentEntry[] {
    // `<invoice>#<n>` as a range of the key ('$' follows '#'): the key's index, not a scan.
    return this.#o.statements.get(
      "SELECT entry FROM income WHERE invoice_id = ? OR " +
        "(invoice_id >= ? || '#' AND invoice_id < ? || '$') ORDER BY rowid",
    ).all(invoiceId, invoiceId, invoiceId).map((r) => JSON.parse(String(r.entry)) as PaymentEntry);
  }
}

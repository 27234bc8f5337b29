/**
 * A provider asks its town whether its books owe the payments it counted just before it went
 * away (docs/PROTOCOL.md "A crash between a payment's two records"). The payment desk commits a
 * payment's record and its income row in one transaction, then sends the FULFILL
 * (roles/provider/payments/payment_desk.ts): killed after the commit and before the FULFILL left
 * (or its socket to the town dropped then), the provider counts a payment the town refused its payer
 * (`T01`, the peer dropped). So, as it starts and whenever its connection to the town opens again,
 * it asks (`payment-owed`, protocol/payment_owed.ts, over its BTP session: the town answers of
 * this account's packets only) about each such payment, naming the expiry of the PREPARE it
 * fulfilled (a town of several processes may have refused another packet of the condition), at most
 * {@linkcode MAX_OWED_QUESTION} a question:
 *
 * - **Which**: its income lines (`in`, `fulfilled`, `job`) still standing, written at most
 *   {@linkcode OWED_WINDOW_MS} before the newest line of its log (at start: the run that ended
 *   wrote nothing after it) or before the connection dropped (at a reconnect), the newest
 *   {@linkcode MAX_OWED_ASKED} of them. A FULFILL leaves right after its line; one that did not
 *   leave belongs to the last moments before the kill or the drop, and a payer's PREPARE lives
 *   30 s (roles/requester/job_payer.ts), so twice that bounds them.
 * - **Owed**: the town has the fulfillment; the line stands (one line: a second line of the same
 *   invoice, which the town cannot owe twice, is reversed).
 * - **Not owed** (the town rejected the packet, or never forwarded it): a `reversed` row follows
 *   the income row (state/payments/income_reversals.ts; the income row is never rewritten), in
 *   one transaction with the job's record going back to awaiting its payment where it still says
 *   just paid (a deposit `paid` -> `invoiced`, a delivery unpaid again; as unanswered_payments.ts
 *   does; `ProviderJobStore.reverseIncome`: a kill leaves both or neither), so its invoice opens
 *   again and the job does not run unpaid. An older turnpike's income line is reversed by a
 *   `reversed` line appended to the payment log, after the record. A job that has run already
 *   keeps its record; only the books are corrected.
 * - **In doubt** (in flight, in doubt on the town after its own crash, on another process's
 *   books, or asked too soon): asked again after `intervalMs` (or the town's `retryAfterMs`),
 *   doubled after each round that settled none up to {@linkcode MAX_OWED_INTERVAL_MS}, and
 *   at each reconnect, until answered.
 *
 * A town that does not know the question answers without its protocol data or with BTP ERROR
 * (roles/town_client/owed_ask.ts): the payments stay as they are (as before this question existed) and it is not
 * asked again this run.
 *
 * @module
 */
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import { MAX_OWED_QUESTION, type OwedAnswer } from "../../../protocol/payment_owed.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import {
  categoryOf,
  type PaymentEntry,
  type PaymentLog,
} from "../../../state/payments/payment_log.ts";
import { reversalOf, withoutReversed } from "../../../state/payments/income_reversals.ts";
import { unansweredPayment } from "./unanswered_payments.ts";

/** How long before the kill (or the drop) an income line may be that is asked about. */
export const OWED_WINDOW_MS = 60_000;
/** Most payments asked about after one restart or reconnect. */
export const MAX_OWED_ASKED = 1024;
/** The longest wait between two questions about payments in doubt. */
export const MAX_OWED_INTERVAL_MS = 300_000;

/**
 * The income lines to ask about: standing, of a job, written at or after `sinceMs`, the newest
 * {@linkcode MAX_OWED_ASKED} (one per invoice), newest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { incomeToAsk } from "./owed_questions.ts";
 *
 * const line = (invoiceId: string, ts: string) => ({ ts, direction: "in", event: "fulfilled",
 *   jobId: "j", invoiceId, amount: "100", asset: "USD", peer: "c".repeat(64) }) as const;
 * const entries = [line("old", "2026-11-27T09:00:00Z"), line("new", "2026-11-27T10:00:00Z")];
 * const since = Date.parse("2026-11-27T10:00:00Z") - 60_000;
 * assert.deepEqual(incomeToAsk(entries, since).map((e) => e.invoiceId), ["new"]);
 * ```
 */
export function incomeToAsk(entries: readonly PaymentEntry[], sinceMs: number): PaymentEntry[] {
  const asked = new Map<string, PaymentEntry>();
  const standing = withoutReversed(entries);
  for (let i = standing.length - 1; i >= 0 && asked.size < MAX_OWED_ASKED; i--) {
    const e = standing[i];
    if (e.direction !== "in" || e.event !== "fulfilled" || categoryOf(e) !== "job") continue;
    if (Date.parse(e.ts) < sinceMs) continue;
    if (!asked.has(e.invoiceId)) asked.set(e.invoiceId, e);
  }
  return [...asked.values()];
}

/** The expiry (unix ms) of the PREPARE an income line fulfilled, null when it does not say it. */
function paidExpiry(entry: PaymentEntry | undefined): number | null {
  const at = entry?.expiresAt === undefined ? NaN : Date.parse(entry.expiresAt);
  return Number.isSafeInteger(at) && at >= 0 ? at : null;
}

/**
 * The newest line's time in the log (ms), reversals left out (written after the run's end by a
 * start killed while it wrote them), or undefined for an empty log.
 */
function newestLineMs(entries: readonly PaymentEntry[]): number | undefined {
  let newest: number | undefined;
  for (const e of entries) {
    if (e.event === "reversed") continue;
    const t = Date.parse(e.ts);
    if (newest === undefined || t > newest) newest = t;
  }
  return newest;
}

/** Options for {@linkcode OwedQuestions}. */
export interface OwedQuestionsOptions {
  /**
   * Asks the town (protocol/payment_owed.ts) of these conditions, each with the expiry of the
   * PREPARE its income fulfilled (unix ms, null where the income does not say it); undefined when
   * it answered without the question's protocol data (it does not know the question).
   */
  ask: (conditions: string[], paidExpiresAt: (number | null)[]) => Promise<OwedAnswer | undefined>;
  payments: Pick<PaymentLog, "append" | "entries" | "noteIncome">;
  store: Pick<ProviderJobStore, "get" | "put" | "reverseIncome" | "income">;
  log: (line: string) => void;
  /**
   * Between two questions about payments in doubt: this at first, doubled after each round that
   * settled none, up to {@linkcode MAX_OWED_INTERVAL_MS}; back to this at a reconnect. Default 10 s.
   */
  intervalMs?: number;
  /** Clock, ms (tests). Default Date.now. */
  now?: () => number;
}

/**
 * The provider's questions about its payments; see the module doc.
 *
 * It needs a provider's town: no example that runs here:
 * tests/e2e/provider_unfulfilled_income_test.ts.
 */
export class OwedQuestions {
  readonly #o: OwedQuestionsOptions;
  readonly #now: () => number;
  /** The income lines in doubt, by invoice (condition). */
  readonly #pending = new Map<string, PaymentEntry>();
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<void>;
  #closed = false;
  #unsupported = false;
  /** When the connection to the town was last lost (ms), until it opens again. */
  #droppedAt?: number;
  #reverts = true;
  /** The wait before the next round while payments stay in doubt. */
  #intervalMs: number;

  constructor(options: OwedQuestionsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? 10_000;
  }

  /**
   * At start, before the jobs' recovery: asks about the income lines of the last moments of the
   * run that ended, reverting the records the town does not owe. Resolves when answered (or when
   * the town could not be asked: those stay in doubt, asked again later).
   */
  async atStart(): Promise<void> {
    let entries = this.#o.payments.entries();
    // Stopped longer than the log keeps its days: the income rows still hold the last moments.
    const rows = this.#o.store.income.lastMoments(OWED_WINDOW_MS);
    const newestRow = newestLineMs(rows);
    if (newestRow !== undefined && newestRow > (newestLineMs(entries) ?? -Infinity)) entries = rows;
    const newest = newestLineMs(entries);
    if (newest === undefined) return;
    for (const e of incomeToAsk(entries, newest - OWED_WINDOW_MS)) {
      this.#pending.set(e.invoiceId, e);
    }
    await this.#round();
    // From now on the jobs may run: a payment found not owed later corrects the books only.
    this.#reverts = false;
  }

  /** Told of the connection to the town: when it opens again, the last moments are asked. */
  connection(state: "open" | "lost"): void {
    if (this.#closed) return;
    if (state === "lost") {
      this.#droppedAt ??= this.#now();
      return;
    }
    const dropped = this.#droppedAt;
    if (dropped === undefined) return;
    this.#droppedAt = undefined;
    this.#intervalMs = this.#o.intervalMs ?? 10_000;
    const entries = this.#o.payments.entries();
    for (const e of incomeToAsk(entries, dropped - OWED_WINDOW_MS)) {
      if (this.#pending.size >= MAX_OWED_ASKED) break;
      this.#pending.set(e.invoiceId, e);
    }
    void this.#round();
  }

  /** The payments asked about and not answered yet. */
  get inDoubt(): number {
    return this.#pending.size;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #round(): Promise<void> {
    this.#running ??= this.#ask().finally(() => this.#running = undefined);
    return this.#running;
  }

  async #ask(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let retryMs = this.#intervalMs;
    const conditions = [...this.#pending.keys()];
    for (
      let i = 0;
      i < conditions.length && !this.#closed && !this.#unsupported;
      i += MAX_OWED_QUESTION
    ) {
      const batch = conditions.slice(i, i + MAX_OWED_QUESTION);
      let answer: OwedAnswer | undefined;
      try {
        answer = await this.#o.ask(batch, batch.map((c) => paidExpiry(this.#pending.get(c))));
      } catch (err) {
        this.#o.log(`payments not asked of the town: ${(err as Error).message}`);
        break;
      }
      if (answer === undefined) {
        this.#unsupported = true;
        this.#o.log("the town does not answer payment-owed: the income lines stand as written");
        this.#pending.clear();
        return;
      }
      for (const c of answer.owed) await this.#settle(c, 1);
      for (const c of answer.notOwed) await this.#settle(c, 0);
      if (answer.retryAfterMs !== undefined) {
        retryMs = Math.max(retryMs, answer.retryAfterMs);
        break;
      }
    }
    if (this.#pending.size > 0 && !this.#closed && !this.#unsupported) {
      // Nothing settled this round (e.g. on another process's books): ask less often.
      if (this.#pending.size === conditions.length) {
        this.#intervalMs = Math.min(this.#intervalMs * 2, MAX_OWED_INTERVAL_MS);
      }
      this.#timer = setTimeout(() => void this.#round(), retryMs);
    }
  }

  /** The town's answer of one payment: `keep` of its income lines stand (1 owed, 0 not owed). */
  async #settle(condition: string, keep: number): Promise<void> {
    const asked = this.#pending.get(condition);
    if (asked === undefined) return;
    // Its income rows however old; else an older turnpike's lines of the log's days.
    const rows = this.#o.store.income.standingEntries(condition);
    const lines = rows.length > 0
      ? rows
      : withoutReversed(this.#o.payments.entries()).filter((e) =>
        e.direction === "in" && e.event === "fulfilled" && e.invoiceId === condition
      );
    if (lines.length <= keep) {
      this.#pending.delete(condition);
      return;
    }
    // The record back to awaiting its payment, where it still says just paid.
    let again = keep === 0 ? this.#reopened(asked.jobId, condition) : undefined;
    for (const line of lines.slice(keep)) {
      const reversal = reversalOf(line, new Date(this.#now()).toISOString());
      // An income row: its reversal a row, in the record's transaction (both or neither).
      if (await this.#o.store.reverseIncome(reversal, again)) {
        this.#o.payments.noteIncome(reversal);
      } else {
        // An older turnpike's income line: the record first; killed before the reversal, the
        // line is asked again at the next start.
        if (again !== undefined) await this.#o.store.put(again);
        await this.#o.payments.append(reversal);
      }
      if (again !== undefined) {
        this.#o.log(
          `recover ${asked.jobId}: paid on record, not owed by the town: ${again.status}`,
        );
      }
      again = undefined;
    }
    this.#pending.delete(condition);
    this.#o.log(
      `payment ${condition.slice(0, 16)} of job ${asked.jobId}: ${
        keep === 0 ? "not owed by the town" : "counted twice"
      }, ${lines.length - keep} income line(s) reversed`,
    );
  }

  /**
   * The job's record awaiting this payment again, where it still says just paid (written by the
   * caller with the reversal); undefined when it stays as it is.
   */
  #reopened(jobId: string, condition: string): ProviderJobRecord | undefined {
    const record = this.#o.store.get(jobId);
    if (record === undefined) return undefined;
    const others = new Set(
      [record.invoice, record.deliveryInvoice]
        .filter((t): t is string => t !== undefined)
        .map((t) => parseIlpInvoice(t).condition)
        .filter((c) => c !== condition),
    );
    const again: ProviderJobRecord | undefined = this.#reverts
      ? unansweredPayment(record, others)
      : undefined;
    if (again === undefined) {
      this.#o.log(
        `job ${jobId}: its payment was not owed; the job's record is left ${record.status}`,
      );
    }
    return again;
  }
}

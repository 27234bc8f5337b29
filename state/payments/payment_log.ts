/**
 * The payment log: `<state dir>/payment_log.jsonl`, append-only, one JSON line per payment event,
 * fsynced before `append` returns (lines arriving together share one write + fsync). Rotated
 * daily (UTC) to `payment_log/<YYYY-MM-DD>.jsonl`; 30 days are kept. Exports to CSV and JSON.
 * With an audit trail, the current file is also sealed into the day's next chunk
 * (`payment_log/<day>/<NNNNNN>.jsonl`) once it holds `chunkBytes`, so an audit commit stores a
 * small file, not the whole day's log (`state/payments/payment_log_files.ts`).
 *
 * Never pay twice, even across a crash (the protocol the requester follows):
 *
 * ```
 *   invoice state     none --intent--> in-doubt --fulfilled--> paid
 *                                          \------rejected---> rejected --intent--> in-doubt ...
 *
 *   1. decideSpend(...) with alreadyAttempted = hasPaid(invoiceId)          (protocol/spend_policy)
 *   2. job record: status "paying", payments += {invoiceId, status "paying"}  (job repository)
 *   3. payment log: append {event: "intent", invoiceId, ...}   -- fsynced --  (this file)
 *   4. send the ILP PREPARE                                      (only now can money move)
 *   5. FULFILL: append {event: "fulfilled", fulfillment}; job payment "paid", status "paid"
 *      REJECT:  append {event: "rejected", reason};       job payment "rejected"
 * ```
 *
 * An invoice is a payment to one peer: states are kept per (invoice, peer), since one event
 * written to several towns is a payment to each under the same invoice id (its event id). A
 * reader that names no peer gets the invoice's most settled state over its peers (paid, then in
 * doubt, then rejected): a provider's invoice or a transfer has one peer, so that is its state.
 *
 * A crash between 3 and 5 leaves the invoice `in-doubt`: the packet may or may not have been
 * fulfilled. `hasPaid` is true for `in-doubt` as for `paid`, so a restarted requester never sends
 * it again; in-doubt invoices are listed by {@linkcode PaymentLog.inDoubt} for the operator (the
 * provider knows whether it was paid and can issue a new invoice). A crash between 2 and 3 leaves
 * a job "paying" with no intent line: nothing was sent, so paying it is safe. Only `rejected`
 * (a definite ILP reject: no money moved) allows a new attempt on the same invoice.
 *
 * A provider's income is not a line of this file: each payment is a row of its job index,
 * written in the transaction of the record that says the job paid
 * (`state/jobs/provider_job_store.ts`); the log reads those rows at open and takes each new one
 * in with {@linkcode PaymentLog.noteIncome}, so its entries, exports and readers hold both. An
 * income row the provider's town does not owe is taken back by a `reversed` row, written in the
 * transaction of the record going back to awaiting its payment
 * (`ProviderJobStore.reverseIncome`); an older turnpike's income line by a `reversed` line. A
 * deposit the provider refunded is such a row too (`ProviderIncomeRows.refund`: its
 * `fulfilled` entry; the intent and a reject are lines), so the rows hold what it earned
 * all-time (state/payments/provider_earnings.ts).
 *
 * A SIGKILL mid-append can leave a partial last line; it is skipped when reading (counted in
 * `skippedLines`) and the next append starts on a fresh line.
 *
 * @module
 */
import type { InvoiceParts } from "../../protocol/bill_tag.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";
import { LineAppender } from "../line_appender.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import { PaymentEntryError, validatePaymentEntry } from "./payment_entry_check.ts";
import { byTimestamp, readKeptIncome, readPaymentLogLines } from "./payment_log_reader.ts";
import { type InvoiceState, InvoiceStates } from "./invoice_states.ts";
import { DailySpend } from "./daily_spend.ts";
import { EarningsByDay } from "./provider_earnings.ts";
import {
  PAYMENT_LOG_DIR,
  PAYMENT_LOG_NAME,
  prunePaymentLogFiles,
  sealPaymentLogChunk,
} from "./payment_log_files.ts";

/**
 * What happened to a payment. `reversed` takes back an earlier income line (`in`, `fulfilled`) of
 * the same invoice its payer's town says it does not owe (state/payments/income_reversals.ts).
 */
export type PaymentEvent = "intent" | "fulfilled" | "rejected" | "reversed";

/**
 * What a payment was for: `job` a provider's invoice (paid by a requester, earned by a
 * provider), `town-write` a paid write of an event to the town, `town-blob` a blob stored on the
 * town, `transfer` a wallet paying another's request (docs/PROTOCOL.md "Transfers between
 * wallets"). Entries written before categories existed read as `job`.
 */
export type PaymentCategory = "job" | "town-write" | "town-blob" | "transfer";

/** One line of the payment log. */
export interface PaymentEntry {
  /** ISO 8601 time. */
  ts: string;
  /** `out`: we paid; `in`: we were paid. */
  direction: "in" | "out";
  event: PaymentEvent;
  jobId: string;
  invoiceId: string;
  /** Base units, decimal string. */
  amount: string;
  asset: string;
  /** Counterparty (provider or requester pubkey, or ILP address). */
  peer: string;
  /** Hex fulfillment (the receipt) for `fulfilled`. */
  fulfillment?: string;
  /**
   * For income `fulfilled`: the expiry of the PREPARE fulfilled (ISO 8601), shown with the
   * fulfillment to a town that lost its answer in a crash (protocol/payment_in_doubt.ts).
   */
  expiresAt?: string;
  /** Reject reason for `rejected`. */
  reason?: string;
  /** What it paid for (default `job`). */
  category?: PaymentCategory;
  /** Decimal places of `asset` (amounts are in its base units), when known. */
  scale?: number;
  /** A provider invoice's parts, as its event gave them (protocol/bill_tag.ts). */
  parts?: InvoiceParts;
}

/**
 * An entry's category (`job` for entries written before categories existed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const entry = { ts: "", direction: "out", event: "intent", jobId: "j", invoiceId: "i",
 *   amount: "1", asset: "USD", peer: "p" } as const; // written before categories existed
 * assert.equal(categoryOf(entry), "job");
 * ```
 */
export function categoryOf(entry: PaymentEntry): PaymentCategory {
  return entry.category ?? "job";
}

export type { InvoiceState } from "./invoice_states.ts";
export {
  PAYMENT_CATEGORIES,
  PaymentEntryError,
  validatePaymentEntry,
} from "./payment_entry_check.ts";

/** Options for {@linkcode openPaymentLog}. */
export interface PaymentLogOptions {
  stateDir: string;
  /** Rotated days kept. Default 30. */
  keepDays?: number;
  /** Clock (unix ms). Default Date.now. */
  now?: () => number;
  /** Git audit log the appends are recorded in. */
  audit?: AuditLog;
  /**
   * Only appends: nothing is read at open but the current file's first line and last byte, and no
   * entry is kept in memory ({@linkcode PaymentLog.entries} and the invoice states stay empty). For
   * the town's income, a line per paid write: kept in memory, thirty days of a busy town's writes
   * would not fit. Readers open the log without it.
   */
  appendOnly?: boolean;
  /**
   * The current file is sealed into the day's next chunk before an append once it holds this
   * many bytes (docs/ARCHITECTURE.md "The payment log's files"). Default 16 KiB with `audit`,
   * never without (nothing commits the file then).
   */
  chunkBytes?: number;
}

const LOG_NAME = PAYMENT_LOG_NAME;
const ROTATED_DIR = PAYMENT_LOG_DIR;
/** An audit commit stores the current file: a few 4 KiB blocks at most (measured in docs). */
const CHUNK_BYTES = 16 * 1024;
const MAX_LINE = 8 * 1024;
const DAY_MS = 86_400_000;

/**
 * Opens the payment log, loading the kept days (for `hasPaid` and today's spend).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const log = await openPaymentLog({ stateDir });
 * const intent = { ts: new Date().toISOString(), direction: "out", event: "intent", jobId: "j1",
 *   invoiceId: "inv1", amount: "1000", asset: "USD", peer: "ab".repeat(32) } as const;
 * if (!log.hasPaid("inv1")) await log.append(intent); // fsynced before the PREPARE is sent
 * assert.equal(log.invoiceEntry("inv1")?.event, "intent"); // in doubt until its outcome
 * await log.append({ ...intent, event: "fulfilled", fulfillment: "00".repeat(32) });
 * assert.equal(log.invoiceState("inv1"), "paid");
 * assert.equal(log.entries().length, 2); // `turnpike export`: state/payments/payment_export.ts
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openPaymentLog(options: PaymentLogOptions): Promise<PaymentLog> {
  const log = new PaymentLog(options);
  await log.load();
  return log;
}

/** The payment log; see the module doc. */
export class PaymentLog {
  readonly path: string;
  readonly rotatedDir: string;
  /** Unreadable lines met while loading (partial last lines after a crash). */
  skippedLines = 0;
  #keepDays: number;
  #now: () => number;
  #audit: AuditLog | undefined;
  #invoices = new InvoiceStates();
  /** What each day spent (town fees aside), for the spend policy's caps. */
  #spend = new DailySpend((entry) => !categoryOf(entry).startsWith("town"));
  #entries: PaymentEntry[] = [];
  /** What the lines (not the income rows) say a provider earned (`earnedInLines`). */
  #lineEarnings = new EarningsByDay();
  /** The incoming entries by invoice (kept with `#entries`). */
  #incoming = new Map<string, PaymentEntry[]>();
  #currentDay: string | undefined;
  /** The current file's size as this log knows it (what it found, and what it wrote since). */
  #currentBytes = 0;
  readonly #chunkBytes: number;
  /** The highest chunk number of a day, once known (read from its directory at the first seal). */
  #lastChunk: { day: string; n: number } | undefined;
  readonly #stateDir: string;
  readonly #file: LineAppender;
  readonly #appendOnly: boolean;

  constructor(options: PaymentLogOptions) {
    const dir = options.stateDir.replace(/\/+$/, "");
    this.path = `${dir}/${LOG_NAME}`;
    this.rotatedDir = `${dir}/${ROTATED_DIR}`;
    this.#keepDays = options.keepDays ?? 30;
    this.#now = options.now ?? Date.now;
    this.#audit = options.audit;
    this.#appendOnly = options.appendOnly ?? false;
    this.#stateDir = dir;
    this.#chunkBytes = options.chunkBytes ?? (options.audit ? CHUNK_BYTES : Infinity);
    this.#file = new LineAppender(this.path, {
      beforeBatch: async () => await this.#rotateIfNewDay() || await this.#sealIfFull(),
    });
  }

  /** Reads the kept rotated days and the current file; called by {@linkcode openPaymentLog}. */
  async load(): Promise<void> {
    await Deno.mkdir(this.rotatedDir, { recursive: true, mode: 0o700 });
    if (this.#appendOnly) return await this.#loadEnds();
    // A chunk at a time (state/payments/payment_log_reader.ts): no file read into one string.
    const read = await readPaymentLogLines(
      { stateDir: this.#stateDir },
      (e) => this.#apply(e, true),
    );
    this.skippedLines += read.skipped;
    // The provider's income: rows of its job index, written with the record of the job paid.
    const income = readKeptIncome({
      stateDir: this.#stateDir,
      keepDays: this.#keepDays,
      now: this.#now,
    });
    this.skippedLines += income.skipped;
    if (income.entries.length > 0) {
      for (const e of income.entries) this.#apply(e, false);
      this.#entries.sort(byTimestamp);
    }
    const { bytes, endsInNewline, firstLine } = read.current;
    this.#currentBytes = bytes;
    this.#file.needsNewline = !endsInNewline;
    this.#currentDay = bytes > 0 ? dayOfLine(firstLine ?? "") ?? this.#today() : undefined;
  }

  /** Append-only: the current file's day (its first line) and whether it ends in a newline. */
  async #loadEnds(): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    try {
      const size = (await file.stat()).size;
      this.#currentBytes = size;
      if (size === 0) return;
      const head = new Uint8Array(Math.min(size, 4 * MAX_LINE + 1)); // a line in UTF-8
      let read = 0;
      while (read < head.length) {
        const n = await file.read(head.subarray(read));
        if (n === null) break;
        read += n;
      }
      const first = new TextDecoder().decode(head.subarray(0, read)).split("\n", 1)[0];
      this.#currentDay = dayOfLine(first) ?? this.#today();
      await file.seek(size - 1, Deno.SeekMode.Start);
      const last = new Uint8Array(1);
      this.#file.needsNewline = (await file.read(last)) === 1 && last[0] !== 0x0a;
    } finally {
      file.close();
    }
  }

  /**
   * The newest entry of an outgoing invoice (its intent while it is in doubt), if any: to `peer`,
   * or of its most settled state over its peers (see the module doc).
   */
  invoiceEntry(invoiceId: string, peer?: string): PaymentEntry | undefined {
    return this.#invoices.get(invoiceId, peer)?.entry;
  }

  /** State of an outgoing invoice: to `peer`, or its most settled over its peers. */
  invoiceState(invoiceId: string, peer?: string): InvoiceState {
    return this.#invoices.get(invoiceId, peer)?.state ?? "none";
  }

  /** True when the invoice was paid or may have been (in doubt): never pay it again. */
  hasPaid(invoiceId: string, peer?: string): boolean {
    const state = this.invoiceState(invoiceId, peer);
    return state === "paid" || state === "in-doubt";
  }

  /**
   * Outgoing intents with no outcome (a crash mid-payment, a write whose answer was lost), one
   * per invoice and peer, the oldest line first: for the operator to resolve, and for a town
   * client to start with its town's writes in doubt (roles/town_client/logged_in_doubt_writes.ts).
   */
  inDoubt(): PaymentEntry[] {
    return this.#invoices.inDoubt();
  }

  /**
   * Provider invoices (`job`) and transfers paid or in doubt on the UTC day of `dayMs` (default
   * today), per peer or all: what the spend policy's caps count (town fees are not theirs).
   */
  spentOn(options: { dayMs?: number; peer?: string } = {}): bigint {
    // Kept per day as the lines arrive (state/payments/daily_spend.ts), not summed at each ask.
    return this.#spend.on(isoDay(options.dayMs ?? this.#now()), options.peer);
  }

  /**
   * Appends one entry; resolves when it is on disk (fsynced). Rotates first on a new UTC day.
   * @throws {PaymentEntryError} when the entry is malformed.
   */
  append(entry: PaymentEntry): Promise<void> {
    validatePaymentEntry(entry);
    const line = JSON.stringify(entry) + "\n";
    if (line.length > MAX_LINE) throw new PaymentEntryError("payment entry is too long");
    return this.#file.append(line).then(() => {
      this.#currentDay ??= this.#today();
      this.#currentBytes += line.length;
      if (!this.#appendOnly) this.#apply(entry, true);
      this.#audit?.record({
        action: entry.event,
        resource: "payment",
        id: entry.jobId,
        paths: [LOG_NAME],
        fields: {
          "Invoice-Id": entry.invoiceId,
          Amount: `${entry.amount} ${entry.asset}`,
          Direction: entry.direction,
        },
      });
    });
  }

  /**
   * Takes in an income entry the provider's job store committed with the record of the job
   * paid, the `reversed` entry that took it back, or a refund's `fulfilled` entry
   * (`state/jobs/provider_job_store.ts`): kept in
   * memory as an appended line is, written nowhere (its row is its only copy; the next open reads
   * it from there).
   * @throws {PaymentEntryError} when the entry is malformed.
   */
  noteIncome(entry: PaymentEntry): void {
    validatePaymentEntry(entry);
    if (!this.#appendOnly) this.#apply(entry, false);
  }

  /**
   * What the kept lines say a provider earned (state/payments/provider_earnings.ts), the income
   * rows {@linkcode PaymentLog.noteIncome} takes in left out: an older turnpike's income and
   * reversal lines, written before they were rows (its refund lines are copied into rows). The town-debt guard adds it to the rows' sum
   * (roles/provider/payments/town_debt.ts); kept a day at a time as lines arrive, let go with their
   * day.
   */
  earnedInLines(): bigint {
    return this.#lineEarnings.total();
  }

  /**
   * The kept incoming entries of an invoice (a refund taken, a transfer received), in the order
   * they were taken in: looked up, not scanned for among every entry.
   */
  incoming(invoiceId: string): readonly PaymentEntry[] {
    return this.#incoming.get(invoiceId) ?? [];
  }

  /** Every kept entry, oldest first. */
  entries(): PaymentEntry[] {
    return [...this.#entries];
  }

  /** Resolves once every queued append is on disk. */
  async flush(): Promise<void> {
    await this.#file.flush();
  }

  async #rotateIfNewDay(): Promise<boolean> {
    const today = this.#today();
    if (this.#currentDay === undefined || this.#currentDay === today) return false;
    const target = `${this.rotatedDir}/${this.#currentDay}.jsonl`;
    // A same-day rotated file can exist after a clock step back: keep both by appending.
    const existing = await readText(target);
    if (existing.length > 0) {
      await Deno.writeTextFile(target, await readText(this.path), { append: true });
      await Deno.remove(this.path);
    } else {
      await Deno.rename(this.path, target);
    }
    this.#file.needsNewline = false; // the next line starts a new file
    const removed = await this.#prune();
    this.#currentDay = undefined;
    this.#currentBytes = 0;
    this.#audit?.record({
      action: "rotate",
      resource: "payment-log",
      id: today,
      paths: [LOG_NAME, `${ROTATED_DIR}/${target.slice(this.rotatedDir.length + 1)}`, ...removed],
    });
    return true;
  }

  /**
   * Seals the current file into the day's next chunk once it holds the chunk size (a batch is
   * about to be written); true when it moved the file.
   */
  async #sealIfFull(): Promise<boolean> {
    const day = this.#currentDay;
    if (day === undefined || this.#currentBytes < this.#chunkBytes) return false;
    const known = this.#lastChunk?.day === day ? this.#lastChunk.n : undefined;
    const path = await sealPaymentLogChunk(this.#stateDir, day, known);
    this.#lastChunk = { day, n: Number(/(\d+)\.jsonl$/.exec(path)![1]) };
    this.#file.needsNewline = false; // the next line starts a new file
    this.#currentBytes = 0;
    this.#audit?.record({
      action: "seal",
      resource: "payment-log",
      id: `${day}.${path.slice(-12, -6)}`,
      paths: [LOG_NAME, path],
    });
    return true;
  }

  async #prune(): Promise<string[]> {
    const oldest = isoDay(this.#now() - this.#keepDays * DAY_MS);
    const removed = await prunePaymentLogFiles(this.#stateDir, oldest);
    if (removed.length > 0) {
      this.#entries = this.#entries.filter((e) => e.ts.slice(0, 10) >= oldest);
      this.#incoming.clear();
      for (const e of this.#entries) if (e.direction === "in") this.#noteIncoming(e);
    }
    this.#spend.forgetBefore(oldest);
    this.#lineEarnings.forgetBefore(oldest);
    return removed;
  }

  /** Keeps an entry: a line of the log's files (`line`), or an income row taken in. */
  #apply(entry: PaymentEntry, line: boolean): void {
    this.#entries.push(entry);
    if (line) this.#lineEarnings.add(entry);
    if (entry.direction === "in") this.#noteIncoming(entry);
    if (entry.direction !== "out") return;
    const change = this.#invoices.apply(entry);
    if (change !== undefined) this.#spend.change(change.before, change.after);
  }

  #noteIncoming(entry: PaymentEntry): void {
    const lines = this.#incoming.get(entry.invoiceId);
    if (lines === undefined) this.#incoming.set(entry.invoiceId, [entry]);
    else lines.push(entry);
  }

  #today(): string {
    return isoDay(this.#now());
  }
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayOfLine(line: string): string | undefined {
  try {
    const ts = (JSON.parse(line) as { ts?: unknown }).ts;
    return typeof ts === "string" ? ts.slice(0, 10) : undefined;
  } catch {
    return undefined;
  }
}

/** A file's text, empty when it does not exist yet. */
async function readText(path: string): Promise<string> {
  return await readOptionalTextFile(path) ?? "";
}

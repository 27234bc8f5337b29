/**
 * Reading the payment log's kept files (state/payments/payment_log_files.ts) a chunk at a time:
 * what a node's log loads at open (state/payments/payment_log.ts), and what a command that shows
 * a few jobs reads of it (`job wait`'s and `job show`'s costs: {@linkcode readPaymentEntries} with
 * `mentioning`, which parses only the lines that name those jobs). The log keeps 30 days of every
 * payment: read whole into one string per file and every line parsed, a busy profile's log cost
 * each such command seconds and hundreds of MiB, and a day's file past V8's longest string (512
 * MiB) could not be read at all (docs/SCALE.md "The payment log read by a command").
 *
 * @module
 */
import { readLineFile } from "../line_file.ts";
import { readProviderIncome } from "../jobs/provider_job_index.ts";
import { listPaymentLogFiles, PAYMENT_LOG_NAME } from "./payment_log_files.ts";
import type { PaymentEntry } from "./payment_log.ts";
import { validatePaymentEntry } from "./payment_entry_check.ts";

/** Longest line read, in UTF-16 units (an appended line is at most 8 KiB; a longer one is foreign). */
const MAX_READ_LINE = 64 * 1024;

/** Options for {@linkcode readPaymentLogLines}. */
export interface PaymentLogLinesOptions {
  stateDir: string;
  /**
   * Parse only the lines that contain one of these strings (job ids, invoice ids): a line names
   * its job and invoice verbatim, so no entry of them is missed; the caller filters the entries
   * exactly. Default: every line.
   */
  mentioning?: readonly string[];
}

/** What {@linkcode readPaymentLogLines} found. */
export interface PaymentLogLinesRead {
  /** Lines that were not valid entries (a line cut short by a crash, an edit), or too long. */
  skipped: number;
  /** The current file: its size, whether it ends in a newline, its first line. */
  current: { bytes: number; endsInNewline: boolean; firstLine: string | undefined };
}

/**
 * Calls `onEntry` with each valid entry of the kept files, oldest first, then of the current file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPaymentLogLines } from "./payment_log_reader.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const entry = { ts: "2026-11-02T10:00:00.000Z", direction: "out", event: "intent", jobId: "j1",
 *   invoiceId: "i1", amount: "100", asset: "USD", peer: "ab".repeat(32) };
 * await Deno.writeTextFile(`${stateDir}/payment_log.jsonl`, JSON.stringify(entry) + "\n{torn");
 * const seen: string[] = [];
 * const read = await readPaymentLogLines({ stateDir }, (e) => seen.push(e.jobId));
 * assert.deepEqual([seen, read.skipped, read.current.endsInNewline], [["j1"], 1, false]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readPaymentLogLines(
  options: PaymentLogLinesOptions,
  onEntry: (entry: PaymentEntry) => void,
): Promise<PaymentLogLinesRead> {
  const dir = options.stateDir.replace(/\/+$/, "");
  const wanted = options.mentioning;
  let skipped = 0;
  const onLine = (line: string) => {
    if (wanted !== undefined && !wanted.some((s) => line.includes(s))) return;
    try {
      const entry = JSON.parse(line) as PaymentEntry;
      validatePaymentEntry(entry);
      onEntry(entry);
    } catch {
      skipped++;
    }
  };
  const files = await listPaymentLogFiles(dir).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  });
  const readFile = async (path: string, each: (line: string) => void) => {
    const read = await readLineFile(path, each, { maxLine: MAX_READ_LINE });
    skipped += read?.tooLong ?? 0;
    return read;
  };
  for (const f of files) await readFile(`${dir}/${f.path}`, onLine);
  let firstLine: string | undefined;
  const current = await readFile(`${dir}/${PAYMENT_LOG_NAME}`, (line) => {
    firstLine ??= line;
    onLine(line);
  });
  const bytes = current === undefined
    ? 0
    : await Deno.stat(`${dir}/${PAYMENT_LOG_NAME}`).then((s) => s.size, () => 0);
  return {
    skipped,
    current: { bytes, endsInNewline: current?.endsInNewline ?? true, firstLine },
  };
}

/** Options for {@linkcode readPaymentEntries}. */
export interface PaymentEntriesOptions extends PaymentLogLinesOptions {
  /** Days of the provider's income rows read, as the log keeps its files. Default 30. */
  keepDays?: number;
  /** Clock, unix ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * The entries a node's log would hold at open (`openPaymentLog(...).entries()`: its lines and the
 * provider's income rows, oldest first), only those that mention one of `mentioning` when given,
 * without opening the log for writing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPaymentEntries } from "./payment_log_reader.ts";
 * import { openPaymentLog } from "./payment_log.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const log = await openPaymentLog({ stateDir });
 * const entry = { ts: new Date().toISOString(), direction: "out", event: "intent", jobId: "j1",
 *   invoiceId: "i1", amount: "100", asset: "USD", peer: "ab".repeat(32) } as const;
 * await log.append(entry);
 * await log.append({ ...entry, jobId: "j2", invoiceId: "i2" });
 * const mine = await readPaymentEntries({ stateDir, mentioning: ["j2"] });
 * assert.deepEqual(mine.map((e) => e.invoiceId), ["i2"]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readPaymentEntries(options: PaymentEntriesOptions): Promise<PaymentEntry[]> {
  const entries: PaymentEntry[] = [];
  await readPaymentLogLines(options, (e) => entries.push(e));
  const wanted = options.mentioning;
  const income = readKeptIncome(options).entries
    .filter((e) => wanted === undefined || wanted.some((s) => mentions(e, s)));
  if (income.length === 0) return entries;
  entries.push(...income);
  return entries.sort(byTimestamp);
}

/**
 * The provider's income rows of the days the log keeps (`keepDays` back from `now`), as a node's
 * log takes them in at open, and the rows that did not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readKeptIncome } from "./payment_log_reader.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no provider index: no income
 * assert.deepEqual(readKeptIncome({ stateDir }), { entries: [], skipped: 0 });
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function readKeptIncome(
  options: Omit<PaymentEntriesOptions, "mentioning">,
): { entries: PaymentEntry[]; skipped: number } {
  const since = isoDay((options.now ?? Date.now)() - (options.keepDays ?? 30) * 86_400_000);
  return readProviderIncome(options.stateDir.replace(/\/+$/, ""), since);
}

/**
 * Orders entries by their timestamp, as the log holds them once income rows are among its lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { byTimestamp } from "./payment_log_reader.ts";
 *
 * assert.deepEqual([{ ts: "b" }, { ts: "a" }].sort(byTimestamp), [{ ts: "a" }, { ts: "b" }]);
 * ```
 */
export function byTimestamp(a: Pick<PaymentEntry, "ts">, b: Pick<PaymentEntry, "ts">): number {
  return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0;
}

/** Whether one of the entry's fields contains `s`, as its line would. */
function mentions(entry: PaymentEntry, s: string): boolean {
  return Object.values(entry).some((v) => typeof v === "string" && v.includes(s));
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

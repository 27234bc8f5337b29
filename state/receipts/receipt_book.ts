/**
 * The profile's receipt book: `<state dir>/receipts.jsonl`, one signed receipt event
 * (protocol/job_receipt.ts) per line, appended and never rewritten (docs/PROTOCOL.md "Receipts
 * and trust"). Crash-safe the way the payment log is: each line is on disk (fsynced, group
 * committed by state/line_appender.ts) before its append resolves, and a line cut short by a crash
 * is skipped when read and followed by a newline at the next append.
 *
 * A job's receipt may be followed by a newer one for the same job and side (a verdict or a refund
 * that came after the first): the newest line wins ({@linkcode latestReceipts}). The book holds
 * the events as they were signed; checking them is the reader's (`readReceipts`,
 * roles/receipts/receipt_ledger.ts), which marks the lines it checked in `receipts.checked.json`
 * (state/checked_prefix.ts) so that the next reading checks only the lines after them.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { type CheckedPrefix, readCheckedPrefix, writeCheckedPrefix } from "../checked_prefix.ts";
import { LineAppender } from "../line_appender.ts";

/** The book's file name in the state dir. */
export const RECEIPT_BOOK_NAME = "receipts.jsonl";
/** The marker of the book's lines whose signatures were checked (derived; safe to delete). */
export const RECEIPT_BOOK_CHECKED_NAME = "receipts.checked.json";

/** Options for {@linkcode openReceiptBook}. */
export interface ReceiptBookOptions {
  stateDir: string;
}

/** The receipt book of a state dir; see the module doc. */
export interface ReceiptBook {
  readonly path: string;
  /** Every stored event, oldest first (unchecked). */
  readonly events: readonly NostrEvent[];
  /** Lines that did not parse (a line cut short by a crash, an edit). */
  readonly skippedLines: number;
  /**
   * The first `items` events, whose signatures a reading before this one checked, and which of
   * them failed (state/checked_prefix.ts): none when any byte of them changed since.
   */
  readonly checked: { readonly items: number; readonly failed: ReadonlySet<number> };
  /** The events of the whole lines read at open: what {@linkcode ReceiptBook.markChecked} covers. */
  readonly wholeItems: number;
  /**
   * Records that the first {@linkcode ReceiptBook.wholeItems} events were checked and which of them
   * (indexes) failed; nothing when the mark says so already.
   */
  markChecked(failed: Iterable<number>): Promise<void>;
  /** Appends signed receipt events; resolves once they are on disk. */
  append(events: readonly NostrEvent[]): Promise<void>;
}

/**
 * Opens (reads) the receipt book of a state dir; a missing file is an empty book.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const book = await openReceiptBook({ stateDir });
 * assert.equal(book.events.length, 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openReceiptBook(options: ReceiptBookOptions): Promise<ReceiptBook> {
  const dir = options.stateDir.replace(/\/+$/, "");
  const path = `${dir}/${RECEIPT_BOOK_NAME}`;
  const marker = { path: `${dir}/${RECEIPT_BOOK_CHECKED_NAME}` };
  const bytes = await Deno.readFile(path).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return new Uint8Array();
    throw err;
  });
  const linesEnd = bytes.lastIndexOf(0x0a) + 1;
  const prefix: CheckedPrefix | undefined = await readCheckedPrefix(marker, bytes);
  // Parsed in three parts, each ending at a line's end: the lines checked before, the other
  // whole lines, and a last line without its newline (a crash's, or an append under way).
  const checkedEnd = prefix?.offset ?? 0;
  const events: NostrEvent[] = [];
  let skippedLines = parseLines(bytes.subarray(0, checkedEnd), events);
  const checked = prefix !== undefined && events.length === prefix.items
    ? { items: prefix.items, failed: prefix.failed }
    : { items: 0, failed: new Set<number>() };
  skippedLines += parseLines(bytes.subarray(checkedEnd, linesEnd), events);
  const wholeItems = events.length;
  skippedLines += parseLines(bytes.subarray(linesEnd), events);
  const file = new LineAppender(path, { needsNewline: linesEnd < bytes.length });
  return {
    path,
    events,
    skippedLines,
    checked,
    wholeItems,
    async markChecked(failedNow) {
      const failed = [...failedNow];
      const same = checked.items === wholeItems && checkedEnd === linesEnd &&
        failed.length === checked.failed.size && failed.every((i) => checked.failed.has(i));
      if (same) return;
      await writeCheckedPrefix(marker, bytes, { offset: linesEnd, items: wholeItems, failed });
    },
    async append(added) {
      if (added.length === 0) return;
      await file.append(added.map((e) => JSON.stringify(e) + "\n").join(""));
      events.push(...added);
    },
  };
}

/** Parses `bytes`' lines into `into`; returns how many lines were not events. */
function parseLines(bytes: Uint8Array, into: NostrEvent[]): number {
  let skipped = 0;
  // ignoreBOM: each part decoded as the whole file was (Deno.readTextFile keeps a mark as text).
  for (const line of new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes).split("\n")) {
    if (line === "") continue;
    try {
      const event = JSON.parse(line) as NostrEvent;
      if (typeof event !== "object" || event === null || typeof event.content !== "string") {
        throw new TypeError("not an event");
      }
      into.push(event);
    } catch {
      skipped++;
    }
  }
  return skipped;
}

/**
 * The newest receipt per job and side: the later line for the same `(job, side)` replaces the
 * earlier one. `keyOf` reads the key of an item.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const items = [{ k: "a", n: 1 }, { k: "a", n: 2 }, { k: "b", n: 3 }];
 * assert.deepEqual(latestReceipts(items, (i) => i.k).map((i) => i.n), [2, 3]);
 * ```
 */
export function latestReceipts<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  const newest = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    newest.delete(key); // keep the map in the order of each key's newest line
    newest.set(key, item);
  }
  return [...newest.values()];
}

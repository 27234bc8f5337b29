/**
 * The profile's receipt book: `<state dir>/receipts.jsonl`, one signed receipt event
 * (protocol/job_receipt.ts) per line, appended and never rewritten (docs/PROTOCOL.md "Receipts
 * and trust"). Crash-safe the way the payment log is: each line is on disk (fsynced, group
 * committed by state/line_appender.ts) before its append resolves, and a line cut short by a crash
 * is skipped when read and followed by a newline at the next append.
 *
 * A job's receipt may be followed by a newer one for the same job and side (a verdict or a refund
 * that came after the first): the newest line wins ({@linkcode latestReceipts}). The book holds
 * the events as they were signed; checking them is the reader's (`readReceipt`).
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { LineAppender } from "../line_appender.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";

/** The book's file name in the state dir. */
export const RECEIPT_BOOK_NAME = "receipts.jsonl";

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
  const path = `${options.stateDir.replace(/\/+$/, "")}/${RECEIPT_BOOK_NAME}`;
  const text = await readOptionalTextFile(path) ?? "";
  const events: NostrEvent[] = [];
  let skippedLines = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const event = JSON.parse(line) as NostrEvent;
      if (typeof event !== "object" || event === null || typeof event.content !== "string") {
        throw new TypeError("not an event");
      }
      events.push(event);
    } catch {
      skippedLines++;
    }
  }
  const file = new LineAppender(path, { needsNewline: text.length > 0 && !text.endsWith("\n") });
  return {
    path,
    events,
    skippedLines,
    async append(added) {
      if (added.length === 0) return;
      await file.append(added.map((e) => JSON.stringify(e) + "\n").join(""));
      events.push(...added);
    },
  };
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

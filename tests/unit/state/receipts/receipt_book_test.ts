/**
 * The receipt book (state/receipts/receipt_book.ts) on a real file: appends survive a reopen, a
 * line cut short by a crash is skipped and the next append starts on a line of its own, and the
 * newest receipt of a job wins.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  latestReceipts,
  openReceiptBook,
  RECEIPT_BOOK_NAME,
} from "../../../../state/receipts/receipt_book.ts";

const key = generateSecretKey();
const event = (content: string) =>
  finalizeEvent({ kind: 27_390, created_at: 1, tags: [], content }, key);

Deno.test("receipt book: a line cut short by a crash is skipped, and the next append starts a line of its own", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const book = await openReceiptBook({ stateDir });
    await book.append([event("one"), event("two")]);
    // A crash mid-write: half a line, no newline.
    const path = `${stateDir}/${RECEIPT_BOOK_NAME}`;
    await Deno.writeTextFile(path, '{"id":"abc","con', { append: true });
    const again = await openReceiptBook({ stateDir });
    assertEquals([again.events.length, again.skippedLines], [2, 1]);
    await again.append([event("three")]);
    const read = await openReceiptBook({ stateDir });
    assertEquals(read.events.map((e) => e.content), ["one", "two", "three"]);
    assertEquals(read.skippedLines, 1);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("receipt book: the newest line of a job and side replaces the older ones, in the order of the newest", () => {
  const lines = [{ k: "a", n: 1 }, { k: "b", n: 2 }, { k: "a", n: 3 }];
  assertEquals(latestReceipts(lines, (l) => l.k).map((l) => l.n), [2, 3]);
});

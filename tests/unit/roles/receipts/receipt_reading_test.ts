/**
 * Reading the receipt book (roles/receipts/receipt_ledger.ts `readReceipts`) with its checked mark
 * (state/receipts/receipt_book.ts, state/checked_prefix.ts) on real files: the second reading
 * gives what the first gave, lines appended since are checked, a line of the marked part edited
 * brings the whole book back to the check, and `everySignature` (what `receipts --check` asks)
 * ignores the mark.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { generateSecretKey } from "nostr-tools";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import { type JobReceipt, receiptTemplate } from "../../../../protocol/job_receipt.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";
import { checkReceipts, readReceipts } from "../../../../roles/receipts/receipt_ledger.ts";
import {
  openReceiptBook,
  RECEIPT_BOOK_CHECKED_NAME,
  RECEIPT_BOOK_NAME,
} from "../../../../state/receipts/receipt_book.ts";

using signer = localNodeSigner(generateSecretKey());

function receipt(n: number): JobReceipt {
  return {
    side: "requester",
    job: n.toString(16).padStart(64, "a"),
    counterparty: "cd".repeat(32),
    kind: 5600,
    skill: "echo",
    outcome: "done",
    status: "completed",
    deposit: "0",
    delivery: String(1000 + n),
    refunded: "0",
    onTime: true,
    endedAtMs: 1_700_000_000_000 + n,
  };
}

const signed = (n: number) => signer.signEvent(receiptTemplate(receipt(n), 1_700_000_000_000));

/** The same event with one hex digit of its signature changed: the same length, not valid. */
function forged(event: NostrEvent): NostrEvent {
  const last = event.sig.at(-1) === "0" ? "1" : "0";
  return { ...event, sig: event.sig.slice(0, -1) + last };
}

/** What a reading says, in a form to compare. */
async function summary(stateDir: string, everySignature = false) {
  const r = await readReceipts(stateDir, signer.pubkey, { everySignature });
  return {
    valid: r.receipts.map((s) => s.receipt.delivery),
    bad: r.bad.map((b) => `${b.index}:${b.reason}`),
    skipped: r.skippedLines,
  };
}

Deno.test("receipt reading: the second reading uses the mark and says what the first said; appended lines are checked", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const book = await openReceiptBook({ stateDir });
    await book.append([await signed(1), forged(await signed(2)), await signed(3)]);
    const first = await summary(stateDir);
    assertEquals(first, { valid: ["1001", "1003"], bad: ["2:signature"], skipped: 0 });
    const marked = await openReceiptBook({ stateDir });
    assertEquals([marked.checked.items, [...marked.checked.failed]], [3, [1]]);
    assertEquals(await summary(stateDir), first);
    // Lines after the mark: a valid one, a forged one, a torn one (a crash's, no newline).
    await marked.append([await signed(4), forged(await signed(5))]);
    await Deno.writeTextFile(`${stateDir}/${RECEIPT_BOOK_NAME}`, '{"id":"ab","co', {
      append: true,
    });
    const grown = { valid: ["1001", "1003", "1004"], bad: ["2:signature", "5:signature"] };
    assertEquals(await summary(stateDir), { ...grown, skipped: 1 });
    const again = await openReceiptBook({ stateDir });
    assertEquals([again.checked.items, [...again.checked.failed], again.wholeItems], [
      5,
      [1, 4],
      5,
    ]);
    assertEquals(await summary(stateDir), { ...grown, skipped: 1 });
    // The torn line completed by the next append: a line of its own, skipped; the mark covers it.
    await again.append([await signed(6)]);
    assertEquals((await summary(stateDir)).valid.at(-1), "1006");
    assertEquals((await openReceiptBook({ stateDir })).checked.items, 6);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("receipt reading: a line under the mark edited (same length) is caught: the whole book is checked again", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const events = [await signed(1), await signed(2), await signed(3)];
    await (await openReceiptBook({ stateDir })).append(events);
    assertEquals((await summary(stateDir)).bad, []);
    const path = `${stateDir}/${RECEIPT_BOOK_NAME}`;
    const text = await Deno.readTextFile(path);
    const edited = text.replace(JSON.stringify(events[1]), JSON.stringify(forged(events[1])));
    assertEquals(edited.length, text.length);
    await Deno.writeTextFile(path, edited);
    assertEquals(await summary(stateDir), {
      valid: ["1001", "1003"],
      bad: ["2:signature"],
      skipped: 0,
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("receipt reading: a forged mark fools a reading, not everySignature nor receipts --check; a bad mark is none", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await (await openReceiptBook({ stateDir })).append([await signed(1), forged(await signed(2))]);
    assertEquals((await summary(stateDir)).bad, ["2:signature"]);
    const markPath = `${stateDir}/${RECEIPT_BOOK_CHECKED_NAME}`;
    const mark = JSON.parse(await Deno.readTextFile(markPath));
    // Whoever writes the state dir can write the mark too (docs/PROTOCOL.md "Receipts and trust").
    await Deno.writeTextFile(markPath, JSON.stringify({ ...mark, failed: [] }));
    assertEquals((await summary(stateDir)).bad, []);
    assertEquals((await summary(stateDir, true)).bad, ["2:signature"]);
    assertEquals((await checkReceipts(stateDir, signer.pubkey)).bad.map((b) => b.index), [2]);
    // everySignature wrote the truth back.
    assertEquals((await summary(stateDir)).bad, ["2:signature"]);
    await Deno.writeTextFile(markPath, "{not json");
    assertEquals((await summary(stateDir)).bad, ["2:signature"]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("receipt reading: a state dir the mark cannot be written to reads the same, every time checked", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await (await openReceiptBook({ stateDir })).append([await signed(1)]);
    // A directory where the mark goes: its write fails, the reading does not.
    await Deno.mkdir(`${stateDir}/${RECEIPT_BOOK_CHECKED_NAME}`);
    assertEquals(await summary(stateDir), { valid: ["1001"], bad: [], skipped: 0 });
    assertEquals((await openReceiptBook({ stateDir })).checked.items, 0);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("receipt reading: a line that begins with a byte-order mark is skipped, with the mark and without, as a whole-file read skips it", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await (await openReceiptBook({ stateDir })).append([await signed(1)]);
    await summary(stateDir); // the mark
    const path = `${stateDir}/${RECEIPT_BOOK_NAME}`;
    await Deno.writeTextFile(path, "\uFEFF" + JSON.stringify(await signed(2)) + "\n", {
      append: true,
    });
    const expected = { valid: ["1001"], bad: [], skipped: 1 };
    assertEquals(await summary(stateDir), expected);
    assertEquals(await summary(stateDir), expected); // now under the mark
    assertEquals(await summary(stateDir, true), expected);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

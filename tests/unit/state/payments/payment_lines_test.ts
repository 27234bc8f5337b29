/**
 * The payment log folded into payments (state/payments/payment_lines.ts): an intent and its outcome are
 * one line, a retried invoice two, a write with no intent one, one event to two towns two; the
 * `amount`s sum to the books.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { foldPayments } from "../../../../state/payments/payment_lines.ts";
import type { PaymentEntry } from "../../../../state/payments/payment_log.ts";
import { summarizePayments } from "../../../../state/payments/payment_summary.ts";

const base = {
  direction: "out" as const,
  jobId: "ab".repeat(32),
  asset: "M2M",
  scale: 6,
  peer: "town",
};

Deno.test("wallet history lines: one per payment, amounts sum to the books", () => {
  const entries: PaymentEntry[] = [
    { ...base, ts: "t1", event: "fulfilled", invoiceId: "w", amount: "5", category: "town-write" },
    { ...base, ts: "t2", event: "intent", invoiceId: "i", amount: "100" },
    { ...base, ts: "t3", event: "rejected", invoiceId: "i", amount: "100", reason: "T04" },
    { ...base, ts: "t4", event: "intent", invoiceId: "i", amount: "100" },
    { ...base, ts: "t5", event: "fulfilled", invoiceId: "i", amount: "100", fulfillment: "f" },
    { ...base, ts: "t6", event: "intent", invoiceId: "d", amount: "7" },
  ];
  const lines = foldPayments(entries);
  assertEquals(
    lines.map((l) => [l.invoiceId, l.state, l.amount, l.requested, l.sentAt]),
    [
      ["w", "paid", "5", "5", undefined],
      ["i", "rejected", "0", "100", "t2"],
      ["i", "paid", "100", "100", "t4"],
      ["d", "in-doubt", "0", "7", "t6"],
    ],
  );
  const sum = lines.reduce((n, l) => n + BigInt(l.amount), 0n);
  assertEquals(sum, summarizePayments(entries)[0].spent.total);
});

Deno.test("wallet history lines: one event written to two towns is two payments, each its own outcome", () => {
  const write = { ...base, invoiceId: "e", amount: "5", category: "town-write" as const };
  const entries: PaymentEntry[] = [
    { ...write, ts: "t1", event: "intent", peer: "g.a" },
    { ...write, ts: "t2", event: "intent", peer: "g.b" },
    { ...write, ts: "t3", event: "fulfilled", peer: "g.a" }, // g.b's answer still lost
  ];
  assertEquals(
    foldPayments(entries).map((l) => [l.peer, l.state, l.amount, l.sentAt]),
    [["g.a", "paid", "5", "t1"], ["g.b", "in-doubt", "0", "t2"]],
  );
});

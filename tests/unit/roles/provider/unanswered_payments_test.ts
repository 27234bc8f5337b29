import { assertEquals } from "../../../../harness/assert.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import type { ProviderJobRecord } from "../../../../state/jobs/provider_job_record.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";
import {
  reopenUnanswered,
  unansweredPayment,
} from "../../../../roles/provider/payments/unanswered_payments.ts";

const JOB = "e".repeat(64);

function invoiceText(condition: string): string {
  return `ilp:g.town.provider.e?amount=100&asset=USD&scale=6&condition=${condition}` +
    `&expires=2030-01-01T00:00:00.000Z&job=${JOB}`;
}

function record(over: Partial<ProviderJobRecord>): ProviderJobRecord {
  const now = new Date().toISOString();
  return {
    id: JOB,
    kind: 5601,
    customer: "c".repeat(64),
    skill: "echo",
    price: "100",
    status: "paid",
    requestToon: "",
    encrypted: false,
    attempts: 0,
    admittedAt: now,
    updatedAt: now,
    ...over,
  };
}

function line(condition: string): PaymentEntry {
  return {
    ts: new Date().toISOString(),
    direction: "in",
    event: "fulfilled",
    jobId: JOB,
    invoiceId: condition,
    amount: "100",
    asset: "USD",
    peer: "c".repeat(64),
  };
}

Deno.test("unanswered_payments: a delivery recorded paid without its line goes back to delivered; a free job and a running one are left alone", () => {
  const now = new Date().toISOString();
  const delivery = record({
    status: "published",
    invoice: invoiceText("aa".repeat(32)),
    fulfillment: "11".repeat(32),
    paidAt: now,
    deliveryInvoice: invoiceText("bb".repeat(32)),
    deliveryFulfillment: "22".repeat(32),
    deliveryPaidAt: now,
  });
  const deposit = new Set(["aa".repeat(32)]);
  const again = unansweredPayment(delivery, deposit)!;
  assertEquals([again.status, again.deliveryPaidAt, again.paidAt], ["delivered", undefined, now]);
  assertEquals(unansweredPayment(delivery, new Set([...deposit, "bb".repeat(32)])), undefined);
  assertEquals(unansweredPayment(record({ price: "0", paidAt: now }), new Set()), undefined);
  const running = record({
    status: "running",
    invoice: invoiceText("aa".repeat(32)),
    fulfillment: "11".repeat(32),
    paidAt: now,
  });
  assertEquals(unansweredPayment(running, new Set()), undefined, "running: it was answered");
});

Deno.test("unanswered_payments: at restart a paid record without its line is written invoiced, one with its line is not", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir });
    const now = new Date().toISOString();
    const fields = { invoice: invoiceText("aa".repeat(32)), fulfillment: "11".repeat(32) };
    await store.put(record({ ...fields, paidAt: now }));
    const other = "f".repeat(64);
    await store.put(record({
      id: other,
      invoice: invoiceText("cc".repeat(32)).replace(JOB, other),
      fulfillment: "33".repeat(32),
      paidAt: now,
    }));
    const lines: string[] = [];
    const entries = [line("cc".repeat(32))];
    assertEquals(await reopenUnanswered({ store, entries, log: (l) => lines.push(l) }), 1);
    assertEquals([store.get(JOB)?.status, store.get(JOB)?.paidAt], ["invoiced", undefined]);
    assertEquals(store.get(other)?.status, "paid");
    assertEquals(lines.length, 1);
    const reread = await openProviderJobStore({ stateDir });
    assertEquals(reread.get(JOB)?.status, "invoiced", "on disk");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("unanswered_payments: a delivery paid before the payment log's 30 days is answered by its income row, never opened again", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const store = await openProviderJobStore({ stateDir });
    const then = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const paid = record({
      status: "published",
      invoice: invoiceText("aa".repeat(32)),
      fulfillment: "11".repeat(32),
      paidAt: then,
      admittedAt: then,
      updatedAt: then,
    });
    await store.put(paid, { income: { ...line("aa".repeat(32)), ts: then } });
    const delivered = {
      ...paid,
      deliveryInvoice: invoiceText("bb".repeat(32)),
      deliveryFulfillment: "22".repeat(32),
      deliveryPaidAt: then,
    };
    await store.put(delivered, { income: { ...line("bb".repeat(32)), ts: then } });
    store.close();
    // Restarted 40 days on: the log keeps 30 days, the rows every payment.
    const reopened = await openProviderJobStore({ stateDir });
    const entries = (await openPaymentLog({ stateDir })).entries();
    const lines: string[] = [];
    const count = await reopenUnanswered({
      store: reopened,
      entries,
      log: (l) => lines.push(l),
    });
    assertEquals([count, lines], [0, []]);
    assertEquals(reopened.get(JOB)?.deliveryPaidAt, then, "still paid");
    reopened.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

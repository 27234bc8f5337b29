/**
 * The provider's earnings kept with its income rows (state/jobs/provider_income_rows.ts): written
 * by the transaction of each row, read at open, summed again when they do not cover every row, and
 * untouched by a write that failed.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { DatabaseSync } from "node:sqlite";
import { refundInvoiceId } from "../../../../protocol/job_refund.ts";
import type { ProviderJobRecord } from "../../../../state/jobs/provider_job_record.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";
import {
  readProviderEarnings,
  readProviderIncome,
} from "../../../../state/jobs/provider_job_index.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";

const CUSTOMER = "c".repeat(64);

function job(n: number): { record: ProviderJobRecord; income: PaymentEntry } {
  const ts = new Date(Date.now() - n * 60_000).toISOString();
  const id = n.toString(16).padStart(64, "0");
  return {
    record: {
      id,
      kind: 5100,
      customer: CUSTOMER,
      skill: "echo",
      status: "paid",
      price: String(100 * n),
      requestToon: "",
      encrypted: false,
      admittedAt: ts,
      updatedAt: ts,
      attempts: 0,
      paidAt: ts,
    },
    income: {
      ts,
      direction: "in",
      event: "fulfilled",
      jobId: id,
      invoiceId: `inv-${n}`,
      amount: String(100 * n),
      asset: "USD",
      peer: CUSTOMER,
      category: "job",
    },
  };
}

/** The kept total as the index holds it. */
function keptTotal(stateDir: string): unknown {
  const db = new DatabaseSync(`${stateDir}/provider.sqlite`, { readOnly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'earnings'").get();
    return row === undefined ? undefined : JSON.parse(String(row.value));
  } finally {
    db.close();
  }
}

Deno.test("provider income rows: the earnings are kept with the rows, read at open, summed again when they cover fewer rows", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    let store = await openProviderJobStore({ stateDir });
    const [a, b, c] = [job(1), job(2), job(3)];
    for (const j of [a, b, c]) await store.put(j.record, { income: j.income });
    await store.reverseIncome({ ...b.income, event: "reversed" });
    store.income.refund({
      ...c.income,
      direction: "out",
      invoiceId: refundInvoiceId(c.record.id),
      fulfillment: "ef".repeat(32),
    });
    // 100 + 200 - 200 (taken back) + 300 - 300 (refunded)
    assertEquals(store.income.earnings(), 100n);
    assertEquals(keptTotal(stateDir), { rows: 5, earned: "100" });
    // A second payment of an invoice whose income stands is refused: nothing counted.
    await assertRejects(() => store.put(a.record, { income: a.income }), Error, "UNIQUE");
    assertEquals([store.income.earnings(), keptTotal(stateDir)], [100n, {
      rows: 5,
      earned: "100",
    }]);
    store.close();

    store = await openProviderJobStore({ stateDir });
    assertEquals(store.income.earnings(), 100n);
    store.close();

    // An older turnpike wrote a row without the total: summed again at open, and kept.
    const d = job(4);
    const db = new DatabaseSync(`${stateDir}/provider.sqlite`);
    db.prepare("INSERT INTO income (invoice_id, job_id, ts, entry) VALUES (?, ?, ?, ?)")
      .run(d.income.invoiceId, d.income.jobId, d.income.ts, JSON.stringify(d.income));
    db.close();
    store = await openProviderJobStore({ stateDir });
    assertEquals(store.income.earnings(), 500n);
    assertEquals(keptTotal(stateDir), { rows: 6, earned: "500" });
    // Read beside it without opening the store (`wallet balance`).
    assertEquals(readProviderEarnings(stateDir), 500n);
    store.close();

    // A total that does not parse is summed again too.
    const edit = new DatabaseSync(`${stateDir}/provider.sqlite`);
    edit.prepare("UPDATE meta SET value = 'nonsense' WHERE key = 'earnings'").run();
    edit.close();
    store = await openProviderJobStore({ stateDir });
    assertEquals(store.income.earnings(), 500n);
    assertEquals(readProviderIncome(stateDir, "2000-01-01").entries.length, 6);
    store.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("provider income rows: the refunds an older turnpike wrote as payment log lines become rows at the first open, once, and stay counted after the log lets their day go", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    let store = await openProviderJobStore({ stateDir });
    const a = job(1);
    await store.put(a.record, { income: a.income });
    store.close();
    // The older turnpike: a refund paid was a payment log line, no earnings kept.
    const log = await openPaymentLog({ stateDir });
    const refund = {
      ...a.income,
      direction: "out" as const,
      invoiceId: refundInvoiceId(a.record.id),
      fulfillment: "ef".repeat(32),
    };
    await log.append(refund);
    await log.flush();
    const db = new DatabaseSync(`${stateDir}/provider.sqlite`);
    db.prepare("DELETE FROM meta WHERE key = 'earnings'").run();
    db.close();
    assertEquals(log.earnedInLines(), 0n, "a refund line is not counted as a line");
    store = await openProviderJobStore({ stateDir });
    assertEquals(store.income.earnings(), 0n); // 100 paid, 100 refunded
    assertEquals(store.income.stands(refund.invoiceId), true);
    store.close();
    // Opened again: not copied twice.
    store = await openProviderJobStore({ stateDir });
    assertEquals(readProviderIncome(stateDir, "2000-01-01").entries.length, 2);
    assertEquals(store.income.earnings(), 0n);
    store.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

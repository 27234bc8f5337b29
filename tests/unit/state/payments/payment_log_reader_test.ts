/**
 * The payment log read a chunk at a time (state/payments/payment_log_reader.ts): what a command
 * reads of it is what the node's log holds, in its order, whole or for a few jobs (`mentioning`),
 * over rotated days, sealed chunks, the current file with a line cut short, a foreign line too long
 * to be an entry, and the provider's income rows.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";
import { readPaymentEntries } from "../../../../state/payments/payment_log_reader.ts";
import { PAYMENT_LOG_NAME } from "../../../../state/payments/payment_log_files.ts";
import { openProviderJobStore } from "../../../../state/jobs/provider_job_store.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-11-01T12:00:00Z");

function entry(job: number, invoice: string, event: PaymentEntry["event"], ts: number) {
  return {
    ts: new Date(ts).toISOString(),
    direction: "out",
    event,
    jobId: job.toString(16).padStart(64, "a"),
    invoiceId: invoice,
    amount: String(100 + job),
    asset: "USD",
    peer: "cd".repeat(32),
    ...(event === "fulfilled" ? { fulfillment: "ef".repeat(32) } : {}),
  } satisfies PaymentEntry;
}

Deno.test("payment log reader: the node's entries, whole or of a few jobs, over days, chunks, a torn line and income rows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = T0;
    // Small chunks: a day's lines sealed into several files.
    const log = await openPaymentLog({ stateDir: dir, now: () => now, chunkBytes: 2_000 });
    for (let day = 0; day < 4; day++) {
      for (let job = 0; job < 12; job++) {
        now = T0 + day * DAY + job * 1_000;
        const n = day * 100 + job;
        await log.append(entry(n, `inv-${n}`, "intent", now));
        await log.append(entry(n, `inv-${n}`, job % 3 === 0 ? "rejected" : "fulfilled", now));
      }
    }
    await log.flush();
    // A foreign line too long to be an entry, then a line cut short by a crash.
    const current = `${dir}/${PAYMENT_LOG_NAME}`;
    await Deno.writeTextFile(current, `{"x":"${"y".repeat(70_000)}"}\n{"ts":"2026-`, {
      append: true,
    });
    // A provider's income, a row of its job index.
    const store = await openProviderJobStore({ stateDir: dir });
    const income = {
      ...entry(301, "inv-income", "fulfilled", now + 5),
      direction: "in",
      peer: "ef".repeat(32),
    } satisfies PaymentEntry;
    const record = {
      id: income.jobId,
      kind: 5000,
      customer: "ab".repeat(32),
      skill: "echo",
      status: "paid" as const,
      price: "401",
      requestToon: "",
      encrypted: false,
      admittedAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      attempts: 1,
    };
    await store.put(record, { income });
    store.close();
    const node = await openPaymentLog({ stateDir: dir, now: () => now });
    const whole = await readPaymentEntries({ stateDir: dir, now: () => now });
    assertEquals(whole, node.entries());
    assertEquals(whole.length, 4 * 12 * 2 + 1);
    assertEquals(node.skippedLines, 2);
    const jobs = [entry(5, "", "intent", 0).jobId, income.jobId];
    const some = await readPaymentEntries({ stateDir: dir, now: () => now, mentioning: jobs });
    assertEquals(some, node.entries().filter((e) => jobs.includes(e.jobId)));
    assertEquals(some.length, 2 + 2 + 1); // job 5's two lines, job 301's two and its income
    // An invoice id names its lines too (an upload paid before its job had an id).
    const byInvoice = await readPaymentEntries({ stateDir: dir, mentioning: ["inv-207"] });
    assertEquals(byInvoice.map((e) => e.event), ["intent", "fulfilled"]);
    // The node's log after that read appends on a line of its own.
    await node.append(entry(999, "inv-999", "intent", now + 10));
    const again = await openPaymentLog({ stateDir: dir, now: () => now });
    assertEquals(again.invoiceState("inv-999"), "in-doubt");
    assertEquals(again.skippedLines, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import { assertEquals } from "../../../../harness/assert.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";
import type { RequesterJobRecord } from "../../../../state/jobs/job_record.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";
import {
  bringPaymentsToLog,
  paymentsFromLog,
} from "../../../../roles/requester/payments_from_log.ts";

const JOB = "ab".repeat(32);

function entry(invoiceId: string): Omit<PaymentEntry, "ts" | "event"> {
  return {
    direction: "out",
    jobId: JOB,
    invoiceId,
    amount: "1000",
    asset: "USD",
    scale: 6,
    peer: "p".repeat(64),
    category: "job",
  };
}

function paying(invoiceIds: string[]): RequesterJobRecord {
  return {
    id: JOB,
    kind: 5601,
    skill: "echo",
    status: "paying",
    createdAtMs: 1,
    updatedAtMs: 1,
    bid: 5000n,
    asset: "USD",
    payments: invoiceIds.map((invoiceId) => ({
      invoiceId,
      amount: 1000n,
      asset: "USD",
      status: "paying" as const,
      startedAtMs: 1,
    })),
  };
}

Deno.test("payments_from_log: a rejected outcome is written rejected with its reason, the job stays paying; an intent alone stays in doubt", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const log = await openPaymentLog({ stateDir });
    const ts = new Date().toISOString();
    await log.append({ ...entry("c1"), ts, event: "intent" });
    await log.append({ ...entry("c1"), ts, event: "rejected", reason: "T01 peer unreachable" });
    await log.append({ ...entry("c2"), ts, event: "intent" });
    const brought = paymentsFromLog(paying(["c1", "c2"]), log)!;
    assertEquals(brought.status, "paying");
    assertEquals(
      brought.payments.map((p) => [p.invoiceId, p.status, p.reason]),
      [["c1", "rejected", "T01 peer unreachable"], ["c2", "paying", undefined]],
    );
    assertEquals(paymentsFromLog(paying(["c2"]), log), undefined, "in doubt: nothing to bring");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("payments_from_log: at start only a paying record behind the log is written, once", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const log = await openPaymentLog({ stateDir });
    const ts = new Date().toISOString();
    await log.append({ ...entry("c1"), ts, event: "intent" });
    await log.append({ ...entry("c1"), ts, event: "fulfilled", fulfillment: "cd".repeat(32) });
    const repo = await openJobRepository({ stateDir });
    await repo.create(paying(["c1"]));
    const told: string[] = [];
    const bring = () =>
      bringPaymentsToLog({
        inFlight: repo.listInFlight(),
        log,
        read: (id) => repo.read(id),
        update: (id, change, options) => repo.update(id, change, options),
        onBrought: (r) => told.push(r.status),
      });
    assertEquals(await bring(), 1);
    const job = await repo.read(JOB);
    assertEquals(
      [job?.status, job?.payments.map((p) => [p.status, p.fulfillment])],
      ["paid", [["paid", "cd".repeat(32)]]],
    );
    const written = job?.updatedAtMs;
    assertEquals(await bring(), 0, "a paid job is not read again");
    assertEquals((await repo.read(JOB))?.updatedAtMs, written);
    assertEquals(told, ["paid"]);
    repo.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

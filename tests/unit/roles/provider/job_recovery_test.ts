/** What a restarted provider does with each record it finds: the rules, record by record. */
import { assertEquals } from "../../../../harness/assert.ts";
import {
  EXPIRED_UNPAID,
  recoveryStepFor,
  RESTARTED_WHILE_RUNNING,
} from "../../../../roles/provider/jobs/job_recovery.ts";
import { formatIlpInvoice } from "../../../../protocol/ilp_invoice.ts";
import type {
  ProviderJobRecord,
  ProviderJobStatus,
} from "../../../../state/jobs/provider_job_record.ts";

const NOW = Date.parse("2026-11-23T10:00:00Z");
const JOB = "cd".repeat(32);

function record(status: ProviderJobStatus, extra: Partial<ProviderJobRecord> = {}) {
  return {
    id: JOB,
    kind: 5100,
    customer: "ab".repeat(32),
    skill: "echo",
    status,
    price: "500",
    requestToon: "id: x",
    encrypted: false,
    admittedAt: "2026-11-23T09:59:00Z",
    updatedAt: "2026-11-23T09:59:00Z",
    attempts: 1,
    ...extra,
  } satisfies ProviderJobRecord;
}

const invoiceExpiringAt = (ms: number) =>
  formatIlpInvoice({
    destination: `test.town.beta.${JOB.slice(0, 18)}`,
    amount: 500n,
    assetCode: "USD",
    assetScale: 6,
    condition: "ef".repeat(32),
    expiresAt: new Date(ms),
    jobId: JOB,
  });

const step = (r: ProviderJobRecord, idempotent = false) =>
  recoveryStepFor(r, { idempotent, nowMs: NOW });

Deno.test("recovery: a job cut off while running runs again only when its skill is idempotent", () => {
  assertEquals(step(record("running"), true), { action: "rerun" });
  assertEquals(step(record("running"), false), { action: "fail", reason: RESTARTED_WHILE_RUNNING });
});

Deno.test("recovery: an unpaid invoice past expiry ends the job; one still open carries on", () => {
  const expired = record("invoiced", { invoice: invoiceExpiringAt(NOW - 1) });
  assertEquals(step(expired), { action: "fail", reason: EXPIRED_UNPAID });
  const open = record("invoiced", { invoice: invoiceExpiringAt(NOW + 30_000) });
  assertEquals(step(open), { action: "resume" });
});

Deno.test("recovery: finished jobs never run again; an untold error is told", () => {
  for (const status of ["published", "error", "cancelled"] as const) {
    assertEquals(step(record(status, { notified: true }), true), { action: "none" }, status);
  }
  assertEquals(step(record("error", { notified: false })), { action: "notify" });
  assertEquals(step(record("cancelled", { notified: false })), { action: "notify" });
});

Deno.test("recovery: paid, admitted and computed jobs carry on from where they stopped", () => {
  for (const status of ["admitted", "paid", "result-computed"] as const) {
    assertEquals(step(record(status)), { action: "resume" }, status);
  }
});

/**
 * A requester's unpaid share from its history at the provider (roles/provider/payments/
 * requester_share.ts): the floor for a stranger, more with paid jobs (never past the ceiling),
 * the floor at once when its newest job ended with a delivery it declined to pay, whatever it
 * paid before; no growth without a ceiling above the floor.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { requesterShare } from "../../../../roles/provider/payments/requester_share.ts";
import type {
  ProviderJobRecord,
  ProviderJobStatus,
} from "../../../../state/jobs/provider_job_record.ts";
import type { PaymentEntry } from "../../../../state/payments/payment_log.ts";

const ALICE = "a1".repeat(32);
const NOW = Date.parse("2026-11-26T12:00:00Z");

/** A job of ALICE's that ended `minutesAgo` with `status`. */
function ended(id: string, status: ProviderJobStatus, minutesAgo: number): ProviderJobRecord {
  const at = new Date(NOW - minutesAgo * 60_000).toISOString();
  return {
    id,
    kind: 5050,
    customer: ALICE,
    skill: "priced",
    status,
    price: "1000",
    requestToon: "",
    encrypted: false,
    admittedAt: at,
    updatedAt: at,
    attempts: 0,
  };
}

/** Its deposit of 1,000, paid. */
function paid(jobId: string): PaymentEntry {
  return {
    ts: new Date(NOW).toISOString(),
    direction: "in",
    event: "fulfilled",
    jobId,
    invoiceId: jobId,
    amount: "1000",
    asset: "USD",
    peer: ALICE,
    fulfillment: "00".repeat(32),
  };
}

Deno.test("requester share: a stranger's is the floor, paid jobs raise it toward the ceiling, a declined delivery drops it to the floor", () => {
  const share = (records: ProviderJobRecord[], payments: PaymentEntry[], ceiling = 8) =>
    requesterShare(ALICE, {
      floor: 2,
      ceiling,
      records: () => records,
      payments: () => payments,
      nowMs: NOW,
    });
  assertEquals(share([], []), 2);
  // One paid job: rank 55.5 (docs/PROTOCOL.md "Receipts and trust"): 2 + floor(6 * 0.555).
  const one = [ended("j1", "published", 30)];
  assertEquals(share(one, [paid("j1")]), 5);
  // Five paid jobs: more, never past the ceiling.
  const five = ["j1", "j2", "j3", "j4", "j5"].map((id, i) => ended(id, "published", 50 - i));
  const fivePaid = five.map((r) => paid(r.id));
  assertEquals(share(five, fivePaid), 7);
  // Its newest job: a delivery it declined to pay. The floor at once.
  assertEquals(share([...five, ended("j6", "declined", 1)], fivePaid), 2);
  // Another provider's requester, or no ceiling above the floor: the floor.
  assertEquals(
    requesterShare("b2".repeat(32), {
      floor: 2,
      ceiling: 8,
      records: () => five,
      payments: () => fivePaid,
      nowMs: NOW,
    }),
    2,
  );
  assertEquals(share(five, fivePaid, 2), 2);
  // No ceiling above the floor: neither the records nor the payments are read.
  const unread = () => {
    throw new Error("read");
  };
  assertEquals(
    requesterShare(ALICE, { floor: 2, ceiling: 2, records: unread, payments: unread, nowMs: NOW }),
    2,
  );
});

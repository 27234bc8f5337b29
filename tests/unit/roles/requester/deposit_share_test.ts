/**
 * The requester's deposit bound from its trust of the provider (roles/requester/deposit_share.ts):
 * a stranger the floor share of the bid, a trusted provider up toward the ceiling, one whose
 * newest delivery failed verification the floor at once.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { depositBound } from "../../../../roles/requester/deposit_share.ts";
import type { JobReceipt } from "../../../../protocol/job_receipt.ts";

const provider = "cd".repeat(32);
const receipt = (endedAtMs: number, more: Partial<JobReceipt> = {}): JobReceipt => ({
  side: "requester",
  job: String(endedAtMs).padStart(64, "0"),
  counterparty: provider,
  kind: 5603,
  skill: "agent-task",
  outcome: "done",
  status: "completed",
  deposit: "16000",
  delivery: "40000",
  refunded: "0",
  onTime: true,
  endedAtMs,
  ...more,
});
const o = { bid: 1_000_000n, floor: 1, ceiling: 3, provider };

Deno.test("a stranger's bound is the floor share of the bid, a trusted provider's grows with its rank to the ceiling", () => {
  assertEquals(depositBound({ ...o, rank: 0, receipts: [] }), 10_000n);
  assertEquals(depositBound({ ...o, rank: 50.6, receipts: [receipt(1)] }), 20_120n);
  assertEquals(depositBound({ ...o, rank: 100, receipts: [receipt(1)] }), 30_000n);
});

Deno.test("a provider whose newest delivery failed verification drops to the floor at once, whatever its rank", () => {
  const receipts = [receipt(1), receipt(2), receipt(3, { localVerify: "failed" })];
  assertEquals(depositBound({ ...o, rank: 60, receipts }), 10_000n);
  // Another provider's failure changes nothing about this one.
  const others = [receipt(1), receipt(3, { localVerify: "failed", counterparty: "ef".repeat(32) })];
  assertEquals(depositBound({ ...o, rank: 60, receipts: others }), 22_000n);
});

Deno.test("with the ceiling at the floor (the default) the bound is the floor share", () => {
  assertEquals(depositBound({ ...o, ceiling: 1, rank: 90, receipts: [] }), 10_000n);
  assertEquals(depositBound({ ...o, floor: 100, ceiling: 100, rank: 0, receipts: [] }), o.bid);
});

/**
 * The trust formula (protocol/trust_score.ts, docs/PROTOCOL.md "Receipts and trust"): what each
 * receipt counts for, how its value and age weigh it, and how a rank follows from them.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import type { JobReceipt } from "../../../protocol/job_receipt.ts";
import {
  PROTECTED_CHANGE_PENALTY,
  receiptEvidence,
  receiptWeight,
  TRUST_HALF_LIFE_MS,
  TRUST_PRIOR_WEIGHT,
  trustScore,
  trustScores,
  VERIFY_FAIL_PENALTY,
} from "../../../protocol/trust_score.ts";

const PROVIDER = "cd".repeat(32);

/** Equal up to `epsilon` (floating point). */
function assertAlmostEquals(actual: number, expected: number, epsilon: number): void {
  assert(Math.abs(actual - expected) <= epsilon, `${actual} is not ${expected}`);
}
const NOW = 1_800_000_000_000;

function receipt(overrides: Partial<JobReceipt> = {}): JobReceipt {
  return {
    side: "requester",
    job: "ab".repeat(32),
    counterparty: PROVIDER,
    kind: 5603,
    skill: "none",
    outcome: "done",
    status: "done",
    deposit: "1022",
    delivery: "0",
    refunded: "0",
    onTime: true,
    endedAtMs: NOW,
    ...overrides,
  };
}

Deno.test("trust: no receipts rank 0, and one verified pass cannot rank 100", () => {
  assertEquals(trustScore(PROVIDER, [], { nowMs: NOW }).rank, 0);
  const one = trustScore(PROVIDER, [receipt({ localVerify: "passed" })], { nowMs: NOW });
  // log2(2 + 1022) = 10: 100 * 10 / (10 + 8).
  assertAlmostEquals(one.positive, 10, 1e-9);
  assertEquals(one.rank, Math.round(1000 * 10 / (10 + TRUST_PRIOR_WEIGHT)) / 10);
});

Deno.test("trust: a failed local verify counts against three times what a verified pass counts for", () => {
  assertEquals(receiptEvidence(receipt({ localVerify: "passed" })), 1);
  assertEquals(receiptEvidence(receipt({ localVerify: "failed" })), -VERIFY_FAIL_PENALTY);
  assertEquals(receiptEvidence(receipt({ protectedChanged: 2 })), -PROTECTED_CHANGE_PENALTY);
  const pass = receipt({ localVerify: "passed" });
  const fail = receipt({ localVerify: "failed", job: "ef".repeat(32) });
  const after = trustScore(PROVIDER, [pass, fail], { nowMs: NOW });
  assertAlmostEquals(after.negative, 3 * after.positive, 1e-9);
  assert(after.rank < trustScore(PROVIDER, [pass], { nowMs: NOW }).rank);
});

Deno.test("trust: work done on the provider's word counts half a verified pass; its own failed verdict counts against", () => {
  assertEquals(receiptEvidence(receipt()), 0.5);
  assertEquals(receiptEvidence(receipt({ providerVerdict: "failed" })), -0.5);
  assertEquals(receiptEvidence(receipt({ outcome: "failed", status: "error" })), -1);
  assertEquals(receiptEvidence(receipt({ outcome: "cancelled", status: "cancelled" })), 0);
});

Deno.test("trust: a provider's receipt rates the requester by whether it paid, not by the provider's own failures", () => {
  const side = "provider" as const;
  assertEquals(receiptEvidence(receipt({ side })), 1);
  assertEquals(receiptEvidence(receipt({ side, outcome: "declined" })), -1);
  assertEquals(receiptEvidence(receipt({ side, outcome: "failed" })), 0);
});

Deno.test("trust: a receipt's weight halves every half-life and grows with the log of its value", () => {
  const fresh = receiptWeight(receipt(), NOW);
  assertAlmostEquals(fresh, 10, 1e-9);
  assertAlmostEquals(receiptWeight(receipt(), NOW + TRUST_HALF_LIFE_MS), 5, 1e-9);
  assertAlmostEquals(receiptWeight(receipt(), NOW + 2 * TRUST_HALF_LIFE_MS), 2.5, 1e-9);
  // A refunded job moved nothing: it weighs what a free one does.
  assertAlmostEquals(receiptWeight(receipt({ refunded: "1022" }), NOW), 1, 1e-9);
  // A thousand times the value is ten more, not a thousand times more.
  const big = receiptWeight(receipt({ deposit: String(1024 * 1024 - 2) }), NOW);
  assertAlmostEquals(big, 20, 1e-9);
});

Deno.test("trust: an old failure weighs less than recent passes", () => {
  const old = receipt({ localVerify: "failed", endedAtMs: NOW - 4 * TRUST_HALF_LIFE_MS });
  const recent = [1, 2].map((n) =>
    receipt({ localVerify: "passed", job: String(n).repeat(64), endedAtMs: NOW })
  );
  const score = trustScore(PROVIDER, [old, ...recent], { nowMs: NOW });
  assert(score.positive > score.negative, JSON.stringify(score));
  const sameAge = trustScore(PROVIDER, [{ ...old, endedAtMs: NOW }, ...recent], { nowMs: NOW });
  assert(score.rank > sameAge.rank);
});

Deno.test("trust: scores of every counterparty in one pass equal each one's alone", () => {
  const other = "ef".repeat(32);
  const all = [
    receipt({ localVerify: "passed" }),
    receipt({ counterparty: other, outcome: "failed" }),
    receipt({ counterparty: other, localVerify: "passed" }),
  ];
  const scores = trustScores(all, { nowMs: NOW });
  assertEquals(scores.get(PROVIDER), trustScore(PROVIDER, all, { nowMs: NOW }));
  assertEquals(scores.get(other), trustScore(other, all, { nowMs: NOW }));
  assertEquals(scores.get(other)!.receipts, 2);
});

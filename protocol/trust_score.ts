/**
 * A counterparty's trust from this node's own receipts of its jobs (protocol/job_receipt.ts):
 * a rank 0-100, the scale NIP-85 assertions use. The formula and its reasons are in
 * docs/PROTOCOL.md "Receipts and trust"; in short, each receipt gives evidence `e` (positive for
 * work done and paid, negative for failures, much more negative for a failed local verify or a
 * protected path changed), weighted by `w = log2(2 + value) * 2^(-age / half-life)`; with `P` the
 * weighted positive evidence and `N` the weighted negative,
 *
 *     rank = 100 * P / (P + N + K)
 *
 * where `K` is the weight of the evidence a newcomer lacks: no history ranks 0, and one job
 * cannot rank 100.
 *
 * @module
 */
import type { JobReceipt } from "./job_receipt.ts";

/** Half-life of a receipt's weight: 30 days (the payment log's default keep). */
export const TRUST_HALF_LIFE_MS = 30 * 86_400_000;
/** What a failed local verify counts against, in passes. */
export const VERIFY_FAIL_PENALTY = 3;
/** What a delivery that changed protected paths counts against, in passes. */
export const PROTECTED_CHANGE_PENALTY = 3;
/** The weight of the evidence a newcomer lacks (a free job's weight is 1). */
export const TRUST_PRIOR_WEIGHT = 8;

/** Options for {@linkcode trustScore} and {@linkcode trustScores}. */
export interface TrustScoreOptions {
  /** The time ages are measured from, unix ms. */
  nowMs: number;
  /** Default {@linkcode TRUST_HALF_LIFE_MS}. */
  halfLifeMs?: number;
}

/** A counterparty's trust, and what it is made of. */
export interface TrustScore {
  counterparty: string;
  /** 0-100, one decimal. */
  rank: number;
  /** Weighted positive evidence. */
  positive: number;
  /** Weighted negative evidence (a magnitude). */
  negative: number;
  /** Receipts counted. */
  receipts: number;
  /** The newest receipt's end, unix ms. */
  lastAtMs: number;
}

/**
 * The evidence one receipt gives about its counterparty, in passes: +1 for verified work (or a
 * paying requester), +0.5 for work done on the provider's word, negative for failures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { receiptEvidence } from "./trust_score.ts";
 * import type { JobReceipt } from "./job_receipt.ts";
 *
 * const done: JobReceipt = {
 *   side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5600,
 *   skill: "echo", outcome: "done", status: "completed", deposit: "0", delivery: "5000",
 *   refunded: "0", onTime: true, endedAtMs: 0,
 * };
 * assert.equal(receiptEvidence({ ...done, localVerify: "passed" }), 1);
 * assert.equal(receiptEvidence({ ...done, localVerify: "failed" }), -3);
 * ```
 */
export function receiptEvidence(r: JobReceipt): number {
  if (r.side === "provider") {
    // The provider's view of a requester: did it pay? Its own failures are not the requester's.
    if (r.outcome === "done") return 1;
    if (r.outcome === "declined" || r.outcome === "refused") return -1;
    return 0;
  }
  let e = 0;
  if (r.localVerify === "failed") e -= VERIFY_FAIL_PENALTY;
  if ((r.protectedChanged ?? 0) > 0) e -= PROTECTED_CHANGE_PENALTY;
  if (e < 0) return e;
  switch (r.outcome) {
    case "done":
      if (r.localVerify === "passed") return 1;
      return r.providerVerdict === "failed" ? -0.5 : 0.5;
    case "declined":
      return -0.5;
    case "failed":
    case "timed-out":
      return -1;
    default:
      // Cancelled by the requester, or refused by its own spend policy: nothing about the provider.
      return 0;
  }
}

/**
 * A receipt's weight at `nowMs`: its value (concave: a large job is not a purchase of trust)
 * times its decay.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { receiptWeight, TRUST_HALF_LIFE_MS } from "./trust_score.ts";
 * import type { JobReceipt } from "./job_receipt.ts";
 *
 * const free: JobReceipt = {
 *   side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5600,
 *   skill: "echo", outcome: "done", status: "completed", deposit: "0", delivery: "0",
 *   refunded: "0", onTime: true, endedAtMs: 0,
 * };
 * assert.equal(receiptWeight(free, TRUST_HALF_LIFE_MS), 0.5); // one half-life old
 * ```
 */
export function receiptWeight(
  r: JobReceipt,
  nowMs: number,
  halfLifeMs: number = TRUST_HALF_LIFE_MS,
): number {
  const paid = BigInt(r.deposit) + BigInt(r.delivery) - BigInt(r.refunded);
  const value = paid > 0n ? Number(paid) : 0;
  const age = Math.max(0, nowMs - r.endedAtMs);
  return Math.log2(2 + value) * Math.pow(2, -age / halfLifeMs);
}

/**
 * The trust of one counterparty from its receipts (those of other counterparties are ignored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustScore } from "./trust_score.ts";
 * import type { JobReceipt } from "./job_receipt.ts";
 *
 * const receipts: JobReceipt[] = [{
 *   side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5600,
 *   skill: "echo", outcome: "done", status: "completed", deposit: "0", delivery: "5000",
 *   refunded: "0", onTime: true, endedAtMs: 0, localVerify: "passed",
 * }];
 * const score = trustScore("cd".repeat(32), receipts, { nowMs: 0 });
 * assert.equal(score.receipts, 1);
 * assert(score.rank > 50); // one verified pass lifts it above the prior
 * ```
 */
export function trustScore(
  counterparty: string,
  receipts: Iterable<JobReceipt>,
  options: TrustScoreOptions,
): TrustScore {
  const acc = emptyScore(counterparty);
  for (const r of receipts) if (r.counterparty === counterparty) add(acc, r, options);
  return finish(acc);
}

/**
 * The trust of every counterparty of `receipts`, in one pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustScores } from "./trust_score.ts";
 * import type { JobReceipt } from "./job_receipt.ts";
 *
 * const done: JobReceipt = {
 *   side: "requester", job: "ab".repeat(32), counterparty: "cd".repeat(32), kind: 5600,
 *   skill: "echo", outcome: "done", status: "completed", deposit: "0", delivery: "5000",
 *   refunded: "0", onTime: true, endedAtMs: 0,
 * };
 * const scores = trustScores([done, { ...done, counterparty: "ef".repeat(32) }], { nowMs: 0 });
 * assert.deepEqual([...scores.keys()], ["cd".repeat(32), "ef".repeat(32)]);
 * ```
 */
export function trustScores(
  receipts: Iterable<JobReceipt>,
  options: TrustScoreOptions,
): Map<string, TrustScore> {
  const scores = new Map<string, TrustScore>();
  for (const r of receipts) {
    let acc = scores.get(r.counterparty);
    if (acc === undefined) scores.set(r.counterparty, acc = emptyScore(r.counterparty));
    add(acc, r, options);
  }
  for (const acc of scores.values()) finish(acc);
  return scores;
}

function emptyScore(counterparty: string): TrustScore {
  return { counterparty, rank: 0, positive: 0, negative: 0, receipts: 0, lastAtMs: 0 };
}

function add(acc: TrustScore, r: JobReceipt, o: TrustScoreOptions): void {
  const e = receiptEvidence(r);
  const w = receiptWeight(r, o.nowMs, o.halfLifeMs);
  if (e > 0) acc.positive += e * w;
  else acc.negative -= e * w;
  acc.receipts++;
  acc.lastAtMs = Math.max(acc.lastAtMs, r.endedAtMs);
}

function finish(acc: TrustScore): TrustScore {
  const rank = 100 * acc.positive / (acc.positive + acc.negative + TRUST_PRIOR_WEIGHT);
  acc.rank = Math.round(rank * 10) / 10;
  return acc;
}

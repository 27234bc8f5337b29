/**
 * The order in which the refinery tries delivered agent-task results on an integration branch
 * (docs/AGENTS.md "The refinery"): a pure rule over what the requester already knows of each
 * result, no git.
 *
 * 1. **Overdue first.** A result whose sling (its bead, or its first job) was first delivered
 *    `maxWaitMs` ago or more goes ahead of every other, oldest first: whatever the scores of
 *    newer results, one that waited past the bound is tried next. Its age counts from the sling's
 *    first delivery, so a result that conflicted and was slung again keeps the age it had.
 * 2. **Priority.** The bead's priority, 0 (most urgent) to 4; a result without a bead counts as
 *    {@linkcode DEFAULT_PRIORITY}, bd's own default.
 * 3. **Expected success**, highest first ({@linkcode expectedSuccess}): the provider's trust
 *    (its combined rank, cli/refinery_trust.ts), the provider's gate verdict and this profile's `--verify`
 *    verdict, and the change's size. A likely-green small change goes before a large one from an
 *    unknown provider, as Uber's SubmitQueue orders by predicted success.
 * 4. **Age**, oldest first; then the job id, so that one queue always gives one order.
 *
 * @module
 */

/** The priority of a result without a bead (bd's default, `P2`). */
export const DEFAULT_PRIORITY = 2;

/** How long a result may wait before it goes ahead of all others, by default (30 minutes). */
export const DEFAULT_MAX_WAIT_MS = 30 * 60_000;

/** Lines changed at which {@linkcode expectedSuccess}'s size factor is one half. */
export const SIZE_HALF_LINES = 400;

/** A trust rank assumed for a result whose provider is not known (0-100). */
export const UNKNOWN_TRUST = 50;

/** What the order reads of a delivered result. */
export interface QueuedResult {
  /** The job's id. */
  job: string;
  /** The bead's priority (0-4), when the task was a bead with one. */
  priority?: number;
  /** Unix ms of the first delivery of its sling (its age's start). */
  deliveredAtMs: number;
  /** The provider's trust rank (0-100), receipts and roster combined; absent: no provider. */
  trust?: number;
  /** The provider's gate verdict (`pass`, `fail`), as its result said. */
  verdict?: string | null;
  /** This profile's own run of the gate on the result's branch (`--verify`), when made. */
  verified?: "pass" | "fail";
  /** Lines inserted plus lines deleted. */
  lines: number;
}

/** A result's place in the order and why. */
export interface QueueScore {
  /** True when it waited `maxWaitMs` or more. */
  overdue: boolean;
  /** The priority counted (0-4). */
  priority: number;
  /** {@linkcode expectedSuccess}, 0-1. */
  expected: number;
  /** Seconds since its sling's first delivery. */
  ageS: number;
}

/** Options of {@linkcode orderQueue}. */
export interface OrderOptions {
  /** Unix ms now. */
  nowMs: number;
  /** The starvation bound; {@linkcode DEFAULT_MAX_WAIT_MS} by default. */
  maxWaitMs?: number;
  /** Newest first, nothing else (Gas City's Refinery): the baseline the bench compares with. */
  newestFirst?: boolean;
}

/**
 * The chance a result merges green, from 0 to 1: the product of
 *
 * - trust: `0.5 + rank / 200` (rank 0 gives 0.5, 100 gives 1; no rank at all counts 50);
 * - the provider's gate: 1 when it said `pass`, 0.5 otherwise;
 * - this profile's `--verify`: 1 when it passed or was not run, 0.2 when it failed;
 * - size: `1 / (1 + lines / 400)`, as a larger change touches more that others change too.
 *
 * @example
 * ```ts
 * import { expectedSuccess } from "./refinery_order.ts";
 *
 * const small = expectedSuccess({ job: "a", deliveredAtMs: 0, trust: 100, verdict: "pass", lines: 0 });
 * if (small !== 1) throw new Error();
 * const large = expectedSuccess({ job: "b", deliveredAtMs: 0, verdict: "pass", lines: 400 });
 * if (large !== 0.375) throw new Error();
 * ```
 */
export function expectedSuccess(r: QueuedResult): number {
  const trust = 0.5 + (r.trust ?? UNKNOWN_TRUST) / 200;
  const gate = r.verdict === "pass" ? 1 : 0.5;
  const verified = r.verified === "fail" ? 0.2 : 1;
  const size = 1 / (1 + Math.max(0, r.lines) / SIZE_HALF_LINES);
  return trust * gate * verified * size;
}

/**
 * A result's score ({@linkcode QueueScore}).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_WAIT_MS, queueScore } from "./refinery_order.ts";
 *
 * const s = queueScore({ job: "a", deliveredAtMs: 0, lines: 1 }, { nowMs: DEFAULT_MAX_WAIT_MS });
 * if (!s.overdue || s.priority !== 2) throw new Error();
 * ```
 */
export function queueScore(r: QueuedResult, o: OrderOptions): QueueScore {
  const waitedMs = Math.max(0, o.nowMs - r.deliveredAtMs);
  return {
    overdue: waitedMs >= (o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS),
    priority: r.priority ?? DEFAULT_PRIORITY,
    expected: Math.round(expectedSuccess(r) * 1000) / 1000,
    ageS: Math.floor(waitedMs / 1000),
  };
}

/**
 * The results in the order they are tried (see the module doc), each with its score.
 *
 * @example
 * ```ts
 * import { orderQueue } from "./refinery_order.ts";
 *
 * const order = orderQueue([
 *   { job: "big", deliveredAtMs: 1000, verdict: "pass", lines: 2000 },
 *   { job: "small", deliveredAtMs: 2000, verdict: "pass", lines: 3 },
 *   { job: "urgent", deliveredAtMs: 3000, priority: 0, lines: 50 },
 * ], { nowMs: 4000 });
 * if (order.map((o) => o.result.job).join() !== "urgent,small,big") throw new Error();
 * ```
 */
export function orderQueue<R extends QueuedResult>(
  results: readonly R[],
  o: OrderOptions,
): { result: R; score: QueueScore }[] {
  const scored = results.map((result) => ({ result, score: queueScore(result, o) }));
  const byJob = (a: R, b: R) => a.job < b.job ? -1 : a.job > b.job ? 1 : 0;
  if (o.newestFirst) {
    return scored.sort((a, b) =>
      b.result.deliveredAtMs - a.result.deliveredAtMs || byJob(a.result, b.result)
    );
  }
  return scored.sort((a, b) => {
    if (a.score.overdue !== b.score.overdue) return a.score.overdue ? -1 : 1;
    if (a.score.overdue) return a.result.deliveredAtMs - b.result.deliveredAtMs;
    return a.score.priority - b.score.priority ||
      b.score.expected - a.score.expected ||
      a.result.deliveredAtMs - b.result.deliveredAtMs ||
      byJob(a.result, b.result);
  });
}

/**
 * The slots of jobs waiting for payment: a small pool of its own, apart from the paid jobs'
 * `maxInFlight`, so requests nobody pays for cannot keep a paying requester out. Invoices are
 * cheap to ask for (one paid write to the town) and cost the provider nothing until paid, so the
 * pool favours the newest request: when it is full, the oldest open invoice is withdrawn to make
 * room. A requester that pays promptly is served even while others flood the pool; one that
 * never pays loses its slot after the grace period or to newer requests, whichever comes first.
 *
 * Why a job left the pool or never entered it, counted in `node status` under `dropped`:
 *
 * | reason                      | when                                                         |
 * |-----------------------------|--------------------------------------------------------------|
 * | `over-requester-unpaid`     | this requester already has `maxPerRequester` unpaid invoices  |
 * | `unpaid-grace`              | its invoice was not paid within the grace period: withdrawn   |
 * | `unpaid-displaced`          | the pool was full and a newer request took its slot: withdrawn |
 * | `late-payment`              | a payment arrived for an invoice already withdrawn: rejected  |
 *
 * @module
 */

/** Why an unpaid job's invoice was withdrawn. */
export type UnpaidWithdrawalReason = "unpaid-grace" | "unpaid-displaced";

/** Why the pool turned a job away, withdrew it, or refused its payment. */
export type UnpaidDropReason = "over-requester-unpaid" | UnpaidWithdrawalReason | "late-payment";

/** Default pool size. */
export const DEFAULT_MAX_UNPAID = 8;
/** Default unpaid jobs per requester. */
export const DEFAULT_MAX_UNPAID_PER_REQUESTER = 2;
/** Default grace of an unpaid invoice, seconds. */
export const DEFAULT_UNPAID_GRACE_SEC = 60;

/** Options for {@linkcode UnpaidPool}. */
export interface UnpaidPoolOptions {
  /** Unpaid jobs at most. */
  max: number;
  /** Unpaid jobs of one requester at most: a stranger's share. */
  maxPerRequester: number;
  /**
   * A requester's share from its history here (requester_share.ts), asked only of a requester
   * at `maxPerRequester`: never below it. Absent: `maxPerRequester` for every requester.
   */
  shareOf?: (requester: string) => number;
}

/** Outcome of {@linkcode UnpaidPool.reserve}. */
export type UnpaidReservation =
  | { ok: true; displaced: string | undefined }
  | { ok: false; reason: "over-requester-unpaid"; detail: string };

/** The pool of unpaid jobs; see the module doc. Holds job ids only: the records stay the truth. */
export class UnpaidPool {
  #options: UnpaidPoolOptions;
  /** Job id -> requester; insertion order is age, oldest first. */
  #jobs = new Map<string, string>();

  constructor(options: UnpaidPoolOptions) {
    if (!(options.max >= 1) || !(options.maxPerRequester >= 1)) {
      throw new RangeError("the unpaid pool needs at least one slot");
    }
    this.#options = options;
  }

  /**
   * How many unpaid jobs `requester` may have: its share from its history, never below
   * `maxPerRequester`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnpaidPool } from "./unpaid_pool.ts";
   *
   * const pool = new UnpaidPool({ max: 8, maxPerRequester: 2, shareOf: () => 5 });
   * assert.equal(pool.shareOf("ab".repeat(32)), 5);
   * ```
   */
  shareOf(requester: string): number {
    const floor = this.#options.maxPerRequester;
    const share = this.#options.shareOf?.(requester) ?? floor;
    return share > floor ? share : floor;
  }

  /** Unpaid jobs held. */
  get size(): number {
    return this.#jobs.size;
  }

  /**
   * Unpaid jobs of one requester.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnpaidPool } from "./unpaid_pool.ts";
   *
   * const pool = new UnpaidPool({ max: 8, maxPerRequester: 2 });
   * const requester = "c".repeat(64);
   * pool.reserve("job-1", requester);
   * pool.reserve("job-2", requester);
   * assert.equal(pool.countOf(requester), 2);
   * assert.equal(pool.reserve("job-3", requester).ok, false); // a third request of it is dropped
   * ```
   */
  countOf(requester: string): number {
    let n = 0;
    for (const who of this.#jobs.values()) if (who === requester) n++;
    return n;
  }

  /**
   * Takes a slot for a job about to be invoiced. A full pool gives up its oldest job, whose id
   * is returned as `displaced` for the caller to withdraw.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnpaidPool } from "./unpaid_pool.ts";
   *
   * const pool = new UnpaidPool({ max: 2, maxPerRequester: 2 });
   * assert.deepEqual(pool.reserve("job-1", "a".repeat(64)), { ok: true, displaced: undefined });
   * assert.deepEqual(pool.reserve("job-2", "b".repeat(64)), { ok: true, displaced: undefined });
   * // Full: the oldest job gives up its slot, for the caller to withdraw ("unpaid-displaced").
   * assert.deepEqual(pool.reserve("job-3", "c".repeat(64)), { ok: true, displaced: "job-1" });
   * ```
   */
  reserve(jobId: string, requester: string): UnpaidReservation {
    const mine = this.countOf(requester);
    // Its history is read only past a stranger's share: most requests never pay for it.
    const share = mine < this.#options.maxPerRequester ? mine + 1 : this.shareOf(requester);
    if (mine >= share) {
      return {
        ok: false,
        reason: "over-requester-unpaid",
        detail: `${mine} unpaid jobs of this requester, max ${share}`,
      };
    }
    let displaced: string | undefined;
    if (this.#jobs.size >= this.#options.max) {
      displaced = this.#jobs.keys().next().value;
      if (displaced !== undefined) this.#jobs.delete(displaced);
    }
    this.#jobs.set(jobId, requester);
    return { ok: true, displaced };
  }

  /**
   * Puts back a job found unpaid at restart, without displacing anyone (the pool may run over
   * its size until those invoices are paid or withdrawn).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnpaidPool } from "./unpaid_pool.ts";
   *
   * // Three unpaid jobs read back at start, into a pool of two: none displaced.
   * const pool = new UnpaidPool({ max: 2, maxPerRequester: 2 });
   * for (const id of ["job-1", "job-2", "job-3"]) pool.restore(id, "c".repeat(64));
   * assert.equal(pool.size, 3);
   * ```
   */
  restore(jobId: string, requester: string): void {
    this.#jobs.set(jobId, requester);
  }

  /**
   * Frees a job's slot (paid, withdrawn, cancelled). Returns whether it held one.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { UnpaidPool } from "./unpaid_pool.ts";
   *
   * const pool = new UnpaidPool({ max: 8, maxPerRequester: 2 });
   * const jobId = "job-1";
   * pool.reserve(jobId, "c".repeat(64));
   * assert.equal(pool.release(jobId), true); // paid: it leaves the pool
   * assert.equal(pool.release(jobId), false);
   * ```
   */
  release(jobId: string): boolean {
    return this.#jobs.delete(jobId);
  }
}

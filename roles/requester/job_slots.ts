/**
 * A bound on the jobs a requester host follows at once (docs/SCALE.md "Graceful overload"): past
 * it, `Requester.submit` refuses a new job at once with {@linkcode RequesterBusyError}, before
 * anything is signed, written or paid, instead of taking it on and letting it time out behind the
 * others. One `JobSlots` may be shared by every requester of a process (a host of many
 * requesters), so the bound is the host's, not each requester's. Jobs resumed after a restart
 * take their slots whatever the bound (they were accepted before).
 *
 * The bound is fixed (a number: the jobs of a capacity measured as docs/SCALE.md does, times the
 * latency wanted) or a {@linkcode JobLimit} that moves with what it is told of each job's end
 * (roles/requester/adaptive_job_limit.ts: from the done jobs' latency).
 *
 * A limit may excuse stragglers ({@linkcode JobLimit.counts}): a job held far longer than the
 * latency wanted is presumed caught in an outage (its provider's host or town down: it ends at its
 * timeout, minutes later) and no longer counts against the bound, at most as many as the bound or
 * {@linkcode STRAGGLERS_EXCUSED_AT_LEAST}, whichever is more (so a host under a real overload, its
 * jobs all slow, still follows at most the bound and that many more). Without that, a few such
 * jobs held every slot of a small bound (admitted under a larger one), and the host refused every
 * new job with no done job left to move the bound (docs/SCALE.md "Graceful overload").
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { AdaptiveJobLimit } from "./adaptive_job_limit.ts";

/**
 * How a job left its slot, as a {@linkcode JobLimit} reads it: `done`, `timed-out`, or any other
 * end (an error, a cancel, a provider's `busy`, a job refused before it was followed).
 */
export type JobEnd = "done" | "timed-out" | "other";

/**
 * A bound that may move: {@linkcode JobSlots} asks `current` at each new job, calls `start` when a
 * new job takes a slot and `end` with what `start` returned (undefined for a resumed job) when it
 * leaves it.
 *
 * A fixed bound in a few lines:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JobLimit } from "./job_slots.ts";
 * const fixed: JobLimit = { current: 3, start: () => 0, end: () => {}, describe: () => "fixed" };
 * assert.equal(fixed.current, 3);
 * ```
 */
export interface JobLimit {
  /** Jobs that may be followed at once now (at least 1). */
  readonly current: number;
  /** A new job took a slot; what it returns comes back to `end`. */
  start(): number;
  /** A job left its slot (`startedAt` undefined: it was resumed, taken whatever the bound). */
  end(startedAt: number | undefined, how: JobEnd): void;
  /** What the bound follows, for the `busy` message (e.g. `fixed`). */
  describe(): string;
  /**
   * Whether a job held since `startedAt` (what `start` returned) still counts against the bound;
   * false: a straggler, excused (see the module doc). Absent: every held job counts.
   */
  counts?(startedAt: number): boolean;
}

/**
 * Stragglers excused at least (when the bound is smaller): a bound shrunk to 1 or 2 whose slots
 * went to jobs admitted under a larger one, now caught in an outage, is not held by them.
 */
export const STRAGGLERS_EXCUSED_AT_LEAST = 4;

/** A new job refused because the host already follows as many jobs as it may: temporary. */
export class RequesterBusyError extends RoleError {
  override name = "RequesterBusyError";
}

/** Jobs followed at once, by id, up to a bound; see the module doc. */
export class JobSlots {
  readonly #limit: JobLimit;
  /**
   * Each job holding a slot, with when it took it on the limit's clock and whether it was resumed
   * (taken whatever the bound: no latency sample). In the order taken: oldest first.
   */
  #held = new Map<string, { at: number; resumed: boolean }>();

  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(64);
   * assert.equal(slots.max, 64);
   * ```
   * @throws {RangeError} when a fixed bound is not a positive integer.
   */
  constructor(bound: number | JobLimit) {
    if (typeof bound === "number") {
      if (!Number.isSafeInteger(bound) || bound < 1) {
        throw new RangeError(`a job slot bound is a positive integer, not ${bound}`);
      }
      bound = { current: bound, start: () => 0, end: () => {}, describe: () => "fixed" };
    }
    this.#limit = bound;
  }

  /**
   * The bound now (a {@linkcode JobLimit}'s current one).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * assert.equal(new JobSlots(8).max, 8);
   * ```
   */
  get max(): number {
    return this.#limit.current;
  }

  /**
   * Jobs holding a slot now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * assert.equal(new JobSlots(4).held, 0);
   * ```
   */
  get held(): number {
    return this.#held.size;
  }

  /**
   * Whether a new job would be refused now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(1);
   * slots.take("a");
   * assert.equal(slots.full, true);
   * ```
   */
  get full(): boolean {
    return this.#held.size - this.stragglers >= this.#limit.current;
  }

  /**
   * Held jobs excused from the bound as stragglers now (at most the bound or
   * {@linkcode STRAGGLERS_EXCUSED_AT_LEAST}, whichever is more; see the module doc).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(1);
   * slots.take("a");
   * assert.equal(slots.stragglers, 0); // a fixed bound excuses none
   * ```
   */
  get stragglers(): number {
    const limit = this.#limit;
    if (limit.counts === undefined) return 0;
    const most = Math.max(limit.current, STRAGGLERS_EXCUSED_AT_LEAST);
    let excused = 0;
    for (const { at } of this.#held.values()) {
      if (excused >= most || limit.counts(at)) break;
      excused++;
    }
    return excused;
  }

  /**
   * Takes a slot for a new job; throws when every slot is held (the job's id already holding one
   * is no new job: true at once).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots, RequesterBusyError } from "./job_slots.ts";
   * const slots = new JobSlots(1);
   * slots.admit("a");
   * assert.throws(() => slots.admit("b"), RequesterBusyError);
   * ```
   * @throws {RequesterBusyError} when {@linkcode JobSlots.full}.
   */
  admit(id: string): void {
    if (this.#held.has(id)) return;
    this.check();
    this.#held.set(id, { at: this.#limit.start(), resumed: false });
  }

  /**
   * Throws when a new job would be refused now (before the job has an id: nothing signed yet).
   *
   * @example
   * ```ts
   * import { JobSlots } from "./job_slots.ts";
   * new JobSlots(1).check(); // room: returns, where a full one throws RequesterBusyError
   * ```
   * @throws {RequesterBusyError} when {@linkcode JobSlots.full}.
   */
  check(): void {
    if (!this.full) return;
    throw new RequesterBusyError(
      `busy: ${this.#held.size} jobs in flight on this requester host` +
        (this.stragglers > 0 ? ` (${this.stragglers} of them stragglers)` : "") +
        `, max ${this.max} ` +
        `(${this.#limit.describe()}; nothing was sent or paid; submit again later)`,
    );
  }

  /**
   * Takes a slot whatever the bound (a job resumed after a restart was accepted before).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(1);
   * slots.take("a");
   * slots.take("b");
   * assert.equal(slots.held, 2);
   * ```
   */
  take(id: string): void {
    if (this.#held.has(id)) return;
    this.#held.set(id, { at: this.#limit.start(), resumed: true });
  }

  /**
   * Frees a job's slot (none held: nothing happens); `how` it ended tells a moving bound
   * (default `other`: says nothing of the load).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(1);
   * slots.take("a");
   * slots.release("a");
   * assert.equal(slots.full, false);
   * ```
   */
  release(id: string, how: JobEnd = "other"): void {
    const held = this.#held.get(id);
    if (held === undefined) return;
    this.#held.delete(id);
    this.#limit.end(held.resumed ? undefined : held.at, how);
  }
}

/** A bound as a setting gives it: a count, or `auto` (roles/requester/adaptive_job_limit.ts). */
export type JobBound = number | "auto";

/** Options for {@linkcode jobSlotsFor}. */
export interface JobSlotsForOptions {
  /** With `auto`: the done jobs' median latency the bound aims at, ms (default 2,000). */
  targetMs?: number;
}

/**
 * The slots of a bound as a setting gives it (`max_jobs`, the harness's `--max-in-flight`):
 * a fixed count, `auto` (an {@linkcode AdaptiveJobLimit}, aiming at `options.targetMs`), or none
 * (undefined: no bound).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobSlotsFor } from "./job_slots.ts";
 * assert.equal(jobSlotsFor(20)?.max, 20);
 * assert.equal(jobSlotsFor("auto")?.max, 16);
 * assert.equal(jobSlotsFor(undefined), undefined);
 * // `auto` aiming at 0.5 s (`max_jobs_target`): its refusals say so
 * const slots = jobSlotsFor("auto", { targetMs: 500 })!;
 * for (let i = 0; i < slots.max; i++) slots.admit(`job${i}`);
 * assert.throws(() => slots.check(), /target 0\.5 s/);
 * ```
 */
export function jobSlotsFor(
  bound: JobBound | undefined,
  options: JobSlotsForOptions = {},
): JobSlots | undefined {
  if (bound === undefined) return undefined;
  return new JobSlots(
    bound === "auto" ? new AdaptiveJobLimit({ targetMs: options.targetMs }) : bound,
  );
}

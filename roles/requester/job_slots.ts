/**
 * A bound on the jobs a requester host follows at once (docs/SCALE.md "Graceful overload"): past
 * it, `Requester.submit` refuses a new job at once with {@linkcode RequesterBusyError}, before
 * anything is signed, written or paid, instead of taking it on and letting it time out behind the
 * others. One `JobSlots` may be shared by every requester of a process (a host of many
 * requesters), so the bound is the host's, not each requester's. Jobs resumed after a restart
 * take their slots whatever the bound (they were accepted before).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** A new job refused because the host already follows as many jobs as it may: temporary. */
export class RequesterBusyError extends RoleError {
  override name = "RequesterBusyError";
}

/** Jobs followed at once, by id, up to a bound; see the module doc. */
export class JobSlots {
  /** The bound. */
  readonly max: number;
  #held = new Set<string>();

  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JobSlots } from "./job_slots.ts";
   * const slots = new JobSlots(64);
   * assert.equal(slots.max, 64);
   * ```
   */
  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`a job slot bound is a positive integer, not ${max}`);
    }
    this.max = max;
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
    return this.#held.size >= this.max;
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
    this.#held.add(id);
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
      `busy: ${this.#held.size} jobs in flight on this requester host, max ${this.max} ` +
        `(nothing was sent or paid; submit again later)`,
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
    this.#held.add(id);
  }

  /**
   * Frees a job's slot (none held: nothing happens).
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
  release(id: string): void {
    this.#held.delete(id);
  }
}

/**
 * A town process's side of "a condition is owed once by the whole town" on a shared store
 * (state/postgres/postgres_paid_conditions.ts; docs/PROTOCOL.md "A payment in doubt on another
 * process"):
 *
 * - after a FULFILL is on this process's books, its condition is recorded as this process's
 *   (`booked`, {@linkcode PaidOnce.paid}), in batches: one statement each
 *   {@linkcode PAID_BATCH_MS} at most, off the packet's path (the FULFILL is relayed without
 *   waiting for it). A batch the store refused is kept and written again (after 1 s, doubling to
 *   a minute; at most {@linkcode MAX_PAID_PENDING} conditions wait, the next are not recorded,
 *   said in the log), and at each start the fulfilled packets the books hold are recorded again
 *   ({@linkcode PaidOnce.recordHeld}: a kill within a batch's time, a batch lost with the process);
 * - a payment in doubt that a peer's fulfillment would prove owed is owed here only if this
 *   process claims its condition ({@linkcode PaidOnce.claim}): held by another process (it booked
 *   or proved it), or booked by this one (a FULFILL of another of its packets), it is not the
 *   packet paid. A claim of this process's own, made before a restart, stands.
 *
 * @module
 */
import type {
  PaidCondition,
  PostgresPaidConditions,
} from "../../../state/postgres/postgres_paid_conditions.ts";

/** The longest a booked condition waits to be recorded. */
export const PAID_BATCH_MS = 20;
/** Most conditions waiting to be recorded while the store refuses them. */
export const MAX_PAID_PENDING = 100_000;
/** Most conditions in one statement. */
const MAX_BATCH = 5_000;
const PRUNE_EVERY_MS = 3_600_000;

/** Options for {@linkcode PaidOnce}. */
export interface PaidOnceOptions {
  conditions: Pick<PostgresPaidConditions, "record" | "claim" | "prune" | "held">;
  /** This process's books' key in the shared store (roles/town/shared_books_id.ts). */
  books: string;
  log: (line: string) => void;
}

/**
 * Records and claims a town process's paid conditions; see the module doc.
 *
 * It needs PostgreSQL: no example that runs here:
 * tests/unit/state/postgres/postgres_paid_conditions_test.ts.
 */
export class PaidOnce {
  readonly books: string;
  readonly #o: PaidOnceOptions;
  #pending: PaidCondition[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #retryMs = 0;
  /** Conditions not recorded since the pending ones reached their bound. */
  #dropped = 0;
  #closed = false;
  readonly #prune: ReturnType<typeof setInterval>;

  constructor(options: PaidOnceOptions) {
    this.#o = options;
    this.books = options.books;
    this.#prune = setInterval(() => {
      options.conditions.prune().catch((err) =>
        options.log(`paid conditions not pruned: ${(err as Error).message}`)
      );
    }, PRUNE_EVERY_MS);
    Deno.unrefTimer(this.#prune);
  }

  /** A FULFILL of this condition is on this process's books: recorded within a batch's time. */
  paid(account: string, condition: string): void {
    if (this.#pending.length >= MAX_PAID_PENDING) {
      if (this.#dropped++ === 0) {
        this.#o.log(
          `paid conditions: ${MAX_PAID_PENDING} wait, the store refusing them: the next are not ` +
            "recorded (a proof elsewhere is decided by its expiry alone)",
        );
      }
      return;
    }
    this.#pending.push({ account, condition });
    this.#schedule(PAID_BATCH_MS);
  }

  /** Records again the fulfilled packets these books hold (at a start). */
  recordHeld(held: readonly PaidCondition[]): Promise<void> {
    for (const { account, condition } of held) this.paid(account, condition);
    return this.flush();
  }

  /** Resolves once the conditions booked so far were written (or refused: kept, logged). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  /**
   * Claims a condition this process would prove owed: undefined when owed here (claimed now, or
   * before a restart), else who holds it (another process's books, or this one's FULFILL).
   * @throws the store's error when it cannot be reached (the payment stays in doubt).
   */
  async claim(account: string, condition: string): Promise<string | undefined> {
    await this.flush();
    const holder = await this.#o.conditions.claim(this.books, account, condition);
    if (holder.books !== this.books) return `the town's process ${holder.books}`;
    return holder.kind === "claimed" ? undefined : "this process (a FULFILL of another packet)";
  }

  /**
   * Of an account's conditions, those some process's books owe (roles/town/btp/owed_answers.ts).
   * @throws the store's error when it cannot be read.
   */
  held(account: string, conditions: string[]): Promise<ReadonlySet<string>> {
    return this.#o.conditions.held(account, conditions);
  }

  /** Records what is pending (once) and stops the timers. */
  async close(): Promise<void> {
    clearInterval(this.#prune);
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer ??= setTimeout(() => void this.flush(), ms);
  }

  async #write(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, MAX_BATCH);
      try {
        const twice = await this.#o.conditions.record(this.books, batch);
        for (const { account, condition } of twice) {
          this.#o.log(
            `peer ${account}: payment ${condition.slice(0, 16)} booked here and held by another ` +
              "process's books (proven there before its FULFILL came here)",
          );
        }
      } catch (err) {
        this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 1_000), 60_000);
        this.#o.log(
          `paid conditions not recorded (${this.#pending.length} wait, again in ` +
            `${this.#retryMs / 1000} s): ${(err as Error).message}`,
        );
        this.#schedule(this.#retryMs);
        return;
      }
      this.#retryMs = 0;
      this.#pending.splice(0, batch.length);
      if (this.#dropped > 0) {
        this.#o.log(`paid conditions recorded again; ${this.#dropped} were not`);
        this.#dropped = 0;
      }
    }
  }
}

/**
 * A town process's side of "a condition is owed once by the whole town" on a shared store
 * (state/postgres/postgres_paid_conditions.ts; docs/PROTOCOL.md "A payment in doubt on another
 * process"):
 *
 * - after a FULFILL is on this process's books, its condition is recorded as this process's
 *   ({@linkcode PaidOnce.paid}), in batches: one statement each {@linkcode PAID_BATCH_MS} at
 *   most, off the packet's path (the FULFILL is relayed without waiting for it);
 * - a payment in doubt that a peer's fulfillment would prove owed is owed here only if this
 *   process claims its condition ({@linkcode PaidOnce.claim}): another process that booked it,
 *   or proved it, holds it, and this packet was not the one paid.
 *
 * A process killed within a batch's time of a FULFILL leaves that condition unrecorded: a proof
 * elsewhere is then decided by the packets' expiries alone, as without this record.
 *
 * @module
 */
import type {
  PaidCondition,
  PostgresPaidConditions,
} from "../../../state/postgres/postgres_paid_conditions.ts";

/** The longest a booked condition waits to be recorded. */
export const PAID_BATCH_MS = 20;

/** Options for {@linkcode PaidOnce}. */
export interface PaidOnceOptions {
  conditions: Pick<PostgresPaidConditions, "record" | "claim">;
  /** This process's books in the shared store: its host and state dir. */
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

  constructor(options: PaidOnceOptions) {
    this.#o = options;
    this.books = options.books;
  }

  /** A FULFILL of this condition is on this process's books: recorded within a batch's time. */
  paid(account: string, condition: string): void {
    this.#pending.push({ account, condition });
    this.#timer ??= setTimeout(() => void this.flush(), PAID_BATCH_MS);
  }

  /** Resolves once every condition booked so far is recorded (or its write failed, logged). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#writing = this.#writing.then(async () => {
      if (batch.length === 0) return;
      try {
        const twice = await this.#o.conditions.record(this.books, batch);
        for (const { account, condition } of twice) {
          this.#o.log(
            `peer ${account}: payment ${condition.slice(0, 16)} booked here and held by another ` +
              "process's books (proven there before its FULFILL came here)",
          );
        }
      } catch (err) {
        this.#o.log(`paid conditions not recorded (${batch.length}): ${(err as Error).message}`);
      }
    });
    return this.#writing;
  }

  /**
   * Claims a condition this process would prove owed: undefined when owed here (claimed now, or
   * before a restart), else the books of the process that holds it.
   * @throws the store's error when it cannot be reached (the payment stays in doubt).
   */
  async claim(account: string, condition: string): Promise<string | undefined> {
    await this.flush();
    const holder = await this.#o.conditions.claim(this.books, account, condition);
    return holder === this.books ? undefined : holder;
  }

  /** Records what is pending and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
  }
}

/**
 * The key of a process's books in the shared store: its host and state dir (one
 * `peer_ledger.jsonl`), the same across its restarts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedBooksId } from "./paid_once.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const id = await sharedBooksId(stateDir); // e.g. "host-a:/tmp/tmpab12cd"
 * assert.equal(id, `${Deno.hostname()}:${await Deno.realPath(stateDir)}`);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function sharedBooksId(stateDir: string): Promise<string> {
  return `${Deno.hostname()}:${await Deno.realPath(stateDir)}`;
}

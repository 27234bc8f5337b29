/**
 * How many pages of stored events the town reads at once, town-wide: a page's rows are held from
 * its query until its events are handed to the socket, and pages read side by side are all held
 * together. Hundreds of connections asking for a page in the same turn of the event loop (each
 * socket that drained a little) made hundreds of pages live at once: the garbage collector's
 * young generation found them alive, moved them to the old one, and the town's memory grew with
 * the number of such sockets rather than with what it sends (docs/OPERATIONS.md "Peers that do
 * not read"). Pages wait their turn in order of asking, those asked `first` (a connection using
 * less than its share of the read budget's time) before the others: a REQ from a client that reads
 * does not wait behind the pages of a hundred sockets that do not. One takes about a millisecond on
 * SQLite, 13-50 ms of wall time on PostgreSQL.
 *
 * @module
 */

/** Options for {@linkcode PageGate}. */
export interface PageGateOptions {
  /** Pages read and not yet sent at once, at least 1. */
  maxPages: number;
}

/**
 * A first-come semaphore on the pages read at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PageGate } from "./page_gate.ts";
 *
 * const gate = new PageGate({ maxPages: 4 });
 * const sent = await gate.run(() => {
 *   assert.equal(gate.reading, 1); // this page is being read
 *   return Promise.resolve(50); // read one page, send it
 * });
 * assert.deepEqual([sent, gate.reading], [50, 0]);
 * ```
 */
export class PageGate {
  readonly #max: number;
  #reading = 0;
  readonly #waiting: (() => void)[] = [];
  /** Waiters asked `first`, served before {@linkcode PageGate.#waiting}. */
  readonly #first: (() => void)[] = [];

  constructor(options: PageGateOptions) {
    this.#max = Math.max(1, options.maxPages);
  }

  /** Pages being read or sent now. */
  get reading(): number {
    return this.#reading;
  }

  /**
   * Runs `page` once fewer than `maxPages` others run, with `first` before the waiters asked
   * without it; its result.
   */
  async run<T>(page: () => Promise<T>, first = false): Promise<T> {
    if (this.#reading >= this.#max) {
      const line = first ? this.#first : this.#waiting;
      await new Promise<void>((resolve) => line.push(resolve));
    } else {
      this.#reading++;
    }
    try {
      return await page();
    } finally {
      // The slot passes to the first waiter as it is: the count stays, no one overtakes it.
      const next = this.#first.shift() ?? this.#waiting.shift();
      if (next === undefined) this.#reading--;
      else next();
    }
  }
}

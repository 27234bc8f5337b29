/**
 * How late the event loop runs a timer, looked at every few milliseconds while someone wants to
 * know: the time the loop spent on work of any kind past the timer's due time. The read budget
 * charges the part of it that no query was charged for (roles/town/relay/read_budget.ts): a
 * PostgreSQL answer's rows are decoded in the socket's handler, out of sight of the query's own
 * timing, and on a loaded machine that took several times what the rows' CPU estimate says
 * (docs/OPERATIONS.md "Peers that do not read").
 *
 * @module
 */

/** Options for {@linkcode LoopLateness}. */
export interface LoopLatenessOptions {
  /** Milliseconds between two looks. */
  tickMs: number;
  /** Told how many milliseconds past its due time the last look ran. */
  late(ms: number): void;
  /** Whether to keep looking (asked at each look; the timer stops when false). */
  wanted(): boolean;
}

/**
 * One unreferenced interval timer, started on demand and stopped once not wanted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoopLateness } from "./loop_lateness.ts";
 *
 * let looks = 0;
 * const lateness = new LoopLateness({ tickMs: 5, late: () => looks++, wanted: () => true });
 * lateness.start();
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * lateness.stop();
 * assert(looks > 0);
 * ```
 */
export class LoopLateness {
  readonly #o: LoopLatenessOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #at = 0;

  constructor(options: LoopLatenessOptions) {
    this.#o = options;
  }

  /** Starts looking, unless already. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#at = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.#at - this.#o.tickMs;
      this.#at = now;
      if (late > 0) this.#o.late(late);
      if (!this.#o.wanted()) this.stop();
    }, this.#o.tickMs);
    this.#timer = timer;
    Deno.unrefTimer(timer);
  }

  /** Stops looking. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

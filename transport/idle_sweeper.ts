/**
 * Closes connections idle in both directions past a timeout, with one timer for all of them
 * (the HTTP front's passed-through requests: transport/http_front.ts).
 *
 * @module
 */

/**
 * One timer for every tracked connection: closes those idle past the timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdleSweeper } from "./idle_sweeper.ts";
 *
 * const sweeper = new IdleSweeper(60_000);
 * let closed = false;
 * const tracked = sweeper.track(() => closed = true);
 * tracked.touch();
 * tracked.done();
 * assert(!closed && sweeper.closedTotal === 0);
 * ```
 */
export class IdleSweeper {
  readonly #timeoutMs: number;
  readonly #entries = new Set<{ last: number; close: () => void }>();
  #timer?: ReturnType<typeof setInterval>;
  /** Connections closed for idling so far. */
  closedTotal = 0;

  /** `timeoutMs`: how long a tracked connection may idle. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Tracks a connection: `touch` on activity, `done` when it ends; `close` on idling. */
  track(close: () => void): { touch: () => void; done: () => void } {
    const entry = { last: Date.now(), close };
    this.#entries.add(entry);
    this.#timer ??= this.#start();
    return {
      touch: () => entry.last = Date.now(),
      done: () => {
        this.#entries.delete(entry);
        if (this.#entries.size === 0) this.stop();
      },
    };
  }

  /** Stops the timer (tracking starts it again). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #start(): ReturnType<typeof setInterval> {
    return setInterval(() => {
      const cutoff = Date.now() - this.#timeoutMs;
      for (const entry of this.#entries) {
        if (entry.last >= cutoff) continue;
        this.#entries.delete(entry);
        this.closedTotal++;
        entry.close();
      }
    }, Math.min(1000, Math.max(10, this.#timeoutMs / 4)));
  }
}

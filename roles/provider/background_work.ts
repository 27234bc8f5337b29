/**
 * A provider's work off the request path: promises it does not wait for (a feedback, a warm-up,
 * a parked request's admission), kept so a stop can wait for them and their errors reported in
 * one place; and its timers, cleared at stop so nothing starts once the node is stopping.
 *
 * @module
 */

/** Options for {@linkcode BackgroundWork}. */
export interface BackgroundWorkOptions {
  /** A tracked promise failed (the node logs it and keeps it as its last error). */
  onError: (err: Error) => void;
}

/**
 * Tracks background promises and timers; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BackgroundWork } from "./background_work.ts";
 *
 * const errors: string[] = [];
 * const work = new BackgroundWork({ onError: (err) => errors.push(err.message) });
 * work.track(Promise.reject(new Error("a write failed")));
 * let ran = false;
 * work.later(1_000, async () => void (ran = true)); // a second later, unless stopped
 * work.stop();
 * work.clearTimers();
 * await work.settled();
 * assert.deepEqual(errors, ["a write failed"]);
 * assert.equal(ran, false);
 * ```
 */
export class BackgroundWork {
  #o: BackgroundWorkOptions;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #pending = new Set<Promise<unknown>>();
  #stopped = false;

  constructor(options: BackgroundWorkOptions) {
    this.#o = options;
  }

  /** The node is stopping: nothing new starts. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Marks the node stopping (timers still armed are cleared by {@linkcode clearTimers}). */
  stop(): void {
    this.#stopped = true;
  }

  /** Reports an error of background work (the `onError` option). */
  error(err: Error): void {
    this.#o.onError(err);
  }

  /** Keeps `p` until it settles; its failure is reported, never thrown. */
  track(p: Promise<unknown>): void {
    const guarded = p.catch((err) => this.error(err as Error));
    this.#pending.add(guarded);
    void guarded.finally(() => this.#pending.delete(guarded));
  }

  /** Runs `fn` (tracked) after `ms`, unless the node is stopping by then. */
  later(ms: number, fn: () => Promise<void>): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) this.track(fn());
    }, ms);
    this.#timers.add(t);
  }

  /** Calls `fn` after `ms` unless the node is stopping by then; returns what cancels it. */
  timer(ms: number, fn: () => void): () => void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(t);
    return () => {
      clearTimeout(t);
      this.#timers.delete(t);
    };
  }

  /** Clears every timer still armed. */
  clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
  }

  /** Resolves once every tracked promise has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

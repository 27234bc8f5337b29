/**
 * When a partial batch leaves: after a delay, or with a delay of 0 at the next turn of the event
 * loop. A zero timer is clamped to about 1 ms and more, on every event of a live subscription
 * (docs/ARCHITECTURE.md, "Pipelines and their permissions").
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/** A scheduled flush. */
export interface FlushTimer {
  /** Stops it from running (no-op once it ran). */
  cancel(): void;
}

/**
 * Runs `fn` after `ms`; with 0 (or less), after the current turn of the event loop.
 *
 * @example
 * ```ts
 * const flush = () => console.log("flushed");
 * const timer = afterDelay(() => flush(), 0);
 * timer.cancel();
 * ```
 */
export function afterDelay(fn: () => void, ms: number): FlushTimer {
  if (ms <= 0) {
    const handle = setImmediate(fn);
    return { cancel: () => clearImmediate(handle) };
  }
  const handle = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(handle) };
}

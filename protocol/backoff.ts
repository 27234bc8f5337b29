/**
 * Retry timing, one rule for every retry in the code base: exponential backoff from a first
 * delay, capped, with jitter so that many clients of a restarted peer do not all come back at
 * once; and {@linkcode sleep}, the one way to wait that an abort cuts short.
 *
 * @module
 */

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Delay of the first retry (attempt 0), milliseconds. */
  initialMs: number;
  /** Largest delay, milliseconds, jitter included (default: no cap). */
  maxMs?: number;
  /** Jitter as a fraction of the delay, each way: 0.2 spreads it over +-20% (default 0.2; 0 none). */
  jitter?: number;
  /** Uniform in [0, 1) (default `Math.random`; tests pass a fixed one). */
  random?: () => number;
}

/**
 * The delay before retry `attempt` (0-based): `initialMs` x 2^attempt, jittered, capped at `maxMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * assert(backoffDelay(0, { initialMs: 1000, maxMs: 30000, random: () => 0.5 }) === 1000);
 * assert(backoffDelay(3, { initialMs: 100, jitter: 0 }) === 800);
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const max = options.maxMs ?? Number.POSITIVE_INFINITY;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const spread = 1 - jitter + 2 * jitter * (options.random ?? Math.random)();
  return Math.min(max, Math.round(base * spread));
}

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (it never rejects: the caller
 * checks its own signal afterwards).
 *
 * @example
 * ```ts
 * import { sleep } from "./backoff.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

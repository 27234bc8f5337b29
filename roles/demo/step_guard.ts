/**
 * A start-up that an abort cuts short and that leaks nothing (roles/demo/paid_job_demo.ts).
 *
 * @module
 */
import { DemoInterruptedError } from "./paid_job_demo_error.ts";

/**
 * Races each start-up step against the abort signal. A resource whose start is still running
 * when the signal aborts is disposed of once it arrives; {@linkcode StepGuard.settled} waits
 * for those disposals so nothing outlives the demo.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StepGuard } from "./step_guard.ts";
 * import { DemoInterruptedError } from "./paid_job_demo_error.ts";
 *
 * const stop = new AbortController();
 * const guard = new StepGuard(stop.signal);
 * const dir = await guard.step(Deno.makeTempDir(), (d) => Deno.remove(d));
 * // Aborted while a step still starts: the step rejects, its directory is removed on arrival.
 * let late = "";
 * const starting = guard.step(Deno.makeTempDir().then((d) => (late = d)), (d) => Deno.remove(d));
 * stop.abort();
 * await assert.rejects(starting, DemoInterruptedError);
 * await guard.settled();
 * await assert.rejects(Deno.stat(late), Deno.errors.NotFound);
 * await Deno.remove(dir); // the step that finished before the abort is the caller's
 * ```
 */
export class StepGuard {
  readonly #signal?: AbortSignal;
  readonly #late: Promise<void>[] = [];
  constructor(signal?: AbortSignal) {
    this.#signal = signal;
  }

  /** `work`, or {@linkcode DemoInterruptedError} once the signal aborts (`dispose` then frees it). */
  step<T>(work: Promise<T>, dispose?: (value: T) => Promise<void>): Promise<T> {
    const signal = this.#signal;
    if (!signal) return work;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (dispose) this.#late.push(work.then(dispose, () => {}).catch(() => {}));
        else work.catch(() => {});
        reject(new DemoInterruptedError("interrupted"));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
    });
  }

  /** Resolves once every resource that arrived after the abort is disposed of. */
  async settled(): Promise<void> {
    await Promise.all(this.#late);
  }
}

/**
 * Starting something in steps: when a step fails, what the earlier steps started is undone
 * before the failure goes on, so a node that did not start leaves no socket, worker, lock or
 * chain process behind.
 *
 * @module
 */

/**
 * Runs `step`; if it throws, awaits `undo`, then rethrows the step's error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { undoOnFailure } from "./undo_on_failure.ts";
 *
 * // A step that opened a listener, then failed: the listener is closed before the error goes on.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const failed = undoOnFailure(
 *   () => Promise.reject(new Error("the relay refused")),
 *   () => Promise.resolve(listener.close()),
 * );
 * await assert.rejects(failed, /the relay refused/);
 * assert.throws(() => listener.close(), Deno.errors.BadResource); // already closed
 * assert.equal(await undoOnFailure(() => Promise.resolve(7), () => Promise.resolve()), 7);
 * ```
 */
export async function undoOnFailure<T>(
  step: () => Promise<T>,
  undo: () => Promise<unknown>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await undo();
    throw err;
  }
}

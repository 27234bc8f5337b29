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
 * import { Requester } from "./requester/requester_node.ts";
 *
 * declare const options: ConstructorParameters<typeof Requester>[0];
 * const node = new Requester(options);
 * await undoOnFailure(() => node.open(), () => node.close());
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

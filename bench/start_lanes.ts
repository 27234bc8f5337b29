/**
 * Starts many agents in one host process of the scale harness a few at a time, as lanes: each
 * lane starts the next agent as soon as its last one is up, so one slow start (a town busy
 * answering, a retry after 2 s) holds only its lane, not a whole batch (docs/SCALE.md).
 *
 * @module
 */

/**
 * Calls `start` on every item with at most `lanes` calls in flight; rejects with the first
 * failure (the calls in flight still end).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startInLanes } from "./start_lanes.ts";
 *
 * const started: number[] = [];
 * await startInLanes([1, 2, 3], 2, async (n) => {
 *   started.push(n);
 *   await new Promise((r) => setTimeout(r, n));
 * });
 * assert.deepEqual(started.sort(), [1, 2, 3]);
 * ```
 */
export async function startInLanes<T>(
  items: readonly T[],
  lanes: number,
  start: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      try {
        await start(items[next++]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, items.length)) }, lane));
}

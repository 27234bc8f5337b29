/**
 * Work that must not overlap per key (a channel's file, a peer's payouts, a job's events, a
 * packet's proof), run one call at a time per key in the order called; other keys run alongside.
 * A key's queue is let go once it runs empty, so the keys held are those with work now.
 *
 * @module
 */

/**
 * Runs each key's calls one after another; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyedTurns } from "./keyed_turns.ts";
 *
 * const turns = new KeyedTurns();
 * const order: string[] = [];
 * const slow = (name: string, ms: number) => () =>
 *   new Promise<void>((resolve) => setTimeout(() => resolve(void order.push(name)), ms));
 * await Promise.all([turns.run("a", slow("a1", 20)), turns.run("a", slow("a2", 0))]);
 * assert.deepEqual(order, ["a1", "a2"]); // a2 waited for a1
 * await turns.idle();
 * assert.equal(turns.size, 0);
 * ```
 */
export class KeyedTurns {
  /** Per key, the last call queued, settled (its failure is its caller's). */
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` after the calls queued for `key`; resolves or rejects as it does. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(() => {}, () => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  /** Resolves once every call queued so far has settled. */
  async idle(): Promise<void> {
    await Promise.all(this.#tails.values());
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}

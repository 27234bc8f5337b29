/**
 * The ids of events already handled, bounded (oldest forgotten first): a node following several
 * towns gets the same event from each and handles it once, whichever town delivered it first
 * (docs/ARCHITECTURE.md, "Several towns"); a relay source delivers an event its subscription got
 * twice once (stages/relay_source.ts); a town process hands on once what it hears twice.
 *
 * @module
 */

/** Options for {@linkcode SeenEventIds}. */
export interface SeenEventIdsOptions {
  /** Ids remembered at most. Default 100,000 (~10 MB). */
  max?: number;
}

/** A bounded set of event ids, oldest forgotten first. */
export class SeenEventIds {
  #ids = new Set<string>();
  #max: number;

  /**
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SeenEventIds } from "./seen_event_ids.ts";
   *
   * const seen = new SeenEventIds({ max: 1 });
   * assert.equal(seen.firstTime("ab".repeat(32)), true);
   * assert.equal(seen.firstTime("ab".repeat(32)), false);
   * assert.equal(seen.has("ab".repeat(32)), true);
   * seen.firstTime("cd".repeat(32)); // past max: the oldest id is forgotten
   * assert.equal(seen.size, 1);
   * assert.equal(seen.firstTime("ab".repeat(32)), true);
   * ```
   */
  constructor(options: SeenEventIdsOptions = {}) {
    this.#max = options.max ?? 100_000;
  }

  /** True the first time `id` is offered (and remembers it), false after. */
  firstTime(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#max) this.#ids.delete(this.#ids.values().next().value!);
    return true;
  }

  /** Whether `id` was offered before (and is still remembered); remembers nothing. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#ids.size;
  }
}

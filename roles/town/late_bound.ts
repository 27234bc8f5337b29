/**
 * A value a town's start-up step needs before the step that makes it has run: the router reaches
 * the BTP server and the parent link started after it, the private listener the forward handler
 * made once the peer routes are open (docs/ARCHITECTURE.md "The roles"). The step that needs it
 * takes the cell and reads {@linkcode LateBound.current} when called; the later step binds it.
 *
 * @module
 */

/** A cell bound once a later start-up step made its value; undefined until then. */
export class LateBound<T> {
  #value: T | undefined;

  /**
   * The value bound, or undefined while the step that makes it has not run.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LateBound } from "./late_bound.ts";
   *
   * const port = new LateBound<number>();
   * assert.equal(port.current, undefined);
   * port.bind(7100);
   * assert.equal(port.current, 7100);
   * ```
   */
  get current(): T | undefined {
    return this.#value;
  }

  /**
   * Binds the value: readers see it from now on.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LateBound } from "./late_bound.ts";
   *
   * const port = new LateBound<number>();
   * port.bind(7100);
   * assert.equal(port.current, 7100);
   * ```
   */
  bind(value: T): void {
    this.#value = value;
  }
}

/**
 * The root of the node's named error classes (docs/ARCHITECTURE.md "Errors"): each layer has one
 * abstract base that extends it, and each named error class extends its layer's base (or a more
 * specific one).
 *
 * @module
 */

/**
 * An error of this node: `name` is its class name (set explicitly in each class, so it survives
 * bundling), `code` a stable machine-readable string, and `cause` (from the options, as for
 * `Error`) the error underneath, when there is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TurnpikeError } from "./turnpike_error.ts";
 *
 * class PingTimeoutError extends TurnpikeError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong", { cause: new Error("closed") });
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class TurnpikeError extends Error {
  /**
   * A stable kebab-case string naming the failure, for logs, JSON and matching: the class's
   * `name` without `Error` (`BtpAuthError`: `btp-auth`), unless the class defines its own (a
   * code from the wire, such as an ILP error code, or from the CLI's table of codes).
   */
  declare readonly code: string;
}

// On the prototype, so that a class may define `code` as its own field (docs/ARCHITECTURE.md
// "Errors"); `name` is read when `code` is, after the subclass has set it.
Object.defineProperty(TurnpikeError.prototype, "code", {
  get(this: TurnpikeError): string {
    return this.name.replace(/Error$/, "").replace(/(?<=[a-z0-9])(?=[A-Z])/g, "-").toLowerCase();
  },
  configurable: true,
});

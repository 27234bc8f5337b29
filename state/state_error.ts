/**
 * The base of the state layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the state layer (a record, a lock, a store or a ledger that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateError } from "./state_error.ts";
 *
 * class PingTimeoutError extends StateError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert(e instanceof StateError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class StateError extends TurnpikeError {}

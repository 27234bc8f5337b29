/**
 * The base of the chain layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the chain layer (a contract, a transaction or a claim that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChainError } from "./chain_error.ts";
 *
 * class PingTimeoutError extends ChainError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert.ok(e instanceof ChainError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class ChainError extends TurnpikeError {}

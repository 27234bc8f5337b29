/**
 * The base of the stages layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the stages layer (a stage's input or options that failed; the pipeline's own errors about a stage are `StageError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StagesError } from "./stages_error.ts";
 *
 * class PingTimeoutError extends StagesError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert.ok(e instanceof StagesError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class StagesError extends TurnpikeError {}

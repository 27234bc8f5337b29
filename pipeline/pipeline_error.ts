/**
 * The base of the pipeline layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the pipeline layer (a pipeline's spec or one of its stages that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PipelineError } from "./pipeline_error.ts";
 *
 * class PingTimeoutError extends PipelineError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert.ok(e instanceof PipelineError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class PipelineError extends TurnpikeError {}

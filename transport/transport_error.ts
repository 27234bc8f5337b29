/**
 * The base of the transport layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the transport layer (a connection, a request or a worker that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransportError } from "./transport_error.ts";
 *
 * class PingTimeoutError extends TransportError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert.ok(e instanceof TransportError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class TransportError extends TurnpikeError {}

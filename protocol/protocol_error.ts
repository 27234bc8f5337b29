/**
 * The base of the protocol layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "./turnpike_error.ts";

/**
 * An error of the protocol layer (a message that does not parse or does not check out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "./protocol_error.ts";
 *
 * class PingTimeoutError extends ProtocolError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("not a ping");
 * assert.ok(e instanceof ProtocolError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class ProtocolError extends TurnpikeError {}

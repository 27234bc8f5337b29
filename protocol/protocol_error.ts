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
 * import { ProtocolError } from "./protocol_error.ts";
 *
 * class PingTimeoutError extends ProtocolError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("not a ping");
 * e instanceof ProtocolError; // true
 * e.code; // "ping-timeout"
 * ```
 */
export abstract class ProtocolError extends TurnpikeError {}

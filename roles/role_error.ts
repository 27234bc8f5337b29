/**
 * The base of the roles layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the roles layer (what a provider, a requester, a town or a channel could not do).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoleError } from "./role_error.ts";
 *
 * class PingTimeoutError extends RoleError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert(e instanceof RoleError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class RoleError extends TurnpikeError {}

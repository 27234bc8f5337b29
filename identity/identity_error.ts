/**
 * The base of the identity layer's error classes (docs/ARCHITECTURE.md "Errors").
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/**
 * An error of the identity layer (a key, a wallet or a passphrase that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdentityError } from "./identity_error.ts";
 *
 * class PingTimeoutError extends IdentityError {
 *   override name = "PingTimeoutError";
 * }
 * const e = new PingTimeoutError("no pong");
 * assert.ok(e instanceof IdentityError);
 * assert.equal(e.code, "ping-timeout");
 * ```
 */
export abstract class IdentityError extends TurnpikeError {}

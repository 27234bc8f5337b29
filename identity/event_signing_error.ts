/**
 * The error of the event signers that call libsecp256k1 directly
 * (identity/native_event_signer.ts, identity/wasm_event_signer.ts).
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";

/**
 * A signing call into libsecp256k1 failed: a secret key out of range or of the wrong length, or
 * an allocation or call of the library that did not succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventSigningError } from "./event_signing_error.ts";
 *
 * const e = new EventSigningError("a secret key is 32 bytes");
 * assert.equal(e.code, "event-signing");
 * ```
 */
export class EventSigningError extends IdentityError {
  override name = "EventSigningError";
}

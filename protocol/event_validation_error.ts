/**
 * The error of an event that is not a valid Nostr event, apart from the verifier that also
 * throws it (protocol/event_verifier.ts loads libsecp256k1's WebAssembly as it is imported):
 * decoding a kept event without checking it again needs only this (docs/SCALE.md "A command's
 * start").
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/**
 * An event that is not a valid Nostr event; `reason` is machine-readable.
 *
 * @example
 * ```ts
 * import { EventValidationError } from "./event_validation_error.ts";
 *
 * const err = new EventValidationError("bad-shape:kind", "not an integer");
 * console.log(err.reason, err.message); // bad-shape:kind bad-shape:kind: not an integer
 * ```
 */
export class EventValidationError extends ProtocolError {
  /** `"EventValidationError"`: explicit so it survives bundling and worker messages. */
  override name = "EventValidationError";
  /** `bad-id`, `bad-sig`, `bad-shape:<field>`, `too-large`. */
  reason: string;
  /** The message is `reason`, then `: detail` when given. */
  constructor(reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.reason = reason;
  }
}

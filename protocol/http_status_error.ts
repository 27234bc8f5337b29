/**
 * An error that carries the HTTP status to answer (or that was answered) with: the base of the
 * Blossom store's, routes' and client's errors and of the HTTP head reader's.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/**
 * A failure with an HTTP status; subclasses name where it came from.
 *
 * @example
 * ```ts
 * import { HttpStatusError } from "./http_status_error.ts";
 *
 * class QuotaError extends HttpStatusError {
 *   override name = "QuotaError";
 * }
 * const e = new QuotaError(413, "over quota");
 * e.status; // 413
 * ```
 */
export class HttpStatusError extends ProtocolError {
  /** `"HttpStatusError"`: explicit so it survives bundling. */
  override name = "HttpStatusError";
  /** `status`: the HTTP status (0: no answer came). */
  constructor(readonly status: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Which of a BTP client's errors (transport/btp_client.ts) leave a request's outcome unknown. A
 * request fails either before its frame is on the socket (not connected, the send refused, the client closed,
 * the packet not encodable, a claim not signed): the peer never saw it; or after, with no answer
 * (none in time, the socket dropped or the client closed under it): the peer may have acted on
 * it, a PREPARE may have been FULFILLed and its answer lost. A payment failing the second way is
 * in doubt, never rejected (docs/PROTOCOL.md, "The receipt question").
 *
 * @module
 */
import { BtpClosedInFlightError, BtpConnectionLostError, BtpTimeoutError } from "./btp_client.ts";

/**
 * Whether `err` failed a request after its frame left (no answer came): only
 * {@linkcode BtpTimeoutError} (the timer starts once the frame is on the socket),
 * {@linkcode BtpConnectionLostError} and {@linkcode BtpClosedInFlightError} (the requests on the
 * socket when it went). Any other error, or a BTP ERROR answer, left nothing at the peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mayHaveArrived } from "./btp_unanswered.ts";
 * import { BtpConnectionError, BtpTimeoutError } from "./btp_client.ts";
 *
 * assert.equal(mayHaveArrived(new BtpTimeoutError("no answer in 30000 ms")), true);
 * assert.equal(mayHaveArrived(new BtpConnectionError("not connected")), false);
 * ```
 */
export function mayHaveArrived(err: unknown): boolean {
  return err instanceof BtpTimeoutError || err instanceof BtpConnectionLostError ||
    err instanceof BtpClosedInFlightError;
}

/**
 * `payment-in-doubt` (docs/PROTOCOL.md "Payment channels and claims"): after a crash between
 * forwarding a payment to a peer and recording its answer, the town asks the peer, when it
 * connects, which of those payments it fulfilled. The request (the town's BTP MESSAGE, no `ilp`)
 * lists the packets' execution conditions; the RESPONSE (same protocol name) lists the
 * fulfillments the peer holds for any of them. The town records each as owed once its SHA-256
 * matches (state/payments/peer_ledger.ts); a fulfillment proves a payment, so nothing else is trusted.
 *
 * Both are JSON: `{"conditions": ["<64 hex>", ...]}` and `{"fulfillments": ["<64 hex>", ...]}`,
 * at most {@linkcode MAX_IN_DOUBT} entries each.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** BTP protocol data name of the request and its answer. */
export const IN_DOUBT_PROTOCOL_NAME = "payment-in-doubt";

/** Most conditions (or fulfillments) in one message. */
export const MAX_IN_DOUBT = 256;

/** A `payment-in-doubt` message that cannot be read. */
export class InDoubtMessageError extends ProtocolError {
  override name = "InDoubtMessageError";
}

const HEX32 = /^[0-9a-f]{64}$/;

/**
 * Encodes a list (`conditions` or `fulfillments`) of 32-byte hex values.
 *
 * @example
 * ```ts
 * const data = encodeInDoubt("conditions", ["ab".repeat(32)]);
 * ```
 */
export function encodeInDoubt(
  field: "conditions" | "fulfillments",
  values: readonly string[],
): Uint8Array {
  if (values.length > MAX_IN_DOUBT) {
    throw new InDoubtMessageError(`more than ${MAX_IN_DOUBT} ${field}`);
  }
  for (const v of values) {
    if (!HEX32.test(v)) {
      throw new InDoubtMessageError(`${field}: ${v.slice(0, 70)} is not 32 hex bytes`);
    }
  }
  return new TextEncoder().encode(JSON.stringify({ [field]: values }));
}

/**
 * Decodes a list encoded by {@linkcode encodeInDoubt}; refuses anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInDoubt, encodeInDoubt } from "./payment_in_doubt.ts";
 *
 * const bytes = encodeInDoubt("fulfillments", ["ab".repeat(32)]);
 * assert.deepEqual(decodeInDoubt("fulfillments", bytes), ["ab".repeat(32)]);
 * ```
 * @throws {InDoubtMessageError} on a malformed message.
 */
export function decodeInDoubt(field: "conditions" | "fulfillments", data: Uint8Array): string[] {
  if (data.byteLength > MAX_IN_DOUBT * 70 + 64) {
    throw new InDoubtMessageError("payment-in-doubt message too large");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new InDoubtMessageError("payment-in-doubt message is not JSON");
  }
  const values = (parsed as Record<string, unknown> | null)?.[field];
  if (!Array.isArray(values)) {
    throw new InDoubtMessageError(`payment-in-doubt message has no ${field} list`);
  }
  if (values.length > MAX_IN_DOUBT) {
    throw new InDoubtMessageError(
      `payment-in-doubt message has more than ${MAX_IN_DOUBT} ${field}`,
    );
  }
  for (const v of values) {
    if (typeof v !== "string" || !HEX32.test(v)) {
      throw new InDoubtMessageError(`${field}: an entry is not 32 hex bytes`);
    }
  }
  return values as string[];
}

/**
 * `payment-in-doubt` (docs/PROTOCOL.md "Payment channels and claims"): after a crash between
 * forwarding a payment to a peer and recording its answer, the town asks the peer, when it
 * connects, which of those payments it fulfilled. The request (the town's BTP MESSAGE, no `ilp`)
 * lists the packets' execution conditions; the RESPONSE (same protocol name) lists the
 * fulfillments the peer holds for any of them. The town records each as owed once its SHA-256
 * matches (state/payments/peer_ledger.ts); a fulfillment proves a payment. The expiry beside it
 * (below) is the peer's word, trusted to tell which packet paid: a peer that lies about it can only
 * be owed twice after a crash, or not at all (docs/PROTOCOL.md "A payment in doubt on another
 * process").
 *
 * Both are JSON: `{"conditions": ["<64 hex>", ...]}` and `{"fulfillments": ["<64 hex>", ...],
 * "expiresAt": ["<ISO 8601>" | null, ...]}`, at most {@linkcode MAX_IN_DOUBT} entries each.
 * `expiresAt[i]` is the expiry of the PREPARE the peer fulfilled with `fulfillments[i]` (null, or
 * no list from an older peer: not known). A peer fulfills an invoice once, but the town may have
 * forwarded its condition more than once (a payer's PREPARE sent again after a crash cut the first
 * off, by another process of the town): the expiry says which of those packets the fulfillment
 * paid, so the others are not owed (docs/PROTOCOL.md "A payment in doubt on another process").
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** BTP protocol data name of the request and its answer. */
export const IN_DOUBT_PROTOCOL_NAME = "payment-in-doubt";

/** Most conditions (or fulfillments) in one message. */
export const MAX_IN_DOUBT = 256;

/**
 * The longest message read, a question or an answer (its fulfillments and their expiries).
 *
 * @example
 * ```ts
 * import { MAX_IN_DOUBT, MAX_IN_DOUBT_BYTES } from "./payment_in_doubt.ts";
 *
 * // A fulfillment (66 bytes quoted, a comma) and an expiry (26 quoted, a comma) an entry.
 * if (MAX_IN_DOUBT_BYTES < MAX_IN_DOUBT * (67 + 27)) throw new Error("too small for an answer");
 * ```
 */
export const MAX_IN_DOUBT_BYTES = MAX_IN_DOUBT * 100 + 64;

/** A `payment-in-doubt` message that cannot be read. */
export class InDoubtMessageError extends ProtocolError {
  override name = "InDoubtMessageError";
}

const HEX32 = /^[0-9a-f]{64}$/;
/** `Date.toISOString()`'s shape: the expiry as an ILP packet carries it, to the millisecond. */
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A time as `Date.toISOString()` writes it: its shape, and a day and hour that exist. */
function isIsoMs(at: string): boolean {
  if (!ISO_MS.test(at)) return false;
  const ms = Date.parse(at);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === at;
}

/** A fulfillment a peer shows, with the expiry of the PREPARE it fulfilled when it knows it. */
export interface InDoubtProof {
  /** 32 bytes, hex. */
  fulfillment: string;
  /** The fulfilled PREPARE's expiry, `Date.toISOString()`; undefined: not known. */
  expiresAt?: string;
}

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
  if (data.byteLength > MAX_IN_DOUBT_BYTES) {
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

/**
 * Encodes a peer's answer: the fulfillments it holds, each with its PREPARE's expiry when known.
 *
 * @example
 * ```ts
 * import { encodeInDoubtAnswer } from "./payment_in_doubt.ts";
 *
 * const data = encodeInDoubtAnswer([
 *   { fulfillment: "ab".repeat(32), expiresAt: "2026-11-28T19:56:31.839Z" },
 * ]);
 * ```
 * @throws {InDoubtMessageError} on more than {@linkcode MAX_IN_DOUBT} proofs or a malformed one.
 */
export function encodeInDoubtAnswer(proofs: readonly InDoubtProof[]): Uint8Array {
  const fulfillments = proofs.map((p) => p.fulfillment);
  encodeInDoubt("fulfillments", fulfillments); // checks them
  const expiresAt = proofs.map((p) => {
    if (p.expiresAt !== undefined && !isIsoMs(p.expiresAt)) {
      throw new InDoubtMessageError(`expiresAt: ${p.expiresAt.slice(0, 40)} is not an ISO time`);
    }
    return p.expiresAt ?? null;
  });
  return new TextEncoder().encode(JSON.stringify({ fulfillments, expiresAt }));
}

/**
 * Decodes a peer's answer ({@linkcode encodeInDoubtAnswer}, or an older peer's
 * `{"fulfillments": [...]}`, whose expiries are not known); refuses anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInDoubtAnswer, encodeInDoubt, encodeInDoubtAnswer } from "./payment_in_doubt.ts";
 *
 * const proof = { fulfillment: "ab".repeat(32), expiresAt: "2026-11-28T19:56:31.839Z" };
 * assert.deepEqual(decodeInDoubtAnswer(encodeInDoubtAnswer([proof])), [proof]);
 * // An older peer's answer: the fulfillments alone.
 * const older = encodeInDoubt("fulfillments", [proof.fulfillment]);
 * assert.deepEqual(decodeInDoubtAnswer(older), [{ fulfillment: proof.fulfillment }]);
 * // A day that does not exist is no expiry.
 * const impossible = JSON.stringify({ ...JSON.parse(new TextDecoder().decode(older)),
 *   expiresAt: ["2026-02-30T10:00:00.000Z"] });
 * assert.throws(() => decodeInDoubtAnswer(new TextEncoder().encode(impossible)));
 * ```
 * @throws {InDoubtMessageError} on a malformed answer.
 */
export function decodeInDoubtAnswer(data: Uint8Array): InDoubtProof[] {
  const fulfillments = decodeInDoubt("fulfillments", data);
  const { expiresAt } = JSON.parse(new TextDecoder().decode(data)) as { expiresAt?: unknown };
  if (expiresAt === undefined) return fulfillments.map((fulfillment) => ({ fulfillment }));
  if (!Array.isArray(expiresAt) || expiresAt.length !== fulfillments.length) {
    throw new InDoubtMessageError(
      "payment-in-doubt answer: expiresAt does not match its fulfillments",
    );
  }
  return fulfillments.map((fulfillment, i) => {
    const at: unknown = expiresAt[i];
    if (at === null) return { fulfillment };
    if (typeof at !== "string" || !isIsoMs(at)) {
      throw new InDoubtMessageError("payment-in-doubt answer: an expiresAt is not an ISO time");
    }
    return { fulfillment, expiresAt: at };
  });
}

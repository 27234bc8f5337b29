/**
 * What the town answers to a paid write of an event it already stores (docs/PROTOCOL.md "The
 * town's write side"): an F99 REJECT, so the fee is not taken a second time, whose message is
 * `duplicate: already have this event` (NIP-01's `OK true "duplicate:"`) and whose data is JSON
 * `{"reason": "duplicate", "eventId", "proof"}`.
 *
 * A REJECT is not authenticated the way a FULFILL is (any connector on the path could write
 * one), so the town proves it knows the packet's fulfillment without revealing it:
 * `proof = hex(HMAC-SHA256(fulfillment, "turnpike duplicate v1:" + eventId))`. Only the town and
 * the sender (who derived the condition from the same shared secret) can compute it; the sender
 * counts the write as stored only when the proof checks.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ILP_ERROR, type IlpReply } from "./ilp_packet.ts";

/** The REJECT's code: final, no money moved. */
export const DUPLICATE_WRITE_CODE = ILP_ERROR.finalApplicationError;
/** The REJECT's message (as NIP-01's OK prefix). */
export const DUPLICATE_WRITE_MESSAGE = "duplicate: already have this event";

const encoder = new TextEncoder();
const PROOF_LABEL = "turnpike duplicate v1:";

/** Options for {@linkcode duplicateWriteData} and {@linkcode isDuplicateWrite}. */
export interface DuplicateWriteOptions {
  /** The event's id (64 hex). */
  eventId: string;
  /** The paid write's fulfillment (the PREPARE's condition is its SHA-256). */
  fulfillment: Uint8Array;
}

function proofOf(options: DuplicateWriteOptions): string {
  return bytesToHex(
    hmac(sha256, options.fulfillment, encoder.encode(PROOF_LABEL + options.eventId)),
  );
}

/**
 * The data of the town's duplicate REJECT.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { duplicateWriteData } from "./duplicate_write_reply.ts";
 * const data = duplicateWriteData({ eventId: "ab".repeat(32), fulfillment: new Uint8Array(32) });
 * assert(JSON.parse(new TextDecoder().decode(data)).reason === "duplicate");
 * ```
 */
export function duplicateWriteData(options: DuplicateWriteOptions): Uint8Array {
  return encoder.encode(
    JSON.stringify({ reason: "duplicate", eventId: options.eventId, proof: proofOf(options) }),
  );
}

/**
 * True when `reply` is the town's duplicate REJECT for this write, with a proof that checks:
 * the event is stored and nothing was paid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DUPLICATE_WRITE_CODE,
 *   DUPLICATE_WRITE_MESSAGE,
 *   duplicateWriteData,
 *   isDuplicateWrite,
 * } from "./duplicate_write_reply.ts";
 * const write = { eventId: "ab".repeat(32), fulfillment: new Uint8Array(32) };
 * const reply = {
 *   type: "reject" as const,
 *   code: DUPLICATE_WRITE_CODE,
 *   triggeredBy: "g.town",
 *   message: DUPLICATE_WRITE_MESSAGE,
 *   data: duplicateWriteData(write),
 * };
 * assert(isDuplicateWrite(reply, write));
 * assert(!isDuplicateWrite(reply, { ...write, fulfillment: new Uint8Array(32).fill(1) }));
 * ```
 */
export function isDuplicateWrite(reply: IlpReply, options: DuplicateWriteOptions): boolean {
  if (reply.type !== "reject" || reply.code !== DUPLICATE_WRITE_CODE) return false;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(reply.data));
  } catch {
    return false;
  }
  if (typeof body !== "object" || body === null) return false;
  const { reason, eventId, proof } = body as Record<string, unknown>;
  return reason === "duplicate" && eventId === options.eventId && typeof proof === "string" &&
    timingSafeEqual(proof, proofOf(options));
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The condition scheme turnpike uses to pay (docs/PROTOCOL.md, as STREAM does it, RFC 29):
 * `fulfillment = HMAC-SHA256(HMAC-SHA256(sharedSecret, "ilp_stream_fulfillment"), data)` and
 * `condition = SHA-256(fulfillment)`. Only a holder of the shared secret (the receiver, which
 * handed it out over SPSP) can produce the fulfillment for a given packet data.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { ProtocolError } from "./protocol_error.ts";

const FULFILLMENT_GENERATION_STRING = new TextEncoder().encode("ilp_stream_fulfillment");

/** The shared secret or a fulfillment/condition has the wrong shape. */
export class IlpFulfillmentError extends ProtocolError {
  /** `"IlpFulfillmentError"`: explicit so it survives bundling. */
  override name = "IlpFulfillmentError";
}

/** A fulfillment with its condition. */
export interface FulfillmentPair {
  /** 32 bytes. */
  fulfillment: Uint8Array;
  /** 32 bytes: SHA-256 of the fulfillment. */
  condition: Uint8Array;
}

/**
 * The per-secret HMAC key of the fulfillments ({@linkcode importFulfillmentKey}): 32 bytes,
 * `HMAC-SHA256(sharedSecret, "ilp_stream_fulfillment")`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const key = await importFulfillmentKey(new Uint8Array(32));
 * assert.ok(key instanceof FulfillmentKey);
 * assert.equal(key.bytes.byteLength, 32);
 * ```
 */
export class FulfillmentKey {
  /** The derived key's bytes. */
  readonly bytes: Uint8Array;
  /** Wraps derived key bytes; use {@linkcode importFulfillmentKey} to derive them. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

// node:crypto's HMAC and SHA-256 are native and synchronous: WebCrypto's `subtle` answers each
// call through a promise, a key import and an async op, several times the CPU of the hash on
// 32 bytes (docs/SCALE.md "Where a no-op job's CPU goes, round 3").
function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

/**
 * Derives the per-secret fulfillment key once, so that many packets under one secret cost one
 * HMAC each. Secrets must be 32 bytes (RFC 9 / SPSP).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sharedSecret = crypto.getRandomValues(new Uint8Array(32));
 * const data = new TextEncoder().encode("kind: 1");
 * const key = await importFulfillmentKey(sharedSecret); // once per secret, for many packets
 * const { condition } = await fulfillmentFor(key, data);
 * assert.deepEqual(condition, (await fulfillmentFor(sharedSecret, data)).condition);
 * ```
 */
// deno-lint-ignore require-await
export async function importFulfillmentKey(sharedSecret: Uint8Array): Promise<FulfillmentKey> {
  if (sharedSecret.byteLength !== 32) {
    throw new IlpFulfillmentError(
      `shared secret must be 32 bytes, got ${sharedSecret.byteLength}`,
    );
  }
  return new FulfillmentKey(hmac(sharedSecret, FULFILLMENT_GENERATION_STRING));
}

/**
 * The least time a PREPARE must have left for a receiver to take it (its line on disk, then the
 * FULFILL): a FULFILL after the packet's expiry is refused by the town, which books the packet
 * rejected, while the receiver would have booked the money taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MIN_FULFILL_TIME_LEFT_MS } from "./ilp_fulfillment.ts";
 *
 * const expiresAt = new Date(Date.now() + 30_000);
 * assert(expiresAt.getTime() - Date.now() >= MIN_FULFILL_TIME_LEFT_MS);
 * ```
 */
export const MIN_FULFILL_TIME_LEFT_MS = 2_000;

/**
 * SHA-256 of a fulfillment.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const fulfillment = crypto.getRandomValues(new Uint8Array(32));
 * const condition = await conditionOf(fulfillment); // SHA-256
 * assert.equal(await checkFulfillment(fulfillment, condition), true);
 * ```
 */
// deno-lint-ignore require-await
export async function conditionOf(fulfillment: Uint8Array): Promise<Uint8Array> {
  if (fulfillment.byteLength !== 32) {
    throw new IlpFulfillmentError(`fulfillment must be 32 bytes, got ${fulfillment.byteLength}`);
  }
  return new Uint8Array(createHash("sha256").update(fulfillment).digest());
}

/**
 * The fulfillment and condition for packet `data` under a shared secret (or a key from
 * {@linkcode importFulfillmentKey}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sharedSecret = crypto.getRandomValues(new Uint8Array(32));
 * const toonBytes = new TextEncoder().encode("kind: 1");
 * const { fulfillment, condition } = await fulfillmentFor(sharedSecret, toonBytes);
 * assert.deepEqual(condition, await conditionOf(fulfillment)); // the receiver derives the same
 * ```
 */
export async function fulfillmentFor(
  secretOrKey: Uint8Array | FulfillmentKey,
  data: Uint8Array,
): Promise<FulfillmentPair> {
  const key = secretOrKey instanceof Uint8Array
    ? await importFulfillmentKey(secretOrKey)
    : secretOrKey;
  const fulfillment = hmac(key.bytes, data);
  return { fulfillment, condition: await conditionOf(fulfillment) };
}

/**
 * True when SHA-256(fulfillment) equals the condition (constant time in the compared bytes).
 * A fulfillment of the wrong length is simply false.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const { fulfillment, condition } = await fulfillmentFor(new Uint8Array(32), new Uint8Array([1]));
 * assert.equal(await checkFulfillment(fulfillment, condition), true);
 * assert.equal(await checkFulfillment(new Uint8Array(32), condition), false); // reject: F05
 * ```
 */
export async function checkFulfillment(
  fulfillment: Uint8Array,
  condition: Uint8Array,
): Promise<boolean> {
  if (fulfillment.byteLength !== 32 || condition.byteLength !== 32) return false;
  const actual = await conditionOf(fulfillment);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= actual[i] ^ condition[i];
  return diff === 0;
}

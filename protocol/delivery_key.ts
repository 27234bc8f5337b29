/**
 * The key of a result paid on delivery, sealed with the delivery invoice's fulfillment
 * (docs/PROTOCOL.md "Paid on delivery"): a provider encrypts a result with a random key, and
 * publishes that key wrapped (AES-KW, RFC 3394, through WebCrypto) with the 32-byte preimage of
 * its delivery invoice's condition. The FULFILL that pays the invoice carries the preimage, and
 * so opens the key: no key without payment, no payment without the key.
 *
 * The wrapped key travels inside the result's NIP-44 encrypted content, for its requester
 * only: anyone may ask a provider for a paid invoice's receipt (the fulfillment), but without
 * the wrapped key it opens nothing.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ProtocolError } from "./protocol_error.ts";

/** A sealed key that does not open with this fulfillment, or is not a sealed key at all. */
export class DeliveryKeyError extends ProtocolError {
  override name = "DeliveryKeyError";
}

const HEX64 = /^[0-9a-f]{64}$/;
/** AES-KW of a 32-byte key: 40 bytes. */
const SEALED_HEX = /^[0-9a-f]{80}$/;

async function kek(fulfillment: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  if (fulfillment.length !== 32) throw new DeliveryKeyError("a fulfillment is 32 bytes");
  return await crypto.subtle.importKey("raw", fulfillment as BufferSource, "AES-KW", false, [
    usage,
  ]);
}

/**
 * Wraps a 32-byte result key (hex) with a delivery fulfillment: 80 hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDeliveryKey, sealDeliveryKey } from "./delivery_key.ts";
 *
 * const fulfillment = crypto.getRandomValues(new Uint8Array(32));
 * const key = "11".repeat(32);
 * const sealed = await sealDeliveryKey(key, fulfillment);
 * assert(await openDeliveryKey(sealed, fulfillment) === key);
 * ```
 */
export async function sealDeliveryKey(keyHex: string, fulfillment: Uint8Array): Promise<string> {
  if (!HEX64.test(keyHex)) throw new DeliveryKeyError("a result key is 64 hex");
  const key = await crypto.subtle.importKey(
    "raw",
    hexToBytes(keyHex) as BufferSource,
    "AES-GCM",
    true,
    ["encrypt"],
  );
  const sealed = await crypto.subtle.wrapKey("raw", key, await kek(fulfillment, "wrapKey"), {
    name: "AES-KW",
  });
  return bytesToHex(new Uint8Array(sealed));
}

/**
 * Opens a sealed result key with the fulfillment its payment returned. Throws
 * {@linkcode DeliveryKeyError} when it does not open (another fulfillment, altered bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeliveryKeyError, openDeliveryKey, sealDeliveryKey } from "./delivery_key.ts";
 *
 * const sealed = await sealDeliveryKey("22".repeat(32), new Uint8Array(32).fill(1));
 * try {
 *   await openDeliveryKey(sealed, new Uint8Array(32).fill(2));
 * } catch (err) {
 *   assert(err instanceof DeliveryKeyError);
 * }
 * ```
 */
export async function openDeliveryKey(sealedHex: string, fulfillment: Uint8Array): Promise<string> {
  if (!SEALED_HEX.test(sealedHex)) throw new DeliveryKeyError("a sealed key is 80 hex");
  let key: CryptoKey;
  try {
    key = await crypto.subtle.unwrapKey(
      "raw",
      hexToBytes(sealedHex) as BufferSource,
      await kek(fulfillment, "unwrapKey"),
      { name: "AES-KW" },
      "AES-GCM",
      true,
      ["decrypt"],
    );
  } catch (err) {
    if (err instanceof DeliveryKeyError) throw err;
    throw new DeliveryKeyError("the sealed key does not open with this fulfillment");
  }
  return bytesToHex(new Uint8Array(await crypto.subtle.exportKey("raw", key)));
}

/**
 * The result key a sealed key holds, opened with the first of `fulfillments` (hex, a job's paid
 * invoices') that opens it: the delivery's; undefined while none does (the delivery not paid).
 *
 * @example
 * ```ts
 * import { releasedDeliveryKey, sealDeliveryKey } from "./delivery_key.ts";
 *
 * const deposit = "01".repeat(32), delivery = "02".repeat(32);
 * const sealed = await sealDeliveryKey("44".repeat(32), new Uint8Array(32).fill(2));
 * await releasedDeliveryKey(sealed, [deposit]); // undefined
 * await releasedDeliveryKey(sealed, [deposit, delivery]); // "44...44"
 * ```
 */
export async function releasedDeliveryKey(
  sealedHex: string,
  fulfillments: readonly string[],
): Promise<string | undefined> {
  for (const fulfillment of fulfillments) {
    const key = await openDeliveryKey(sealedHex, hexToBytes(fulfillment)).catch(() => undefined);
    if (key !== undefined) return key;
  }
  return undefined;
}

/**
 * The content a provider publishes for a result paid on delivery: a JSON object's `key`
 * member (64 hex) replaced by `sealedKey`; any other content unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sealResultContent } from "./delivery_key.ts";
 *
 * const out = await sealResultContent(
 *   JSON.stringify({ verdict: "pass", key: "33".repeat(32) }),
 *   crypto.getRandomValues(new Uint8Array(32)),
 * );
 * assert(!out.includes("33".repeat(32)) && out.includes("sealedKey"));
 * ```
 */
export async function sealResultContent(content: string, fulfillment: Uint8Array): Promise<string> {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch {
    return content;
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return content;
  const { key, ...rest } = doc as Record<string, unknown>;
  if (typeof key !== "string") return content;
  return JSON.stringify({ ...rest, sealedKey: await sealDeliveryKey(key, fulfillment) });
}

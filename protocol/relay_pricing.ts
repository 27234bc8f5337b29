/**
 * What the town charges to accept an event (docs/PROTOCOL.md): price per byte times the length of
 * the TOON bytes sent, with per-kind prices and free writes for the relay's owner. Amounts are
 * bigint base units (ILP amounts are uint64; numbers would lose precision past 2^53).
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** Crosstown's default: 10 base units per byte of TOON. */
export const DEFAULT_PRICE_PER_BYTE = 10n;

/** Largest ILP amount (uint64). */
const MAX_AMOUNT = 0xffff_ffff_ffff_ffffn;

/** The relay's price list. */
export interface RelayPricing {
  /** Base units per TOON byte. Default {@linkcode DEFAULT_PRICE_PER_BYTE}. */
  pricePerByte?: bigint;
  /** Per-kind price per byte, overriding `pricePerByte` (e.g. `{ 5100: 20n, 10032: 0n }`). */
  kindPricePerByte?: Readonly<Record<number, bigint>>;
  /** Hex pubkey of the relay's owner, whose events are free. */
  ownerPubkey?: string;
}

/** What is being priced. */
export interface PricedEvent {
  /** Event kind, integer 0-65535; selects a per-kind price when one is set. */
  kind: number;
  /** Hex pubkey of the author. */
  pubkey: string;
  /** Length of the TOON bytes (UTF-8), not of the string in UTF-16 units. */
  toonByteLength: number;
}

/** A price list that cannot be applied (negative price, amount over uint64, bad length). */
export class RelayPricingError extends ProtocolError {
  /** `"RelayPricingError"`: explicit so it survives bundling. */
  override name = "RelayPricingError";
}

/**
 * Amount owed for an event, in base units.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(priceEvent({ kind: 1, pubkey: "ab..", toonByteLength: 300 }, {}), 3000n);
 * assert.equal(priceEvent({ kind: 1, pubkey: "ab..", toonByteLength: 300 }, { kindPricePerByte: { 1: 2n } }), 600n);
 * ```
 */
export function priceEvent(event: PricedEvent, pricing: RelayPricing = {}): bigint {
  if (!Number.isSafeInteger(event.toonByteLength) || event.toonByteLength < 0) {
    throw new RelayPricingError(`invalid TOON byte length ${event.toonByteLength}`);
  }
  if (
    pricing.ownerPubkey !== undefined &&
    pricing.ownerPubkey.toLowerCase() === event.pubkey.toLowerCase()
  ) return 0n;
  const perByte = Object.hasOwn(pricing.kindPricePerByte ?? {}, event.kind)
    ? pricing.kindPricePerByte![event.kind]
    : pricing.pricePerByte ?? DEFAULT_PRICE_PER_BYTE;
  if (perByte < 0n) throw new RelayPricingError(`negative price per byte ${perByte}`);
  const amount = perByte * BigInt(event.toonByteLength);
  if (amount > MAX_AMOUNT) throw new RelayPricingError(`amount ${amount} exceeds uint64`);
  return amount;
}

/**
 * Amount owed for TOON text (measures its UTF-8 length).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const pubkey = "ab".repeat(32);
 * const price = priceToon("kind: 1\n...", { kind: 1, pubkey }, { pricePerByte: 10n });
 * assert.equal(price, 110n); // 11 bytes of TOON
 * ```
 */
export function priceToon(
  toon: string | Uint8Array,
  event: { kind: number; pubkey: string },
  pricing: RelayPricing = {},
): bigint {
  const toonByteLength = typeof toon === "string"
    ? new TextEncoder().encode(toon).byteLength
    : toon.byteLength;
  return priceEvent({ ...event, toonByteLength }, pricing);
}

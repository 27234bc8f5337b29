/**
 * What the town charges to keep a blob: bulk bytes, priced per MiB for the town's retention
 * period, not per byte like relay events (docs/PROTOCOL.md "Blobs"). At the event price (10 base
 * units per TOON byte, asset scale 6) a 50 MB build context would cost 500 USD; at the default
 * blob price it costs under a cent.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";

/** Default blob price: base units per MiB stored (200: 50 MB for 0.0095 at asset scale 6). */
export const DEFAULT_BLOB_PRICE_PER_MIB = 200n;

const MIB = 1024n * 1024n;
const MAX_AMOUNT = 0xffff_ffff_ffff_ffffn;

/** A blob size or price that cannot be priced. */
export class BlobPricingError extends ProtocolError {
  override name = "BlobPricingError";
}

/**
 * The amount owed for `size` bytes: size x price per MiB, rounded up to a whole base unit.
 *
 * @example
 * ```ts
 * priceBlob(50_000_000, 200n); // 9537n
 * ```
 */
export function priceBlob(size: number, pricePerMiB: bigint = DEFAULT_BLOB_PRICE_PER_MIB): bigint {
  if (!Number.isSafeInteger(size) || size < 0) throw new BlobPricingError(`bad blob size ${size}`);
  if (pricePerMiB < 0n) throw new BlobPricingError(`negative blob price ${pricePerMiB}`);
  const amount = (BigInt(size) * pricePerMiB + MIB - 1n) / MIB;
  if (amount > MAX_AMOUNT) throw new BlobPricingError(`amount ${amount} exceeds uint64`);
  return amount;
}

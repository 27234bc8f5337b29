/**
 * Human-readable ILP amounts. Packets and invoices carry integers in the asset's smallest unit
 * (`assetScale` decimal places): `5000` at scale 6 is 0.005 of the asset, and printing it as
 * "5000 M2M" would read as five thousand tokens.
 *
 * @module
 */

/** Options for {@linkcode formatAssetAmount}. */
export interface AssetAmountOptions {
  /** Asset code, e.g. `USD` or `M2M`. */
  assetCode: string;
  /** Decimal places of the smallest unit (ILP asset scale, 0-255). */
  assetScale: number;
}

/**
 * Formats an amount in base units as `<decimal> <code>` with trailing zeros trimmed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(formatAssetAmount(5000n, { assetCode: "M2M", assetScale: 6 }), "0.005 M2M");
 * assert.equal(formatAssetAmount(12n, { assetCode: "XRP", assetScale: 0 }), "12 XRP");
 * ```
 */
export function formatAssetAmount(amount: bigint, options: AssetAmountOptions): string {
  const scale = options.assetScale;
  if (!Number.isInteger(scale) || scale < 0 || scale > 255) {
    throw new RangeError(`asset scale ${scale} is not an integer from 0 to 255`);
  }
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, "");
  const text = fraction ? `${whole}.${fraction}` : whole;
  return `${negative ? "-" : ""}${text} ${options.assetCode}`;
}

/** Options for {@linkcode formatRecordedAmount}. */
export interface RecordedAmountOptions {
  /** Asset code as recorded, e.g. `M2M`. */
  asset: string;
  /** Decimal places, when the record has them (records written before scales were kept have none). */
  scale?: number;
}

/**
 * Formats a recorded amount (a decimal string or bigint of base units) in the asset's units with
 * its code when the scale is known; without a scale it says plainly that the figure is in base
 * units, so `45800` is never read as 45,800 of the asset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(formatRecordedAmount("45800", { asset: "M2M", scale: 6 }), "0.0458 M2M");
 * assert.equal(formatRecordedAmount("45800", { asset: "M2M" }), "45800 M2M base units");
 * ```
 */
export function formatRecordedAmount(
  amount: bigint | string,
  options: RecordedAmountOptions,
): string {
  const value = typeof amount === "bigint" ? amount : BigInt(amount);
  if (options.scale === undefined) return `${value} ${options.asset} base units`;
  return formatAssetAmount(value, { assetCode: options.asset, assetScale: options.scale });
}

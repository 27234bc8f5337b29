/**
 * One asset per town: the token its channels settle in, with the symbol and decimals its
 * contract answers (read at `town up`, chain/chain_connection.ts), or M2M at scale 6 with no
 * chain. An `asset_code`/`asset_scale` that differs from the settlement token is refused when
 * the town starts: packets would count in one unit and channels pay in another.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

/** The asset a town counts in when it settles on no chain: the network's token. */
export const DEFAULT_TOWN_ASSET = { assetCode: "M2M", assetScale: 6 } as const;

/** A town's asset as config says it. */
export interface TownAsset {
  assetCode: string;
  assetScale: number;
  /** True when config names none: the token the town settles in, if any, read at start. */
  assetFromToken: boolean;
}

/**
 * The town's asset from its `[town]` table: `asset_code`/`asset_scale` when given, else the
 * default; `assetFromToken` when config names no asset (the settlement token's, if any, once the
 * town has read it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const asset = townAsset({});
 * assert.equal(asset.assetFromToken, true);
 * ```
 */
export function townAsset(toml: Record<string, unknown>): TownAsset {
  if (toml.asset_code !== undefined && typeof toml.asset_code !== "string") {
    throw new ConfigError("town.asset_code must be a string", { key: "assetCode" });
  }
  const assetCode = (toml.asset_code as string | undefined) ?? DEFAULT_TOWN_ASSET.assetCode;
  const assetScale = toml.asset_scale === undefined
    ? DEFAULT_TOWN_ASSET.assetScale
    : Number(toml.asset_scale);
  if (!Number.isInteger(assetScale) || assetScale < 0 || assetScale > 255) {
    throw new ConfigError("town.asset_scale must be 0..255", { key: "assetScale" });
  }
  const named = toml.asset_code !== undefined || toml.asset_scale !== undefined;
  return { assetCode, assetScale, assetFromToken: !named };
}

/**
 * The asset a town settling on `chain` counts in, given its token's facts from the contract:
 * the token's symbol and decimals; an asset config named that differs is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const token = { tokenSymbol: "TKN", tokenDecimals: 18 };
 * const asset = { assetCode: "M2M", assetScale: 6, assetFromToken: true };
 * assert.deepEqual(townAssetOfToken(asset, token, "evm:base:8453"), { assetCode: "TKN", assetScale: 18 });
 * ```
 * @throws {ConfigError} when config named another asset than the token.
 */
export function townAssetOfToken(
  asset: TownAsset,
  token: { tokenSymbol: string; tokenDecimals: number },
  chain: string,
): { assetCode: string; assetScale: number } {
  const ofToken = { assetCode: token.tokenSymbol, assetScale: token.tokenDecimals };
  if (asset.assetFromToken) return ofToken;
  if (asset.assetCode !== ofToken.assetCode || asset.assetScale !== ofToken.assetScale) {
    throw new ConfigError(
      `town.asset_code/asset_scale ${asset.assetCode}/${asset.assetScale} differ from the token ` +
        `the town settles in on ${chain} (${token.tokenSymbol}, ${token.tokenDecimals} decimals, ` +
        "as its contract says): one asset per town; remove asset_code/asset_scale or set them " +
        "to the token's",
      { key: "assetScale" },
    );
  }
  return ofToken;
}

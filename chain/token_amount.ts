/**
 * Token amounts for people: base units shown with the token's decimals and symbol.
 *
 * @module
 */

/** The token facts an amount is shown with (a ChainConfig or a channel record fits). */
export interface TokenFacts {
  tokenDecimals: number;
  tokenSymbol: string;
}

/**
 * An amount of a token for people, e.g. `50 M2M` or `4.5 M2M`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTokens } from "./token_amount.ts";
 *
 * assert.equal(formatTokens(50_000_000n, { tokenDecimals: 6, tokenSymbol: "M2M" }), "50 M2M");
 * ```
 */
export function formatTokens(amount: bigint, token: TokenFacts): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const scale = 10n ** BigInt(token.tokenDecimals);
  const frac = (abs % scale).toString().padStart(token.tokenDecimals, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${abs / scale}${frac ? `.${frac}` : ""} ${token.tokenSymbol}`;
}

/**
 * The order in which a requester prefers providers (docs/PROTOCOL.md "Trust assertions (NIP-85)",
 * "Ranking providers"): online first; then trust in bands of {@linkcode TRUST_BAND} points
 * (0-9.9, 10-19.9, ...), the higher band first; within a band the cheaper first; then the higher
 * trust; then by name. A band, not the exact rank, because a point or two is one job's decay and
 * not worth paying for, while a band is a history; price decides only among providers whose
 * records are alike. `providers` lists in this order and `job submit --provider auto` takes the
 * first offer within the bid.
 *
 * @module
 */
import type { KindOffer, ProviderListing } from "./provider_directory.ts";

/** Points of trust that make one band. */
export const TRUST_BAND = 10;

const band = (trust: number) => Math.floor(Math.min(trust, 100) / TRUST_BAND);
const byPrice = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compares two candidates by the rule of the module doc: negative when `a` comes first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareByTrustAndPrice } from "./provider_ranking.ts";
 *
 * const trusted = { trust: 31, price: 100n, name: "x" };
 * const cheap = { trust: 0, price: 50n, name: "y" };
 * assert(compareByTrustAndPrice(trusted, cheap) < 0);
 * ```
 */
export function compareByTrustAndPrice(
  a: { trust: number; price: bigint; name: string },
  b: { trust: number; price: bigint; name: string },
): number {
  return band(b.trust) - band(a.trust) || byPrice(a.price, b.price) || b.trust - a.trust ||
    a.name.localeCompare(b.name);
}

/**
 * The offers in the order of preference, `trust` by provider pubkey (0 when absent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankOffers } from "./provider_ranking.ts";
 *
 * const offer = (name: string, price: bigint) => {
 *   const skill = { name: "echo", kinds: [5601], price: String(price) };
 *   return { provider: { pubkey: name, name, skills: [skill], online: true }, skill, price };
 * };
 * const [best] = rankOffers([offer("cheap", 50n), offer("trusted", 100n)], new Map([["trusted", 30]]));
 * assert(best.provider.name === "trusted");
 * ```
 */
export function rankOffers(
  offers: readonly KindOffer[],
  trust: ReadonlyMap<string, number>,
): KindOffer[] {
  const key = (o: KindOffer) => ({
    trust: trust.get(o.provider.pubkey) ?? 0,
    price: o.price,
    name: o.provider.name,
  });
  return [...offers].sort((a, b) => compareByTrustAndPrice(key(a), key(b)));
}

/**
 * The providers in the order of preference: online first, then by trust band and their
 * cheapest skill's price (of the skills they list).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankProviders } from "./provider_ranking.ts";
 *
 * const listing = (name: string, price: string, online: boolean) => ({
 *   pubkey: name,
 *   name,
 *   skills: [{ name: "echo", kinds: [5601], price }],
 *   online,
 * });
 * const ranked = rankProviders([listing("away", "1", false), listing("here", "9", true)], new Map());
 * assert(ranked[0].name === "here");
 * ```
 */
export function rankProviders(
  providers: readonly ProviderListing[],
  trust: ReadonlyMap<string, number>,
): ProviderListing[] {
  const key = (p: ProviderListing) => ({
    trust: trust.get(p.pubkey) ?? 0,
    price: p.skills.map((s) => BigInt(s.price)).reduce((m, x) => (x < m ? x : m), 2n ** 128n),
    name: p.name,
  });
  return [...providers].sort((a, b) =>
    Number(b.online) - Number(a.online) || compareByTrustAndPrice(key(a), key(b))
  );
}

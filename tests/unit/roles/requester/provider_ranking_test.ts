/** roles/requester/provider_ranking.ts: providers by trust band, then price. */
import { assertEquals } from "../../../../harness/assert.ts";
import { rankOffers, rankProviders } from "../../../../roles/requester/provider_ranking.ts";
import type { ProviderListing } from "../../../../roles/requester/provider_directory.ts";

const listing = (name: string, price: number, online = true): ProviderListing => ({
  pubkey: name.repeat(64).slice(0, 64),
  name,
  skills: [{ name: "echo", kinds: [5601], price: String(price) }],
  online,
});
const [a, b, c, d] = [
  listing("a", 300),
  listing("b", 100),
  listing("c", 200),
  listing("d", 50, false),
];

Deno.test("provider ranking: a higher trust band first however dear, within a band the cheaper, offline last", () => {
  const trust = new Map([[a.pubkey, 34], [b.pubkey, 12], [c.pubkey, 18.5], [d.pubkey, 90]]);
  assertEquals(rankProviders([d, c, b, a], trust).map((p) => p.name), ["a", "b", "c", "d"]);
  // Untrusted alike: price alone decides.
  assertEquals(rankProviders([a, c, b], new Map()).map((p) => p.name), ["b", "c", "a"]);
});

Deno.test("provider ranking: offers in the same order, each at its own price", () => {
  const offers = [a, b, c].map((p) => ({
    provider: p,
    skill: p.skills[0],
    price: BigInt(p.skills[0].price),
  }));
  const trust = new Map([[c.pubkey, 10]]);
  assertEquals(rankOffers(offers, trust).map((o) => o.provider.name), ["c", "b", "a"]);
});

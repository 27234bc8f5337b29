/**
 * Matching one event against one NIP-01 filter: the town's own matcher
 * (`protocol/nostr_filter.ts`) and nostr-tools' `matchFilter`. The town
 * matches every live event against every open subscription's filters
 * (roles/town/subscription_hub.ts), so this is its fan-out's inner loop; the figures are in
 * docs/ARCHITECTURE.md ("Matching filters").
 *
 * Run: deno bench bench/nostr_filter_bench.ts
 *
 * @module
 */
import { matchFilter as libraryMatch } from "nostr-tools/filter";
import { matchFilter } from "../protocol/nostr_filter.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";

const event: NostrEvent = {
  id: "a".repeat(64),
  pubkey: "b".repeat(64),
  created_at: 1_700_000_000,
  kind: 6100,
  tags: [["e", "c".repeat(64)], ["p", "d".repeat(64)], ["t", "x"]],
  content: "result",
  sig: "e".repeat(128),
};
// A subscriber waiting for results to its job: matches.
const filter: NostrFilter = {
  kinds: [6100, 7000],
  "#e": ["c".repeat(64)],
  since: 1_600_000_000,
};
// Another subscriber's: fails on its tag. Each bench iteration is 1,000 matches, half each.
const other: NostrFilter = { kinds: [6100, 7000], "#e": ["f".repeat(64)] };

Deno.bench("nostr-tools matchFilter", { group: "match" }, () => {
  for (let i = 0; i < 1000; i++) libraryMatch(i % 2 ? filter : other, event);
});
Deno.bench("protocol/nostr_filter.ts matchFilter", { group: "match", baseline: true }, () => {
  for (let i = 0; i < 1000; i++) matchFilter(event, i % 2 ? filter : other);
});

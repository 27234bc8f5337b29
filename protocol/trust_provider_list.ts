/**
 * NIP-85's trusted service provider list (kind 10040), as turnpike publishes and reads it
 * (docs/PROTOCOL.md "Trust assertions (NIP-85)"): a replaceable event whose `30382:rank` tags
 * each name a key the author lets speak for it about pubkeys' ranks, with a relay hint:
 *
 *     ["30382:rank", "<service pubkey>", "<relay url>"]
 *
 * A reader counts a service's kind 30382 assertions as the voice of the roster key whose list
 * names it, never as a voice of their own: a service nobody on the roster names is no one's word.
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import type { TrustAssertion } from "./trust_assertion.ts";

/** NIP-85: the trusted service provider list. */
export const TRUST_PROVIDER_LIST_KIND = 10040;
/** The tag of a service for kind 30382 `rank`. */
export const RANK_SERVICE_TAG = "30382:rank";
/** Most services read from one list (the rest ignored). */
export const MAX_RANK_SERVICES = 8;

/** A service a list names for ranks. */
export interface RankService {
  /** Its pubkey (hex). */
  pubkey: string;
  /** Where its assertions are (a relay URL), or "". */
  relay: string;
}

const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * The unsigned kind 10040 naming `services` for kind 30382 ranks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustProviderListEvent } from "./trust_provider_list.ts";
 *
 * const event = trustProviderListEvent([{ pubkey: "ab".repeat(32), relay: "wss://town.example" }]);
 * assert.deepEqual(event.tags, [["30382:rank", "ab".repeat(32), "wss://town.example"]]);
 * ```
 */
export function trustProviderListEvent(
  services: readonly RankService[],
  createdAt = Math.floor(Date.now() / 1000),
): EventTemplate {
  return {
    kind: TRUST_PROVIDER_LIST_KIND,
    created_at: createdAt,
    tags: services.map((s) =>
      s.relay === "" ? [RANK_SERVICE_TAG, s.pubkey] : [RANK_SERVICE_TAG, s.pubkey, s.relay]
    ),
    content: "",
  };
}

/**
 * The rank services a kind 10040 names, in its order: hex keys only, each once, at most
 * {@linkcode MAX_RANK_SERVICES}; none when the event is not a kind 10040. Other tags (other
 * kinds' metrics) say nothing of job receipts and are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankServices, trustProviderListEvent } from "./trust_provider_list.ts";
 *
 * const template = trustProviderListEvent([{ pubkey: "cd".repeat(32), relay: "" }]);
 * template.tags.push(["30382:rank", "not a key"], ["30382:followers", "ef".repeat(32)]);
 * const event = { ...template, pubkey: "ab".repeat(32), id: "0".repeat(64), sig: "0".repeat(128) };
 * assert.deepEqual(rankServices(event).map((s) => s.pubkey), ["cd".repeat(32)]);
 * ```
 */
export function rankServices(event: NostrEvent): RankService[] {
  if (event.kind !== TRUST_PROVIDER_LIST_KIND) return [];
  const services: RankService[] = [];
  const seen = new Set<string>();
  for (const tag of event.tags) {
    if (services.length >= MAX_RANK_SERVICES) break;
    const [name, pubkey, relay] = tag;
    if (name !== RANK_SERVICE_TAG || !HEX_KEY.test(pubkey ?? "") || seen.has(pubkey)) continue;
    seen.add(pubkey);
    services.push({ pubkey, relay: typeof relay === "string" ? relay : "" });
  }
  return services;
}

/**
 * The newest kind 10040 of each author among `events`, by author.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newestProviderLists, trustProviderListEvent } from "./trust_provider_list.ts";
 *
 * const signed = (service: string, createdAt: number) => ({
 *   ...trustProviderListEvent([{ pubkey: service, relay: "" }], createdAt),
 *   pubkey: "ab".repeat(32),
 *   id: "0".repeat(64),
 *   sig: "0".repeat(128),
 * });
 * const lists = newestProviderLists([signed("cd".repeat(32), 2), signed("ef".repeat(32), 1)]);
 * assert.equal(lists.get("ab".repeat(32))?.[0].pubkey, "cd".repeat(32));
 * ```
 */
export function newestProviderLists(events: Iterable<NostrEvent>): Map<string, RankService[]> {
  const newest = new Map<string, NostrEvent>();
  for (const event of events) {
    if (event.kind !== TRUST_PROVIDER_LIST_KIND) continue;
    const seen = newest.get(event.pubkey);
    if (seen === undefined || seen.created_at < event.created_at) newest.set(event.pubkey, event);
  }
  return new Map([...newest].map(([author, event]) => [author, rankServices(event)]));
}

/** Options for {@linkcode voicesOfRoster}. */
export interface VoicesOfRosterOptions {
  /** The reader's roster: the only keys whose word counts. */
  roster: ReadonlySet<string>;
  /** Each roster key's rank services (its newest kind 10040), by author. */
  lists: ReadonlyMap<string, readonly RankService[]>;
  /** The reader: a service that is the reader itself speaks for no one (its word is its receipts). */
  self?: string;
}

/**
 * The assertions a reader counts, each as a roster key's word: a roster key's own, as they are,
 * and a service's, once for each roster key whose list names it, its `author` that key and `via`
 * the service. Any other author's assertion is dropped. Which of a key's words counts (its own or
 * a service's, the newest) is protocol/roster_trust.ts's rule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { voicesOfRoster } from "./trust_provider_list.ts";
 *
 * const [bob, service, stranger, x] = ["b", "5", "e", "c"].map((c) => c.repeat(64));
 * const said = [
 *   { author: service, subject: x, rank: 80, createdAt: 1 },
 *   { author: stranger, subject: x, rank: 100, createdAt: 1 },
 * ];
 * const lists = new Map([[bob, [{ pubkey: service, relay: "" }]]]);
 * const voices = voicesOfRoster(said, { roster: new Set([bob]), lists });
 * assert.deepEqual(voices, [{ author: bob, subject: x, rank: 80, createdAt: 1, via: service }]);
 * ```
 */
export function voicesOfRoster(
  assertions: readonly TrustAssertion[],
  o: VoicesOfRosterOptions,
): TrustAssertion[] {
  const speaksFor = new Map<string, string[]>();
  for (const [member, services] of o.lists) {
    if (!o.roster.has(member)) continue;
    for (const { pubkey } of services) {
      if (pubkey === member || pubkey === o.self) continue;
      speaksFor.set(pubkey, [...speaksFor.get(pubkey) ?? [], member]);
    }
  }
  const voices: TrustAssertion[] = [];
  for (const a of assertions) {
    if (o.roster.has(a.author)) voices.push(a);
    for (const member of speaksFor.get(a.author) ?? []) {
      if (member !== a.subject) voices.push({ ...a, author: member, via: a.author });
    }
  }
  return voices;
}

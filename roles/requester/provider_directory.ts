/**
 * Who serves what: the providers a town knows, from their NIP-89 announcements (kind 31990: the
 * kinds, each skill's name and price) and heartbeats (kind 30315 with an `expiration`: online
 * while it has not expired). What `job submit` checks before it pays anything, and what names a
 * job by its skill (`job submit wordcount`).
 *
 * @module
 */
import {
  HANDLER_KIND,
  type HandlerSkill,
  parseHandlerAnnouncement,
} from "../../protocol/nip89_handler.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { queryRelays, type RelayQueryFailure } from "../../transport/relay_query_many.ts";
import { HEARTBEAT_KIND, isHeartbeatAlive } from "../../protocol/provider_heartbeat.ts";

/** One provider as the town knows it. */
export interface ProviderListing {
  pubkey: string;
  name: string;
  /** Its skills; from `kinds` alone (named after the kind, priced as announced) for announcements without them. */
  skills: HandlerSkill[];
  /** The asset its prices are in, when announced. */
  assetCode?: string;
  assetScale?: number;
  /** A heartbeat that has not expired. */
  online: boolean;
  /** Unix seconds of its newest heartbeat, if any. */
  lastSeen?: number;
}

/** A skill of an online provider that serves a kind, with its price. */
export interface KindOffer {
  provider: ProviderListing;
  skill: HandlerSkill;
  price: bigint;
}

/** Options for {@linkcode fetchProviderDirectory}. */
export interface ProviderDirectoryOptions {
  relayUrl: string;
  /** More towns read too (`[towns.<name>]`); the directory is over all of them. */
  moreRelays?: string[];
  /** Told about a town that could not be read (while another was). */
  onRelayFailure?: (failure: RelayQueryFailure) => void;
  /** Unix seconds (default now). */
  nowSec?: number;
  timeoutMs?: number;
  /** Most announcements read (default 500). */
  maxProviders?: number;
}

/**
 * Reads the providers from the town: announcements and heartbeats in one query.
 *
 * It reads towns: no example that runs here: tests/e2e/network_view_test.ts.
 * @throws {RelayQueryError} when the relay cannot be read.
 */
export async function fetchProviderDirectory(
  o: ProviderDirectoryOptions,
): Promise<ProviderListing[]> {
  const max = o.maxProviders ?? 500;
  const { events, failures } = await queryRelays([o.relayUrl, ...(o.moreRelays ?? [])], [
    { kinds: [HANDLER_KIND], limit: max },
    { kinds: [HEARTBEAT_KIND], limit: max },
  ], { timeoutMs: o.timeoutMs, maxEvents: 2 * max, maxBytes: 8 * 1024 * 1024 });
  for (const failure of failures) o.onRelayFailure?.(failure);
  return buildProviderDirectory(events, o.nowSec ?? Math.floor(Date.now() / 1000));
}

/**
 * The directory from announcement and heartbeat events (newest announcement per provider;
 * malformed ones skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildProviderDirectory } from "./provider_directory.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { buildHandlerAnnouncement } from "../../protocol/nip89_handler.ts";
 * import { HEARTBEAT_KIND } from "../../protocol/provider_heartbeat.ts";
 *
 * const now = 1_700_000_000;
 * const provider = generateSecretKey();
 * const metadata = { name: "mayor", paymentMethods: ["ilp"], price: { amount: "10", per: "job" } };
 * const announce = buildHandlerAnnouncement({ d: "mayor", kinds: [5600], metadata, createdAt: now });
 * const beat = { kind: HEARTBEAT_KIND, created_at: now, tags: [["expiration", String(now + 60)]], content: "" };
 * const events = [finalizeEvent(announce, provider), finalizeEvent(beat, provider)];
 * const [listing] = buildProviderDirectory(events, now);
 * assert.deepEqual([listing.name, listing.online, listing.skills[0].kinds], ["mayor", true, [5600]]);
 * ```
 */
export function buildProviderDirectory(
  events: readonly NostrEvent[],
  nowSec: number,
): ProviderListing[] {
  const beats = new Map<string, number>();
  const alive = new Set<string>();
  for (const e of events) {
    if (e.kind !== HEARTBEAT_KIND) continue;
    beats.set(e.pubkey, Math.max(beats.get(e.pubkey) ?? 0, e.created_at));
    if (isHeartbeatAlive(e, nowSec)) alive.add(e.pubkey);
  }
  const newest = new Map<string, NostrEvent>();
  for (const e of events) {
    if (e.kind !== HANDLER_KIND) continue;
    const seen = newest.get(e.pubkey);
    if (seen === undefined || seen.created_at < e.created_at) newest.set(e.pubkey, e);
  }
  const listings: ProviderListing[] = [];
  for (const [pubkey, e] of newest) {
    let parsed;
    try {
      parsed = parseHandlerAnnouncement(e);
    } catch {
      continue;
    }
    const { metadata, kinds } = parsed;
    const fallbackPrice = metadata.price?.amount ?? "0";
    listings.push({
      pubkey,
      name: metadata.name,
      skills: metadata.skills ??
        kinds.map((k) => ({ name: String(k), kinds: [k], price: fallbackPrice })),
      assetCode: metadata.price?.assetCode,
      assetScale: metadata.price?.assetScale,
      online: alive.has(pubkey),
      lastSeen: beats.get(pubkey),
    });
  }
  return listings.sort((a, b) =>
    Number(b.online) - Number(a.online) || a.name.localeCompare(b.name)
  );
}

/**
 * The online offers for a kind, cheapest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offersFor } from "./provider_directory.ts";
 *
 * const skill = (price: string) => [{ name: "ci-run", kinds: [5600], price }];
 * const providers = [
 *   { pubkey: "aa".repeat(32), name: "dear", skills: skill("900"), online: true },
 *   { pubkey: "bb".repeat(32), name: "cheap", skills: skill("100"), online: true },
 * ];
 * const [cheapest] = offersFor(providers, 5600);
 * assert.deepEqual([cheapest.provider.name, cheapest.price], ["cheap", 100n]);
 * ```
 */
export function offersFor(providers: readonly ProviderListing[], kind: number): KindOffer[] {
  const offers: KindOffer[] = [];
  for (const provider of providers) {
    if (!provider.online) continue;
    for (const skill of provider.skills) {
      if (skill.kinds.includes(kind)) offers.push({ provider, skill, price: BigInt(skill.price) });
    }
  }
  return offers.sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
}

/**
 * The kind a skill name stands for among the providers (online first), if any announces it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kindOfSkill } from "./provider_directory.ts";
 *
 * const skills = [{ name: "wordcount", kinds: [5603], price: "1" }];
 * const providers = [{ pubkey: "ab".repeat(32), name: "mayor", skills, online: true }];
 * assert.equal(kindOfSkill(providers, "wordcount"), 5603);
 * assert.equal(kindOfSkill(providers, "ci-run"), undefined);
 * ```
 */
export function kindOfSkill(
  providers: readonly ProviderListing[],
  name: string,
): number | undefined {
  for (const p of providers) {
    const skill = p.skills.find((s) => s.name === name);
    if (skill !== undefined && skill.kinds.length > 0) return skill.kinds[0];
  }
  return undefined;
}

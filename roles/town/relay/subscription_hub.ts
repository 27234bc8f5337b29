/**
 * The town's live-push hub: open NIP-01 subscriptions, indexed so that a published event is
 * matched only against the filters that could match it. A filter is indexed by its `#p` values
 * when it has them (an addressed subscription: a requester's replies, a provider taking addressed
 * requests only), else by its `kinds`, else by its `authors`, else it is checked for every event:
 * so an event costs the town in proportion to the subscriptions that may take it, not to all that
 * are open (docs/SCALE.md). The write side calls
 * {@linkcode SubscriptionHub.publish} after each successful insert.
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { matchFilter, type NostrFilter } from "../../../protocol/nostr_filter.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";

/** An event being pushed, in both wire forms (TOON encoded at most once, only if asked for). */
export interface PublishedEvent {
  event: NostrEvent;
  /** JSON text of the event. */
  json: string;
  /** TOON text of the event (the raw text when published with one). */
  toon(): string;
}

/** Whoever holds subscriptions (one per client connection). */
export interface HubSubscriber {
  /** Called once per matching subscription of this subscriber. Must not throw. */
  deliver(subId: string, published: PublishedEvent): void;
}

interface IndexedFilter {
  subscriber: HubSubscriber;
  subId: string;
  filter: NostrFilter;
}

/**
 * Open subscriptions of every connection, indexed by kind and author.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HubSubscriber, SubscriptionHub } from "./subscription_hub.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const received: string[] = [];
 * const connection: HubSubscriber = { deliver: (subId) => received.push(subId) };
 * const hub = new SubscriptionHub();
 * hub.subscribe(connection, "s1", [{ kinds: [7000] }]);
 * const event = finalizeEvent(
 *   { kind: 7000, created_at: Math.floor(Date.now() / 1000), tags: [], content: "" },
 *   generateSecretKey(),
 * );
 * hub.publish(event); // after store.insert(event) succeeded
 * assert(received.length === 1 && received[0] === "s1");
 * ```
 */
export class SubscriptionHub {
  readonly #byKind = new Map<number, Set<IndexedFilter>>();
  readonly #byAuthor = new Map<string, Set<IndexedFilter>>();
  readonly #byP = new Map<string, Set<IndexedFilter>>();
  readonly #unindexed = new Set<IndexedFilter>();
  readonly #subs = new Map<HubSubscriber, Map<string, IndexedFilter[]>>();
  #count = 0;
  #published = 0;
  #delivered = 0;

  /** Number of open subscriptions. */
  get size(): number {
    return this.#count;
  }

  /** Events published so far. */
  get publishedTotal(): number {
    return this.#published;
  }

  /** Deliveries (event x subscription) so far. */
  get deliveredTotal(): number {
    return this.#delivered;
  }

  /**
   * Opens (or replaces, NIP-01: same subscriber and id) a subscription.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
   * import { type HubSubscriber, SubscriptionHub } from "./subscription_hub.ts";
   *
   * const me = getPublicKey(generateSecretKey());
   * const received: string[] = [];
   * const connection: HubSubscriber = { deliver: (subId) => received.push(subId) };
   * const hub = new SubscriptionHub();
   * hub.subscribe(connection, "s1", [{ kinds: [1], "#p": [me] }]);
   * const now = Math.floor(Date.now() / 1000);
   * hub.publish(finalizeEvent({ kind: 1, created_at: now, tags: [["p", me]], content: "" }, generateSecretKey()));
   * hub.publish(finalizeEvent({ kind: 1, created_at: now, tags: [], content: "" }, generateSecretKey()));
   * assert.deepEqual(received, ["s1"]); // only the one that names me
   * ```
   */
  subscribe(subscriber: HubSubscriber, subId: string, filters: readonly NostrFilter[]): void {
    this.unsubscribe(subscriber, subId);
    let perSubscriber = this.#subs.get(subscriber);
    if (!perSubscriber) this.#subs.set(subscriber, perSubscriber = new Map());
    const entries = filters.map((filter) => ({ subscriber, subId, filter }));
    perSubscriber.set(subId, entries);
    this.#count++;
    for (const entry of entries) this.#index(entry, true);
  }

  /**
   * Closes a subscription; returns false when it was not open.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type HubSubscriber, SubscriptionHub } from "./subscription_hub.ts";
   *
   * const connection: HubSubscriber = { deliver: () => {} };
   * const hub = new SubscriptionHub();
   * hub.subscribe(connection, "s1", [{ kinds: [1] }]);
   * assert.equal(hub.unsubscribe(connection, "s1"), true); // a NIP-01 CLOSE
   * assert.equal(hub.unsubscribe(connection, "s1"), false);
   * ```
   */
  unsubscribe(subscriber: HubSubscriber, subId: string): boolean {
    const perSubscriber = this.#subs.get(subscriber);
    const entries = perSubscriber?.get(subId);
    if (!perSubscriber || !entries) return false;
    for (const entry of entries) this.#index(entry, false);
    perSubscriber.delete(subId);
    if (perSubscriber.size === 0) this.#subs.delete(subscriber);
    this.#count--;
    return true;
  }

  /**
   * Closes every subscription of a subscriber (its connection went away).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type HubSubscriber, SubscriptionHub } from "./subscription_hub.ts";
   *
   * const connection: HubSubscriber = { deliver: () => {} };
   * const hub = new SubscriptionHub();
   * hub.subscribe(connection, "s1", [{ kinds: [1] }]);
   * hub.subscribe(connection, "s2", [{ kinds: [7000] }]);
   * hub.unsubscribeAll(connection); // its socket closed
   * assert.equal(hub.unsubscribe(connection, "s1"), false);
   * ```
   */
  unsubscribeAll(subscriber: HubSubscriber): void {
    for (const subId of [...(this.#subs.get(subscriber)?.keys() ?? [])]) {
      this.unsubscribe(subscriber, subId);
    }
  }

  /**
   * Pushes an event to every open subscription with a matching filter (once per
   * subscription, however many of its filters match); returns the number of deliveries.
   * Call it after the event was inserted (or, ephemeral kinds, accepted).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
   * import { type HubSubscriber, SubscriptionHub } from "./subscription_hub.ts";
   * import { openEventStore } from "../../../state/events/event_store.ts";
   *
   * const received: string[] = [];
   * const connection: HubSubscriber = { deliver: (subId) => received.push(subId) };
   * const hub = new SubscriptionHub();
   * hub.subscribe(connection, "s1", [{ kinds: [1] }]);
   * const store = openEventStore({ path: ":memory:" });
   * const event = finalizeEvent(
   *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
   *   generateSecretKey(),
   * );
   * const result = store.insert(event);
   * if (result.status === "stored" || result.status === "replaced") hub.publish(event);
   * assert.deepEqual(received, ["s1"]);
   * store.close();
   * ```
   */
  publish(event: NostrEvent, raw?: string): number {
    this.#published++;
    const candidates: Iterable<IndexedFilter>[] = [this.#unindexed];
    const byKind = this.#byKind.get(event.kind);
    if (byKind) candidates.push(byKind);
    const byAuthor = this.#byAuthor.get(event.pubkey);
    if (byAuthor) candidates.push(byAuthor);
    if (this.#byP.size > 0) {
      for (const tag of event.tags) {
        if (tag[0] !== "p" || tag.length < 2) continue;
        const byP = this.#byP.get(tag[1]);
        if (byP) candidates.push(byP);
      }
    }
    let toon = raw;
    const published: PublishedEvent = {
      event,
      json: JSON.stringify(event),
      toon: () => toon ??= encodeEventToon(event),
    };
    // A subscription with several matching filters gets the event once.
    const done = new Set<IndexedFilter[]>();
    let deliveries = 0;
    for (const set of candidates) {
      for (const entry of set) {
        const key = this.#subs.get(entry.subscriber)?.get(entry.subId);
        if (!key || done.has(key) || !matchFilter(event, entry.filter)) continue;
        done.add(key);
        deliveries++;
        entry.subscriber.deliver(entry.subId, published);
      }
    }
    this.#delivered += deliveries;
    return deliveries;
  }

  #index(entry: IndexedFilter, add: boolean): void {
    const { kinds, authors } = entry.filter;
    const p = entry.filter["#p"];
    if (p !== undefined && p.length > 0) {
      for (const value of new Set(p)) updateIndex(this.#byP, value, entry, add);
    } else if (kinds !== undefined) {
      for (const kind of kinds) updateIndex(this.#byKind, kind, entry, add);
    } else if (authors !== undefined) {
      for (const author of authors) updateIndex(this.#byAuthor, author, entry, add);
    } else if (add) {
      this.#unindexed.add(entry);
    } else {
      this.#unindexed.delete(entry);
    }
  }
}

function updateIndex<K>(
  index: Map<K, Set<IndexedFilter>>,
  key: K,
  entry: IndexedFilter,
  add: boolean,
): void {
  let set = index.get(key);
  if (add) {
    if (!set) index.set(key, set = new Set());
    set.add(entry);
  } else if (set) {
    set.delete(entry);
    if (set.size === 0) index.delete(key);
  }
}

/**
 * The town's live-push hub: NIP-01 matching, once per subscription, replacement and removal,
 * and its #p/kind/author index (a filter is only tried on events that could match it).
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../../protocol/nostr_filter.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import {
  type HubSubscriber,
  type PublishedEvent,
  SubscriptionHub,
} from "../../../roles/town/relay/subscription_hub.ts";
import { TokenBucket } from "../../../roles/town/token_bucket.ts";
import { resolveTownLimits, TownLimitsError } from "../../../config/town_limits.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";

function event(kind: number, pubkey: string, tags: string[][] = [], n = 0): NostrEvent {
  return {
    id: n.toString(16).padStart(64, "0"),
    pubkey,
    created_at: 1_700_000_000 + n,
    kind,
    tags,
    content: `event ${n}`,
    sig: "ee".repeat(64),
  };
}

class Recorder implements HubSubscriber {
  got: { subId: string; published: PublishedEvent }[] = [];
  deliver(subId: string, published: PublishedEvent): void {
    this.got.push({ subId, published });
  }
  subIds(): string[] {
    return this.got.map((g) => g.subId);
  }
}

const A = "aa".repeat(32);
const B = "bb".repeat(32);

Deno.test("subscription hub: delivers to matching subscriptions once each", () => {
  const hub = new SubscriptionHub();
  const r1 = new Recorder();
  const r2 = new Recorder();
  hub.subscribe(r1, "kinds", [{ kinds: [1, 7] }, { authors: [A] }]);
  hub.subscribe(r1, "tag", [{ "#p": [B] }]);
  hub.subscribe(r2, "author", [{ authors: [B] }]);
  hub.subscribe(r2, "since", [{ kinds: [1], since: 1_700_000_005 }]);
  assertEquals(hub.size, 4);
  assertEquals(hub.publish(event(1, A, [["p", B]], 1)), 2);
  assertEquals(r1.subIds().sort(), ["kinds", "tag"]);
  assertEquals(r2.subIds(), []);
  assertEquals(hub.publish(event(1, B, [], 9)), 3);
  assertEquals(r2.subIds().sort(), ["author", "since"]);
  assertEquals(hub.publish(event(3, "cc".repeat(32))), 0);
  assertEquals([hub.publishedTotal, hub.deliveredTotal], [3, 5]);
});

Deno.test("subscription hub: replacing, closing and dropping a subscriber", () => {
  const hub = new SubscriptionHub();
  const r = new Recorder();
  hub.subscribe(r, "s", [{ kinds: [1] }]);
  hub.subscribe(r, "s", [{ kinds: [2] }]); // same id: replaces
  assertEquals(hub.size, 1);
  assertEquals(hub.publish(event(1, A)), 0);
  assertEquals(hub.publish(event(2, A)), 1);
  hub.subscribe(r, "t", [{}]);
  assertEquals(hub.unsubscribe(r, "s"), true);
  assertEquals(hub.unsubscribe(r, "s"), false);
  assertEquals(hub.publish(event(2, A)), 1);
  hub.unsubscribeAll(r);
  assertEquals(hub.size, 0);
  assertEquals(hub.publish(event(2, A)), 0);
});

Deno.test("subscription hub: a filter indexed by kind is not tried on other kinds", () => {
  const hub = new SubscriptionHub();
  const tried: NostrFilter[] = [];
  const r = new Recorder();
  // A filter that records every time matchFilter reads it (its first read is `ids`).
  const spy = (kinds: number[]): NostrFilter =>
    new Proxy({ kinds } as NostrFilter, {
      get(target, key) {
        if (key === "ids") tried.push(target);
        return Reflect.get(target, key);
      },
    });
  for (let k = 0; k < 100; k++) hub.subscribe(r, `k${k}`, [spy([1000 + k])]);
  hub.publish(event(1042, A));
  assertEquals(tried.length, 1);
  assertEquals(tried[0].kinds, [1042]);
});

Deno.test("subscription hub: an addressed filter (#p) is tried only on events naming its p", () => {
  const hub = new SubscriptionHub();
  const tried: string[] = [];
  const r = new Recorder();
  // 100 providers taking addressed requests of one kind, 100 requesters waiting for their
  // replies (`#p` only, no kinds): an event naming one of them must try one filter, not 200.
  const spy = (filter: NostrFilter): NostrFilter =>
    new Proxy(filter, {
      get(target, key) {
        if (key === "ids") tried.push(target["#p"]![0]);
        return Reflect.get(target, key);
      },
    });
  const who = (n: number) => n.toString(16).padStart(64, "0");
  for (let n = 0; n < 100; n++) {
    hub.subscribe(r, `prov${n}`, [spy({ kinds: [5601], "#p": [who(n)] })]);
    hub.subscribe(r, `req${n}`, [spy({ "#p": [who(1000 + n)] })]);
  }
  // A request to provider 42 (its p tag twice: still one delivery).
  assertEquals(hub.publish(event(5601, A, [["p", who(42)], ["p", who(42)]], 1)), 1);
  assertEquals(r.subIds(), ["prov42"]);
  assertEquals(tried, [who(42)]);
  // A result to requester 7; an open request (no p) reaches none of them.
  tried.length = 0;
  assertEquals(hub.publish(event(6601, B, [["p", who(1007)]], 2)), 1);
  assertEquals(hub.publish(event(5601, A, [], 3)), 0);
  assertEquals(tried, [who(1007)]);
  // Wrong kind for an addressed provider: tried, not delivered; closed: not tried any more.
  assertEquals(hub.publish(event(5000, A, [["p", who(3)]], 4)), 0);
  hub.unsubscribe(r, "prov3");
  tried.length = 0;
  assertEquals(hub.publish(event(5601, A, [["p", who(3)]], 5)), 0);
  assertEquals(tried, []);
});

Deno.test("subscription hub: TOON is the raw text when given, else encoded once on demand", () => {
  const hub = new SubscriptionHub();
  const r = new Recorder();
  hub.subscribe(r, "a", [{}]);
  hub.subscribe(r, "b", [{ kinds: [1] }]);
  const e = event(1, A, [["t", "x"]], 3);
  hub.publish(e, "raw toon text");
  assertEquals(r.got.map((g) => g.published.toon()), ["raw toon text", "raw toon text"]);
  hub.publish(e);
  const [x, y] = r.got.slice(2).map((g) => g.published);
  assertEquals(x, y);
  assertEquals(decodeEventToon(x.toon(), { verify: false }), e);
  assertEquals(JSON.parse(x.json), e);
});

Deno.test("town limits and token bucket", () => {
  assertEquals(resolveTownLimits({ maxSubscriptions: 3 }).maxSubscriptions, 3);
  assertThrows(() => resolveTownLimits({ maxFilters: 0 }), TownLimitsError, "maxFilters");
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 2, capacity: 3, now: () => now });
  assertEquals([1, 2, 3, 4].map(() => bucket.take()), [true, true, true, false]);
  now += 500; // one token back
  assertEquals([bucket.take(), bucket.take()], [true, false]);
  now += 60_000; // refills to capacity, not beyond
  assertEquals([1, 2, 3, 4].map(() => bucket.take()), [true, true, true, false]);
});

import { finalizeEvent, generateSecretKey, matchFilter as ntMatchFilter } from "nostr-tools";
import {
  matchFilter,
  matchFilters,
  type NostrFilter,
  NostrFilterError,
  validateFilter,
} from "../../../protocol/nostr_filter.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";

const keys = [generateSecretKey(), generateSecretKey()];

function event(kind: number, tags: string[][], createdAt: number, key = 0): NostrEvent {
  return finalizeEvent({ kind, tags, content: "Hello World", created_at: createdAt }, keys[key]);
}

Deno.test("matchFilter: each NIP-01 condition", () => {
  const e = event(7000, [["e", "x".repeat(64)], ["p", "y"], ["t", "a", "b"]], 100);
  assert(matchFilter(e, {}));
  assert(matchFilter(e, { ids: [e.id] }));
  assert(!matchFilter(e, { ids: [] }));
  assert(matchFilter(e, { authors: [e.pubkey], kinds: [1, 7000] }));
  assert(!matchFilter(e, { kinds: [7001] }));
  assert(matchFilter(e, { since: 100, until: 100 }));
  assert(!matchFilter(e, { since: 101 }));
  assert(!matchFilter(e, { until: 99 }));
  assert(matchFilter(e, { "#e": ["x".repeat(64)], "#p": ["z", "y"] }));
  assert(!matchFilter(e, { "#t": ["b"] }), "only the first tag value is indexed");
  assert(!matchFilter(e, { "#q": ["y"] }));
  assert(matchFilter(e, { search: "hello world" }));
  assert(!matchFilter(e, { search: "goodbye" }));
  assert(matchFilters(e, [{ kinds: [1] }, { kinds: [7000] }]));
  assert(!matchFilters(e, []));
});

Deno.test("matchFilter agrees with nostr-tools on random events and filters", () => {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const events = Array.from({ length: 60 }, (_, i) =>
    event(
      [1, 5050, 7000][rnd(3)],
      [["e", `id${rnd(4)}`], ["p", `pk${rnd(4)}`]].slice(0, rnd(3)),
      1000 + rnd(20),
      i % 2,
    ));
  for (let i = 0; i < 500; i++) {
    const f: NostrFilter = {};
    if (rnd(2)) f.kinds = [[1, 5050, 7000][rnd(3)]];
    if (rnd(2)) f.authors = [events[rnd(events.length)].pubkey];
    if (rnd(3) === 0) f.ids = [events[rnd(events.length)].id];
    if (rnd(2)) f["#e"] = [`id${rnd(4)}`, `id${rnd(4)}`];
    if (rnd(3) === 0) f["#p"] = [`pk${rnd(4)}`];
    if (rnd(2)) f.since = 1000 + rnd(20);
    if (rnd(2)) f.until = 1000 + rnd(20);
    for (const e of events) assertEquals(matchFilter(e, f), ntMatchFilter(f, e), JSON.stringify(f));
  }
});

Deno.test("validateFilter: shapes and limits", () => {
  const ok = { ids: ["a".repeat(64)], kinds: [0, 65535], "#e": ["x"], since: 0, limit: 10 };
  assertEquals(validateFilter(ok), ok);
  const bad: [unknown, string][] = [
    [null, "not an object"],
    [[], "not an object"],
    [{ ids: ["abc"] }, '"ids" has an item that is not a 64 hex'],
    [{ authors: ["A".repeat(64)] }, '"authors" has an item'],
    [{ kinds: [65536] }, '"kinds" has an item'],
    [{ kinds: [1.5] }, '"kinds" has an item'],
    [{ since: -1 }, '"since" is not a non-negative integer'],
    [{ limit: "1" }, '"limit" is not'],
    [{ "#ee": ["x"] }, 'unknown filter key "#ee"'],
    [{ "#e": [1] }, '"#e" has an item'],
    [{ "#e": "x" }, '"#e" is not an array'],
    [{ search: 1 }, '"search" is not a string'],
  ];
  for (const [value, msg] of bad) assertThrows(() => validateFilter(value), NostrFilterError, msg);
  assertThrows(
    () => validateFilter({ kinds: Array(11).fill(1) }, { maxListItems: 10 }),
    NostrFilterError,
    "more than 10 items",
  );
  assertThrows(
    () => validateFilter({ "#e": ["x".repeat(11)] }, { maxValueLength: 10 }),
    NostrFilterError,
  );
  assertThrows(() => validateFilter({ "#a": [], "#b": [] }, { maxTagKeys: 1 }), NostrFilterError);
});

Deno.test("validateFilter: -0 is refused so that every accepted filter round-trips", () => {
  for (const text of ['{"limit":-0}', '{"since":-0}', '{"kinds":[1,-0]}']) {
    assertThrows(() => validateFilter(JSON.parse(text)), NostrFilterError);
  }
  const ok = validateFilter(JSON.parse('{"limit":0,"kinds":[0]}'));
  assertEquals(JSON.parse(JSON.stringify(ok)), ok);
});

/**
 * One suite of store tests every {@linkcode TownStore} passes (SQLite and PostgreSQL): NIP-01
 * filters and ordering, replaceable and addressable rules, NIP-09 deletions, NIP-40 expiry,
 * limits, byte-exact text, and the records a paid write leaves (the insert outcome the FULFILL
 * names, served back by id). Each case gets a fresh, empty store from `open`.
 *
 * @module
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { decode as decodeToon140 } from "toon-1.4.0";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import {
  eventExpiration,
  EventStoreQueryError,
  type InsertResult,
  type StoredEvent,
} from "../../state/events/event_store.ts";
import type { TownStore } from "../../state/events/town_store.ts";
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";

const alice = generateSecretKey();
const bob = generateSecretKey();
const alicePub = getPublicKey(alice);
const bobPub = getPublicKey(bob);
/** The suite's reference time (unix seconds). */
export const T0 = 1_700_000_000;

/** A clock the store reads; the suite moves it. */
export interface SuiteClock {
  now: number;
}

/** Opens a fresh, empty store reading `clock`. */
export type OpenSuiteStore = (clock: SuiteClock) => Promise<TownStore>;

/**
 * A signed event, as a plain object.
 *
 * @example
 * ```ts
 * import { generateSecretKey } from "nostr-tools";
 *
 * const e = makeEvent(generateSecretKey(), 1, 1_700_000_000);
 * ```
 */
export function makeEvent(
  key: Uint8Array,
  kind: number,
  createdAt: number,
  tags: string[][] = [],
  content = "",
): NostrEvent {
  const signed = finalizeEvent({ kind, tags, content, created_at: createdAt }, key);
  return JSON.parse(JSON.stringify(signed)) as NostrEvent;
}

function ids(rows: StoredEvent[]): string[] {
  return rows.map((r) => r.id);
}

function outcome(r: InsertResult): Omit<InsertResult, "toon"> {
  return { status: r.status, id: r.id, removedIds: r.removedIds };
}

type Case = (store: TownStore, clock: SuiteClock) => Promise<void>;

const CASES: [string, Case][] = [
  ["stores, de-duplicates and serves both JSON and the town's TOON", async (store) => {
    const e = makeEvent(alice, 1, T0, [["p", bobPub]], "hello [1]: world");
    const raw = encodeEventToon(e);
    assertEquals(outcome(await store.insert(e, raw)), {
      status: "stored",
      id: e.id,
      removedIds: [],
    });
    assertEquals((await store.insert(e, raw)).status, "duplicate");
    const [row] = await store.query([{ ids: [e.id] }]);
    assertEquals(JSON.parse(row.json), e);
    assertEquals(row.toon, raw);
    assertEquals(decodeToon140(row.toon), e);
    const f = makeEvent(alice, 1, T0 + 1);
    await store.insert(f);
    assertEquals((await store.query([{ ids: [f.id] }]))[0].toon, encodeEventToon(f));
  }],
  ["a query for JSON only leaves the TOON out (a JSON reader's REQ)", async (store) => {
    const e = makeEvent(alice, 1, T0, [["p", bobPub]], "hello");
    await store.insert(e);
    for (const filter of [{ ids: [e.id] }, { "#p": [bobPub] }]) {
      const [row] = await store.query([filter], { jsonOnly: true });
      assertEquals([JSON.parse(row.json), row.toon], [e, ""]);
      assertEquals((await store.query([filter]))[0].toon, encodeEventToon(e));
    }
  }],
  [
    "text holding U+0000 and backslashes comes back byte-exact and matches by tag",
    async (store) => {
      const e = makeEvent(alice, 1, T0, [["t", "a\u0000b"], ["u", "c\\0d"]], "x\u0000y\\0");
      assertEquals((await store.insert(e)).toon, encodeEventToon(e));
      const [row] = await store.query([{ "#t": ["a\u0000b"] }]);
      assertEquals(JSON.parse(row.json), e);
      assertEquals(row.toon, encodeEventToon(e));
      assertEquals(ids(await store.query([{ "#u": ["c\\0d"] }])), [e.id]);
      // The escape is injective: the NUL value does not match its escaped spelling.
      assertEquals(ids(await store.query([{ "#t": ["a\\0b"] }])), []);
      const addr = makeEvent(alice, 30000, T0, [["d", "k\u0000"]]);
      assertEquals((await store.insert(addr)).status, "stored");
      assertEquals(ids(await store.query([{ "#d": ["k\u0000"] }])), [addr.id]);
    },
  ],
  ["NIP-01 filters (ids, authors, kinds, tags, since, until, OR, limit)", async (store) => {
    const a1 = makeEvent(alice, 1, T0 + 1, [["e", "11".repeat(32)], ["t", "x"]]);
    const a2 = makeEvent(alice, 7, T0 + 2, [["p", bobPub]]);
    const b1 = makeEvent(bob, 1, T0 + 3, [["e", "22".repeat(32)], ["T", "upper"]]);
    const b2 = makeEvent(bob, 5050, T0 + 4, [["p", alicePub], ["e", "11".repeat(32)]]);
    await store.insertBatch([a1, a2, b1, b2].map((event) => ({ event })));
    const q = async (...args: Parameters<TownStore["query"]>) => ids(await store.query(...args));
    assertEquals(await q([{}]), [b2.id, b1.id, a2.id, a1.id]);
    assertEquals(await q([{ ids: [a1.id, b1.id] }]), [b1.id, a1.id]);
    assertEquals(await q([{ authors: [alicePub] }]), [a2.id, a1.id]);
    assertEquals(await q([{ kinds: [1] }]), [b1.id, a1.id]);
    assertEquals(await q([{ kinds: [] }]), []);
    assertEquals(await q([{ "#e": ["11".repeat(32)] }]), [b2.id, a1.id]);
    assertEquals(await q([{ "#p": [bobPub] }]), [a2.id]);
    assertEquals(await q([{ "#T": ["upper"] }]), [b1.id]);
    assertEquals(await q([{ "#t": ["x", "y"] }]), [a1.id]);
    assertEquals(await q([{ "#e": ["11".repeat(32)], "#p": [alicePub] }]), [b2.id]);
    assertEquals(await q([{ since: T0 + 2, until: T0 + 3 }]), [b1.id, a2.id]);
    assertEquals(await q([{ kinds: [1], authors: [bobPub] }]), [b1.id]);
    assertEquals(await q([{ kinds: [7] }, { kinds: [5050] }, { ids: [a2.id] }]), [b2.id, a2.id]);
    assertEquals(await q([{ limit: 2 }]), [b2.id, b1.id]);
    assertEquals(await q([{ limit: 1, kinds: [1] }, { limit: 1, kinds: [7] }]), [b1.id, a2.id]);
    assertEquals(await q([{ limit: 0 }]), []);
    assertEquals(await q([{}], { limit: 3 }), [b2.id, b1.id, a2.id]);
    assertEquals(await q([{ limit: 100 }], { limit: 1 }), [b2.id]);
    assertEquals(await store.count([{ kinds: [1] }, { authors: [alicePub] }]), 3);
    assertEquals(await store.count([{ "#e": ["11".repeat(32)] }]), 2);
    await assertRejects(() => store.query([{ search: "x" }]), EventStoreQueryError, "search");
  }],
  ["equal created_at are ordered by lowest id first", async (store) => {
    const events = [0, 1, 2, 3].map((i) => makeEvent(alice, 1, T0, [], `same time ${i}`));
    await store.insertBatch(events.map((event) => ({ event })));
    assertEquals(ids(await store.query([{}])), events.map((e) => e.id).sort());
  }],
  ["replaceable kinds keep the newest per author+kind, ties by lowest id", async (store) => {
    for (const kind of [0, 3, 10032]) {
      const old = makeEvent(alice, kind, T0 + 10, [], "old");
      const newer = makeEvent(alice, kind, T0 + 20, [], "new");
      assertEquals((await store.insert(old)).status, "stored");
      assertEquals(outcome(await store.insert(newer)), {
        status: "replaced",
        id: newer.id,
        removedIds: [old.id],
      });
      assertEquals((await store.insert(old)).status, "rejected-stale");
      assertEquals(ids(await store.query([{ kinds: [kind], authors: [alicePub] }])), [newer.id]);
      assertEquals((await store.insert(makeEvent(bob, kind, T0))).status, "stored");
      const [x, y] = [1, 2].map((i) => makeEvent(alice, kind, T0 + 20, [], `tie ${i}`));
      const [low, high] = x.id < y.id ? [x, y] : [y, x];
      assertEquals(
        (await store.insert(low)).status,
        low.id < newer.id ? "replaced" : "rejected-stale",
      );
      const winner = [newer, low].sort((a, b) => (a.id < b.id ? -1 : 1))[0];
      assertEquals((await store.insert(high)).status, "rejected-stale");
      assertEquals(ids(await store.query([{ kinds: [kind], authors: [alicePub] }])), [winner.id]);
    }
  }],
  ["addressable kinds keep the newest per author+kind+d", async (store) => {
    const a = makeEvent(alice, 31990, T0 + 1, [["d", "svc"], ["k", "5050"]]);
    const b = makeEvent(alice, 31990, T0 + 2, [["d", "other"]]);
    const a2 = makeEvent(alice, 31990, T0 + 3, [["d", "svc"], ["k", "5100"]]);
    assertEquals((await store.insert(a)).status, "stored");
    assertEquals((await store.insert(b)).status, "stored");
    assertEquals(outcome(await store.insert(a2)), {
      status: "replaced",
      id: a2.id,
      removedIds: [a.id],
    });
    assertEquals(ids(await store.query([{ kinds: [31990], "#d": ["svc"] }])), [a2.id]);
    assertEquals(ids(await store.query([{ "#k": ["5050"] }])), []);
    assertEquals(await store.count([{ kinds: [31990] }]), 2);
    assertEquals((await store.insert(makeEvent(alice, 30000, T0 + 1))).status, "stored");
    // A missing d tag and an empty one are the same address.
    const noD2 = makeEvent(alice, 30000, T0 + 2, [["d", ""]]);
    assertEquals((await store.insert(noD2)).status, "replaced");
  }],
  ["ephemeral kinds are never stored", async (store) => {
    assertEquals((await store.insert(makeEvent(alice, 20001, T0))).status, "ephemeral");
    assertEquals(await store.size(), 0);
  }],
  [
    "kind 5 deletes the author's e events and a addresses, and refuses them later",
    async (store) => {
      const mine = makeEvent(alice, 1, T0 + 1);
      const theirs = makeEvent(bob, 1, T0 + 2);
      const later = makeEvent(alice, 1, T0 + 3, [], "inserted after its deletion");
      const addr = makeEvent(alice, 30023, T0 + 4, [["d", "post"]]);
      await store.insertBatch([mine, theirs, addr].map((event) => ({ event })));
      const deletion = makeEvent(alice, 5, T0 + 10, [
        ["e", mine.id],
        ["e", theirs.id],
        ["e", later.id],
        ["a", `30023:${alicePub}:post`],
      ]);
      const result = await store.insert(deletion);
      assertEquals(result.status, "stored");
      assertEquals(result.removedIds.sort(), [mine.id, addr.id].sort());
      assertEquals(ids(await store.query([{ authors: [alicePub] }])), [deletion.id]);
      assertEquals(ids(await store.query([{ ids: [theirs.id] }])), [theirs.id]);
      assertEquals((await store.insert(mine)).status, "rejected-deleted");
      assertEquals((await store.insert(later)).status, "rejected-deleted");
      assertEquals(
        (await store.insert(makeEvent(alice, 30023, T0 + 5, [["d", "post"]]))).status,
        "rejected-deleted",
      );
      assertEquals(
        (await store.insert(makeEvent(alice, 30023, T0 + 11, [["d", "post"]]))).status,
        "stored",
      );
      const bobTries = makeEvent(bob, 5, T0 + 12, [["e", deletion.id]]);
      assertEquals((await store.insert(bobTries)).removedIds, []);
      const undo = makeEvent(alice, 5, T0 + 13, [["e", deletion.id]]);
      assertEquals((await store.insert(undo)).removedIds, []);
      assertEquals(ids(await store.query([{ ids: [deletion.id] }])), [deletion.id]);
    },
  ],
  ["a deletion and its target in one batch keep their order", async (store) => {
    const first = makeEvent(alice, 1, T0, [], "stored, then deleted in the same batch");
    const later = makeEvent(alice, 1, T0 + 1, [], "deleted before it came");
    const deletesFirst = makeEvent(alice, 5, T0 + 2, [["e", first.id]]);
    const deletesLater = makeEvent(alice, 5, T0 + 3, [["e", later.id]]);
    const plain = makeEvent(bob, 1, T0 + 4, [["t", "x"]]);
    const results = await store.insertBatch(
      [first, deletesFirst, deletesLater, later, plain, plain].map((event) => ({ event })),
    );
    assertEquals(results.map((r) => r.status), [
      "stored",
      "stored",
      "stored",
      "rejected-deleted",
      "stored",
      "duplicate",
    ]);
    assertEquals(results[1].removedIds, [first.id]);
    assertEquals(
      ids(await store.query([{ kinds: [1] }])),
      [plain.id],
    );
  }],
  [
    "a batch of plain events only: stored, duplicates, a deleted id refused, tags",
    async (store) => {
      const gone = makeEvent(alice, 1, T0, [], "deleted before the batch");
      await store.insert(gone);
      await store.insert(makeEvent(alice, 5, T0 + 1, [["e", gone.id]]));
      const before = makeEvent(bob, 1, T0 + 2, [["t", "old"]]);
      await store.insert(before);
      const fresh = makeEvent(bob, 1, T0 + 3, [["t", "new"], ["t", "new"], ["p", alicePub]]);
      const other = makeEvent(alice, 1, T0 + 4, [["t", "new"]]);
      const results = await store.insertBatch(
        [fresh, before, gone, fresh, other].map((event) => ({ event })),
      );
      assertEquals(results.map((r) => r.status), [
        "stored",
        "duplicate",
        "rejected-deleted",
        "duplicate",
        "stored",
      ]);
      assertEquals(results.map((r) => r.id), [fresh, before, gone, fresh, other].map((e) => e.id));
      assertEquals(ids(await store.query([{ "#t": ["new"] }])), [other.id, fresh.id]);
      assertEquals(ids(await store.query([{ "#p": [alicePub] }])), [fresh.id]);
      assertEquals(await store.count([{ "#t": ["new"] }]), 2);
    },
  ],
  ["NIP-40 expired events are refused, hidden and purged", async (store, clock) => {
    const soon = makeEvent(alice, 1, T0, [["expiration", String(clock.now + 10)]]);
    const past = makeEvent(alice, 1, T0, [["expiration", String(clock.now - 1)]]);
    const forever = makeEvent(alice, 1, T0 + 1);
    assertEquals(eventExpiration(soon), clock.now + 10);
    assertEquals((await store.insert(past)).status, "rejected-expired");
    assertEquals((await store.insert(soon)).status, "stored");
    await store.insert(forever);
    assertEquals(ids(await store.query([{}])), [forever.id, soon.id]);
    clock.now += 10;
    assertEquals(ids(await store.query([{}])), [forever.id]);
    assertEquals(await store.count([{}]), 1);
    assertEquals(await store.size(), 2);
    assertEquals(await store.purgeExpired(), [soon.id]);
    assertEquals(await store.size(), 1);
  }],
  ["a batch that fails rolls back entirely", async (store) => {
    const good = makeEvent(alice, 1, T0);
    // A pubkey the database cannot bind fails inside the transaction, after `good`.
    const bad = { ...makeEvent(alice, 1, T0 + 1), pubkey: {} } as unknown as NostrEvent;
    let threw = false;
    try {
      await store.insertBatch([{ event: good }, { event: bad, toon: "not used" }]);
    } catch {
      threw = true;
    }
    assert(threw, "a malformed event must make the batch throw");
    assertEquals(await store.size(), 0);
  }],
  [
    "paid-write records: concurrent inserts each get their own outcome, stored once",
    async (store) => {
      const events = Array.from({ length: 40 }, (_, i) => makeEvent(alice, 1, T0 + i, [], `w${i}`));
      const twice = [...events, ...events.slice(0, 10)];
      const results = await Promise.all(twice.map((e) => store.insert(e)));
      assertEquals(results.slice(0, 40).map((r) => r.status), events.map(() => "stored"));
      assertEquals(
        results.slice(40).map((r) => r.status),
        events.slice(0, 10).map(() => "duplicate"),
      );
      assertEquals(results.map((r) => r.id), twice.map((e) => e.id));
      assertEquals(await store.size(), 40);
      assertEquals(await store.count([{ authors: [alicePub] }]), 40);
    },
  ],
];

/**
 * Runs every case as a step of `t`, each on a fresh store from `open`.
 *
 * @example
 * ```ts
 * import { openEventStore } from "../../state/events/event_store.ts";
 * import { SqliteTownStore } from "../../state/events/town_store.ts";
 *
 * Deno.test("sqlite store", (t) => runTownStoreSuite(t, async (clock) =>
 *   new SqliteTownStore(openEventStore({ path: ":memory:", now: () => clock.now }))));
 * ```
 */
export async function runTownStoreSuite(t: Deno.TestContext, open: OpenSuiteStore): Promise<void> {
  for (const [name, run] of CASES) {
    await t.step(name, async () => {
      const clock = { now: T0 + 1000 };
      const store = await open(clock);
      try {
        await run(store, clock);
      } finally {
        await store.close();
      }
    });
  }
}

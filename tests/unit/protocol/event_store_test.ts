/**
 * The town's SQLite event store: NIP-01 storage and query semantics, NIP-09 deletions, NIP-40
 * expiration, NIP-45 counts, TOON kept as received, and crash safety (a writer process is
 * SIGKILLed; every insert that had returned is present after reopening).
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { decode as decodeToon140 } from "toon-1.4.0";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import {
  eventExpiration,
  EventStoreQueryError,
  type InsertResult,
  openEventStore,
  type StoredEvent,
} from "../../../state/events/event_store.ts";
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { killAfterLines } from "../../support/kill_after_lines.ts";

const alice = generateSecretKey();
const bob = generateSecretKey();
const alicePub = getPublicKey(alice);
const bobPub = getPublicKey(bob);
const T0 = 1_700_000_000;

function makeEvent(
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

function withStore(
  fn: (store: ReturnType<typeof openEventStore>, clock: { now: number }) => void,
): void {
  const clock = { now: T0 + 1000 };
  const store = openEventStore({ path: ":memory:", now: () => clock.now });
  try {
    fn(store, clock);
  } finally {
    store.close();
  }
}

/** The outcome without the served TOON (checked separately). */
function outcome(r: InsertResult): Omit<InsertResult, "toon"> {
  return { status: r.status, id: r.id, removedIds: r.removedIds };
}

Deno.test("event store: stores, de-duplicates and serves both JSON and the town's TOON", () => {
  withStore((store) => {
    const e = makeEvent(alice, 1, T0, [["p", bobPub]], "hello [1]: world");
    const raw = encodeEventToon(e);
    assertEquals(outcome(store.insert(e, raw)), { status: "stored", id: e.id, removedIds: [] });
    assertEquals(store.insert(e, raw).status, "duplicate");
    const [row] = store.query([{ ids: [e.id] }]);
    assertEquals(JSON.parse(row.json), e);
    assertEquals(row.toon, raw);
    assertEquals(decodeToon140(row.toon), e);
    // Without raw TOON the store encodes it.
    const f = makeEvent(alice, 1, T0 + 1);
    store.insert(f);
    assertEquals(store.query([{ ids: [f.id] }])[0].toon, encodeEventToon(f));
  });
});

Deno.test("event store: a query for JSON only leaves the TOON out, by the tags index too", () => {
  withStore((store) => {
    const e = makeEvent(alice, 1, T0, [["p", bobPub]], "hello");
    store.insert(e);
    for (const filter of [{ ids: [e.id] }, { "#p": [bobPub] }]) {
      const [row] = store.query([filter], { jsonOnly: true });
      assertEquals([JSON.parse(row.json), row.toon], [e, ""]);
      assertEquals(store.query([filter])[0].toon, encodeEventToon(e));
    }
  });
});

Deno.test("event store: text holding U+0000 comes back byte-exact, from a file too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "event_store_nul_" });
  try {
    const e = makeEvent(alice, 1, T0, [["t", "a\u0000b"]], "x\u0000y\u0000");
    const store = openEventStore({ path: `${dir}/events.sqlite` });
    assertEquals(store.insert(e).toon, encodeEventToon(e));
    store.close();
    const reopened = openEventStore({ path: `${dir}/events.sqlite` });
    const [row] = reopened.query([{ "#t": ["a\u0000b"] }]);
    reopened.close();
    assertEquals(JSON.parse(row.json), e);
    assertEquals(row.toon, encodeEventToon(e));
    assertEquals(decodeToon140(row.toon), e);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("event store: NIP-01 filters (ids, authors, kinds, tags, since, until, OR, limit)", () => {
  withStore((store) => {
    const a1 = makeEvent(alice, 1, T0 + 1, [["e", "11".repeat(32)], ["t", "x"]]);
    const a2 = makeEvent(alice, 7, T0 + 2, [["p", bobPub]]);
    const b1 = makeEvent(bob, 1, T0 + 3, [["e", "22".repeat(32)], ["T", "upper"]]);
    const b2 = makeEvent(bob, 5050, T0 + 4, [["p", alicePub], ["e", "11".repeat(32)]]);
    store.insertBatch([a1, a2, b1, b2].map((event) => ({ event })));
    assertEquals(ids(store.query([{}])), [b2.id, b1.id, a2.id, a1.id]);
    assertEquals(ids(store.query([{ ids: [a1.id, b1.id] }])), [b1.id, a1.id]);
    assertEquals(ids(store.query([{ authors: [alicePub] }])), [a2.id, a1.id]);
    assertEquals(ids(store.query([{ kinds: [1] }])), [b1.id, a1.id]);
    assertEquals(ids(store.query([{ kinds: [] }])), []);
    assertEquals(ids(store.query([{ "#e": ["11".repeat(32)] }])), [b2.id, a1.id]);
    assertEquals(ids(store.query([{ "#p": [bobPub] }])), [a2.id]);
    assertEquals(ids(store.query([{ "#T": ["upper"] }])), [b1.id]);
    assertEquals(ids(store.query([{ "#e": ["11".repeat(32)], "#p": [alicePub] }])), [b2.id]);
    assertEquals(ids(store.query([{ since: T0 + 2, until: T0 + 3 }])), [b1.id, a2.id]);
    assertEquals(ids(store.query([{ kinds: [1], authors: [bobPub] }])), [b1.id]);
    assertEquals(ids(store.query([{ kinds: [7] }, { kinds: [5050] }, { ids: [a2.id] }])), [
      b2.id,
      a2.id,
    ]);
    assertEquals(ids(store.query([{ limit: 2 }])), [b2.id, b1.id]);
    assertEquals(ids(store.query([{ limit: 1, kinds: [1] }, { limit: 1, kinds: [7] }])), [
      b1.id,
      a2.id,
    ]);
    assertEquals(ids(store.query([{ limit: 0 }])), []);
    assertEquals(ids(store.query([{}], { limit: 3 })), [b2.id, b1.id, a2.id]);
    assertEquals(ids(store.query([{ limit: 100 }], { limit: 1 })), [b2.id]);
    assertEquals(store.count([{ kinds: [1] }, { authors: [alicePub] }]), 3);
    assertEquals(store.count([{ "#e": ["11".repeat(32)] }]), 2);
    assertThrows(() => store.query([{ search: "x" }]), EventStoreQueryError, "search");
  });
});

Deno.test("event store: equal created_at are ordered by lowest id first", () => {
  withStore((store) => {
    const events = [0, 1, 2, 3].map((i) => makeEvent(alice, 1, T0, [], `same time ${i}`));
    store.insertBatch(events.map((event) => ({ event })));
    assertEquals(ids(store.query([{}])), events.map((e) => e.id).sort());
  });
});

Deno.test("event store: replaceable kinds keep the newest per author+kind, ties by lowest id", () => {
  withStore((store) => {
    for (const kind of [0, 3, 10032]) {
      const old = makeEvent(alice, kind, T0 + 10, [], "old");
      const newer = makeEvent(alice, kind, T0 + 20, [], "new");
      assertEquals(store.insert(old).status, "stored");
      assertEquals(outcome(store.insert(newer)), {
        status: "replaced",
        id: newer.id,
        removedIds: [old.id],
      });
      assertEquals(store.insert(old).status, "rejected-stale");
      assertEquals(ids(store.query([{ kinds: [kind], authors: [alicePub] }])), [newer.id]);
      // Another author's version is independent.
      assertEquals(store.insert(makeEvent(bob, kind, T0)).status, "stored");
      // Tie on created_at: the lowest id stays.
      const [x, y] = [1, 2].map((i) => makeEvent(alice, kind, T0 + 20, [], `tie ${i}`));
      const [low, high] = x.id < y.id ? [x, y] : [y, x];
      const lowerThanNewer = low.id < newer.id;
      assertEquals(store.insert(low).status, lowerThanNewer ? "replaced" : "rejected-stale");
      const winner = [newer, low].sort((a, b) => (a.id < b.id ? -1 : 1))[0];
      assertEquals(store.insert(high).status, "rejected-stale");
      assertEquals(ids(store.query([{ kinds: [kind], authors: [alicePub] }])), [winner.id]);
    }
  });
});

Deno.test("event store: addressable kinds keep the newest per author+kind+d", () => {
  withStore((store) => {
    const a = makeEvent(alice, 31990, T0 + 1, [["d", "svc"], ["k", "5050"]]);
    const b = makeEvent(alice, 31990, T0 + 2, [["d", "other"]]);
    const a2 = makeEvent(alice, 31990, T0 + 3, [["d", "svc"], ["k", "5100"]]);
    const noD = makeEvent(alice, 30000, T0 + 1);
    const noD2 = makeEvent(alice, 30000, T0 + 2, [["d", ""]]);
    assertEquals(store.insert(a).status, "stored");
    assertEquals(store.insert(b).status, "stored");
    assertEquals(outcome(store.insert(a2)), { status: "replaced", id: a2.id, removedIds: [a.id] });
    assertEquals(ids(store.query([{ kinds: [31990], "#d": ["svc"] }])), [a2.id]);
    assertEquals(store.count([{ kinds: [31990] }]), 2);
    assertEquals(store.insert(noD).status, "stored");
    // A missing d tag and an empty one are the same address.
    assertEquals(store.insert(noD2).status, "replaced");
  });
});

Deno.test("event store: ephemeral kinds are never stored", () => {
  withStore((store) => {
    const e = makeEvent(alice, 20001, T0);
    assertEquals(store.insert(e).status, "ephemeral");
    assertEquals(store.size(), 0);
  });
});

Deno.test("event store: kind 5 deletes the author's e events and a addresses, and refuses them later", () => {
  withStore((store) => {
    const mine = makeEvent(alice, 1, T0 + 1);
    const theirs = makeEvent(bob, 1, T0 + 2);
    const later = makeEvent(alice, 1, T0 + 3, [], "inserted after its deletion");
    const addr = makeEvent(alice, 30023, T0 + 4, [["d", "post"]]);
    store.insertBatch([mine, theirs, addr].map((event) => ({ event })));
    const deletion = makeEvent(alice, 5, T0 + 10, [
      ["e", mine.id],
      ["e", theirs.id],
      ["e", later.id],
      ["a", `30023:${alicePub}:post`],
    ]);
    const result = store.insert(deletion);
    assertEquals(result.status, "stored");
    assertEquals(result.removedIds.sort(), [mine.id, addr.id].sort());
    assertEquals(ids(store.query([{ authors: [alicePub] }])), [deletion.id]);
    assertEquals(ids(store.query([{ ids: [theirs.id] }])), [theirs.id]);
    assertEquals(store.insert(mine).status, "rejected-deleted");
    assertEquals(store.insert(later).status, "rejected-deleted");
    // An older version of the deleted address is refused, a newer one accepted.
    assertEquals(
      store.insert(makeEvent(alice, 30023, T0 + 5, [["d", "post"]])).status,
      "rejected-deleted",
    );
    assertEquals(store.insert(makeEvent(alice, 30023, T0 + 11, [["d", "post"]])).status, "stored");
    // Bob cannot delete Alice's events, and a deletion of a deletion does nothing.
    const bobTries = makeEvent(bob, 5, T0 + 12, [["e", deletion.id]]);
    assertEquals(store.insert(bobTries).removedIds, []);
    const undo = makeEvent(alice, 5, T0 + 13, [["e", deletion.id]]);
    assertEquals(store.insert(undo).removedIds, []);
    assertEquals(ids(store.query([{ ids: [deletion.id] }])), [deletion.id]);
  });
});

Deno.test("event store: NIP-40 expired events are refused, hidden and purged", () => {
  withStore((store, clock) => {
    const soon = makeEvent(alice, 1, T0, [["expiration", String(clock.now + 10)]]);
    const past = makeEvent(alice, 1, T0, [["expiration", String(clock.now - 1)]]);
    const forever = makeEvent(alice, 1, T0 + 1);
    assertEquals(eventExpiration(soon), clock.now + 10);
    assertEquals(store.insert(past).status, "rejected-expired");
    assertEquals(store.insert(soon).status, "stored");
    store.insert(forever);
    assertEquals(ids(store.query([{}])), [forever.id, soon.id]);
    clock.now += 10;
    assertEquals(ids(store.query([{}])), [forever.id]);
    assertEquals(store.count([{}]), 1);
    assertEquals(store.size(), 2);
    assertEquals(store.purgeExpired(), [soon.id]);
    assertEquals(store.size(), 1);
  });
});

Deno.test("event store: a batch that fails rolls back entirely", () => {
  withStore((store) => {
    const good = makeEvent(alice, 1, T0);
    // A pubkey SQLite cannot bind fails inside the transaction, after `good` was inserted.
    const bad = { ...makeEvent(alice, 1, T0 + 1), pubkey: {} } as unknown as NostrEvent;
    let threw = false;
    try {
      store.insertBatch([{ event: good }, { event: bad, toon: "not used" }]);
    } catch {
      threw = true;
    }
    assert(threw, "a malformed event must make the batch throw");
    assertEquals(store.size(), 0);
  });
});

Deno.test("event store: persists across reopen (WAL file on disk)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/events.sqlite`;
    const e = makeEvent(alice, 1, T0);
    const s1 = openEventStore({ path });
    s1.insert(e);
    s1.close();
    const s2 = openEventStore({ path });
    assertEquals(ids(s2.query([{}])), [e.id]);
    s2.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("event store: after SIGKILL every insert that returned is present", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.sqlite`;
  const writer = new URL("../../support/event_store_crash_writer.ts", import.meta.url).pathname;
  // Every complete line is an insert that returned; a line torn by the kill is not.
  const returned = (await killAfterLines({
    script: writer,
    args: [path],
    lines: 300,
    stderr: "inherit",
  })).filter((l) => l.length === 64);
  assert(returned.length >= 300, `writer printed only ${returned.length} ids`);
  const store = openEventStore({ path });
  try {
    const stored = new Set(ids(store.query([{}], { limit: 1_000_000 })));
    const missing = returned.filter((id) => !stored.has(id));
    assertEquals(missing, []);
    assert(stored.size >= returned.length);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

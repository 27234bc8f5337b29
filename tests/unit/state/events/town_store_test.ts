/**
 * The shared store suite (tests/support/town_store_suite.ts) on both stores: SQLite in memory,
 * and PostgreSQL on a private server this file starts. Then what only a shared store does:
 * two stores (two processes' worth) on one database keep one version of a replaceable event
 * and hear each other's commits, committed ones only.
 */
import { generateSecretKey } from "nostr-tools";
import { openEventStore } from "../../../../state/events/event_store.ts";
import { openPostgresEventStore } from "../../../../state/postgres/postgres_event_store.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { SqliteTownStore } from "../../../../state/events/town_store.ts";
import { copyEventStore } from "../../../../state/events/event_store_copy.ts";
import type { CommittedElsewhere } from "../../../../state/events/town_store.ts";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { makeEvent, runTownStoreSuite, T0 } from "../../../support/town_store_suite.ts";

Deno.test("town store suite: SQLite", async (t) => {
  await runTownStoreSuite(
    t,
    (clock) =>
      Promise.resolve(
        new SqliteTownStore(openEventStore({ path: ":memory:", now: () => clock.now })),
      ),
  );
});

Deno.test("town store suite: PostgreSQL (a real server)", async (t) => {
  await using pg = await startPostgresServer();
  await runTownStoreSuite(
    t,
    async (clock) =>
      openPostgresEventStore({ url: await freshDatabase(pg.url), now: () => clock.now }),
  );

  await t.step("two writers race versions of one replaceable event: one stays", async () => {
    const url = await freshDatabase(pg.url);
    const [a, b] = await twoStores(url);
    try {
      const key = generateSecretKey();
      const versions = Array.from(
        { length: 30 },
        (_, i) => makeEvent(key, 0, T0 + (i % 7), [], `v${i}`),
      );
      await Promise.all(versions.map((e, i) => (i % 2 ? a : b).insert(e)));
      const kept = await a.query([{ kinds: [0] }]);
      assertEquals(kept.length, 1);
      const newest = versions.filter((e) =>
        e.created_at === T0 + 6
      ).sort((x, y) => x.id < y.id ? -1 : 1)[0];
      assertEquals(kept[0].id, newest.id);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  await t.step(
    "a SQLite town copied in (town migrate) serves the same and keeps its deletions",
    async () => {
      const sqlite = openEventStore({ path: ":memory:" });
      const key = generateSecretKey();
      const other = generateSecretKey();
      const note = makeEvent(key, 1, T0, [["t", "x"]], "kept");
      const gone = makeEvent(key, 1, T0 + 1, [], "deleted before the copy");
      const v1 = makeEvent(key, 0, T0, [], "profile v1");
      const v2 = makeEvent(key, 0, T0 + 5, [], "profile v2");
      const theirs = makeEvent(other, 30023, T0, [["d", "post"]], "addressable");
      const deletion = makeEvent(key, 5, T0 + 9, [["e", gone.id]]);
      for (const e of [note, gone, v1, v2, theirs, deletion]) sqlite.insert(e);
      const target = await openPostgresEventStore({ url: await freshDatabase(pg.url) });
      try {
        const first = await copyEventStore(sqlite, target, { batch: 2 });
        assertEquals(first.read, 4);
        assertEquals(first.outcomes, { stored: 4 });
        const all = (s: { query: SqliteTownStore["query"] }) =>
          s.query([{}]).then((r) => r.map((e) => e.id));
        assertEquals(await all(target), await all(new SqliteTownStore(sqlite)));
        // The deletion is remembered: the deleted event is refused, as SQLite refuses it.
        assertEquals((await target.insert(gone)).status, "rejected-deleted");
        assertEquals((await target.insert(v1)).status, "rejected-stale");
        // Run again (an interrupted copy): everything is a duplicate, nothing changes.
        const again = await copyEventStore(sqlite, target);
        assertEquals(again.outcomes, { duplicate: 4 });
        assertEquals(await target.size(), 4);
      } finally {
        sqlite.close();
        await target.close();
      }
    },
  );

  await t.step(
    "after a server restart the stores write and hear each other again by themselves",
    async () => {
      const url = await freshDatabase(pg.url);
      const [a, b] = await twoStores(url);
      try {
        const heard: string[] = [];
        b.onCommittedElsewhere((c) => heard.push(c.event.id));
        await b.listening();
        await pg.stop("immediate");
        await pg.start();
        const key = generateSecretKey();
        const event = makeEvent(key, 1, T0, [], "after the restart");
        const deadline = Date.now() + 20_000;
        let stored = false;
        while (!stored && Date.now() < deadline) {
          stored = await a.insert(event).then(() => true, () => false);
          if (!stored) await new Promise((r) => setTimeout(r, 200));
        }
        assert(stored, "a write succeeds once the server is back");
        // b re-listens on its own: a later commit reaches it.
        let other = makeEvent(key, 1, T0 + 1, [], "heard");
        while (!heard.includes(other.id) && Date.now() < deadline) {
          await a.insert(other);
          await new Promise((r) => setTimeout(r, 300));
          if (!heard.includes(other.id)) {
            other = makeEvent(
              key,
              1,
              T0 + 2 + heard.length,
              [],
              `again ${Date.now()}`,
            );
          }
        }
        assert(heard.includes(other.id), "a commit after the restart is heard");
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  );

  await t.step("a commit on one store is heard by the other, after it committed", async () => {
    const url = await freshDatabase(pg.url);
    const [a, b] = await twoStores(url);
    try {
      const heard: CommittedElsewhere[] = [];
      const ownHeard: CommittedElsewhere[] = [];
      b.onCommittedElsewhere((c) => heard.push(c));
      a.onCommittedElsewhere((c) => ownHeard.push(c));
      await Promise.all([a.listening(), b.listening()]);
      const key = generateSecretKey();
      const stored = makeEvent(key, 1, T0, [], "pushed");
      const ephemeral = makeEvent(key, 20001, T0, [], "not stored, still pushed");
      const duplicateLater = stored;
      await a.insert(stored);
      await a.insert(ephemeral);
      await a.insert(duplicateLater);
      // A transaction rolled back (a malformed item) announces nothing.
      await a.insertBatch([{ event: makeEvent(key, 1, T0 + 1, [], "rolled back") }, {
        event: { ...makeEvent(key, 1, T0 + 2), pubkey: {} } as never,
        toon: "x",
      }]).catch(() => {});
      const deadline = Date.now() + 10_000;
      while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(heard.map((c) => c.event.id), [stored.id, ephemeral.id]);
      assertEquals(heard[0].event, stored);
      assert(heard[0].toon.length > 0);
      assertEquals(ownHeard, [], "a store does not hear its own commits");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  await t.step(
    "commits made while a store's LISTEN connection is down are heard once it listens again, once each",
    async () => {
      const url = await freshDatabase(pg.url);
      const [a, b] = await twoStores(url);
      try {
        const heard: string[] = [];
        b.onCommittedElsewhere((c) => heard.push(c.event.id));
        await b.listening();
        const key = generateSecretKey();
        const events = Array.from(
          { length: 20 },
          (_, i) => makeEvent(key, 1, T0 + i, [], `n ${i}`),
        );
        await a.insert(events[0]);
        const deadline = Date.now() + 60_000;
        while (heard.length < 1 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        // b's LISTEN connection is cut (as by a restart of the server); a commits at once, one
        // event after the other, before b can listen again: their notices reach no one.
        const [listener] = await a.sql.unsafe<{ pid: number }[]>(
          "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'listen%' AND datname = current_database()",
        );
        await a.sql.unsafe("SELECT pg_terminate_backend($1)", [listener.pid]);
        for (const event of events.slice(1)) await a.insert(event);
        while (heard.length < events.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 300));
        // Once each, in any order: a notice that arrives after LISTEN is in place again but before
        // the catch-up's read is told first, the missed rows after it.
        assertEquals([...heard].sort(), events.map((e) => e.id).sort());
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  );
});

/** Two stores on one database: two town processes of one town. */
function twoStores(url: string) {
  return Promise.all([openPostgresEventStore({ url }), openPostgresEventStore({ url })]);
}

/**
 * Migration of an event store written by the earlier format (TEXT columns, TOON as received).
 * `fixtures/event_store/format0.sqlite` was written by that version's `openEventStore` and
 * `insert`: a plain note, a note whose content holds U+0000 (stored with the town's TOON), and
 * a note stored with another client's TOON (plain `@toon-format/toon` 4.x, which 1.4.0 cannot
 * decode).
 */
import { DatabaseSync } from "node:sqlite";
import { decode as decodeToon140 } from "toon-1.4.0";
import { assert, assertEquals, assertThrows } from "../../../../harness/assert.ts";
import { openEventStore } from "../../../../state/events/event_store.ts";
import { EVENT_STORE_FORMAT } from "../../../../state/events/event_store_schema.ts";
import { EventStoreFormatError } from "../../../../state/events/event_store_migration.ts";
import { decodeEventToon } from "../../../../protocol/toon_codec.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";

const FIXTURE = new URL("../../../../fixtures/event_store/format0.sqlite", import.meta.url);

async function copyOfFixture(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "event_store_migration_" });
  const path = `${dir}/events.sqlite`;
  await Deno.copyFile(FIXTURE, path);
  return { dir, path };
}

function userVersion(path: string): number {
  const db = new DatabaseSync(path);
  try {
    return Number(
      (db.prepare("PRAGMA user_version").get() as { user_version: number })
        .user_version,
    );
  } finally {
    db.close();
  }
}

Deno.test("event store migration: the old format served a NUL event's TOON cut short", async () => {
  const { dir, path } = await copyOfFixture();
  try {
    const db = new DatabaseSync(path);
    const row = db.prepare("SELECT json, toon FROM events WHERE json LIKE '%u0000%'").get() as {
      json: string;
      toon: string;
    };
    db.close();
    const event = JSON.parse(row.json) as NostrEvent;
    assertEquals(event.content, "before\u0000after");
    assert(!row.toon.includes("after"), "node:sqlite reads TEXT only up to the NUL");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("event store migration: format 0 is rewritten byte-exact, every TOON decodable by 1.4.0", async () => {
  const { dir, path } = await copyOfFixture();
  try {
    assertEquals(userVersion(path), 0);
    const store = openEventStore({ path });
    const rows = store.query([{}]);
    assertEquals(rows.length, 3);
    for (const row of rows) {
      const event = JSON.parse(row.json) as NostrEvent;
      assertEquals(decodeEventToon(row.toon), event);
      assertEquals(decodeToon140(row.toon), event);
    }
    const [nul] = store.query([{ "#t": ["nul"] }]);
    assertEquals(decodeEventToon(nul.toon).content, "before\u0000after");
    const unfriendly = rows.find((r) => r.json.includes("bell"))!;
    assertEquals(decodeToon140(unfriendly.toon), JSON.parse(unfriendly.json));
    store.close();
    assertEquals(userVersion(path), EVENT_STORE_FORMAT);
    // Opening again changes nothing.
    const again = openEventStore({ path });
    assertEquals(again.query([{}]).map((r) => r.toon), rows.map((r) => r.toon));
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("event store migration: a newer format is refused, not rewritten", async () => {
  const { dir, path } = await copyOfFixture();
  try {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${EVENT_STORE_FORMAT + 1}`);
    db.close();
    assertThrows(() => openEventStore({ path }), EventStoreFormatError);
    assertEquals(userVersion(path), EVENT_STORE_FORMAT + 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

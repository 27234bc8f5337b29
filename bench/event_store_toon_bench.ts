/**
 * The town's storage, earlier format against format 2, in one run:
 *
 * - `write`: per stored event, the earlier path kept the client's TOON text as received in a
 *   TEXT column; format 2 encodes the event itself (`encodeEventToon`) and keeps both forms
 *   byte-exact (`toColumn`). 500 events per iteration, in a transaction rolled back so rows
 *   never pile up.
 * - `serve`: a 500-event query in TOON mode, up to the frame a session sends: TEXT rows as
 *   they are against format 2 rows (`fromColumn`).
 *
 * Both formats use the same `node:sqlite` in-memory databases and the same SQL otherwise, so the
 * ratios are those of the changed steps. Events are kind 1 with two tags and ~200 bytes of
 * content; every 50th holds U+0000 (which the earlier format served cut short).
 *
 *     deno bench -A bench/event_store_toon_bench.ts
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import { eventsTableSql, fromColumn, toColumn } from "../state/events/event_store_schema.ts";

const N = 500;
const key = generateSecretKey();
const events: NostrEvent[] = Array.from(
  { length: N },
  (_, i) =>
    JSON.parse(JSON.stringify(finalizeEvent({
      kind: 1,
      created_at: 1_700_000_000 + i,
      tags: [["t", "bench"], ["p", "ab".repeat(32)]],
      content: `note ${i}: ${"lorem ipsum dolor sit amet ".repeat(7)}${
        i % 50 === 0 ? "\u0000" : ""
      }`,
    }, key))) as NostrEvent,
);
const received = events.map((e) => encodeEventToon(e));

const LEGACY_TABLE = `CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  pubkey TEXT NOT NULL, kind INTEGER NOT NULL, created_at INTEGER NOT NULL, d_tag TEXT,
  expiration INTEGER, json TEXT NOT NULL, toon TEXT NOT NULL)`;
const INSERT = "INSERT INTO events (id, pubkey, kind, created_at, d_tag, expiration, json, toon) " +
  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
const SELECT = "SELECT id, created_at, kind, json, toon FROM events " +
  "ORDER BY created_at DESC, id ASC LIMIT ?";

function database(table: string): { db: DatabaseSync; insert: StatementSync } {
  const db = new DatabaseSync(":memory:");
  db.exec(table);
  db.exec("CREATE INDEX events_created ON events(created_at DESC, id)");
  return { db, insert: db.prepare(INSERT) };
}

type Database = ReturnType<typeof database>;

function legacyInsert(legacy: Database, e: NostrEvent, toon: string): void {
  legacy.insert.run(e.id, e.pubkey, e.kind, e.created_at, null, null, JSON.stringify(e), toon);
}

function currentInsert(current: Database, e: NostrEvent): void {
  current.insert.run(
    e.id,
    e.pubkey,
    e.kind,
    e.created_at,
    null,
    null,
    toColumn(JSON.stringify(e)),
    toColumn(encodeEventToon(e)),
  );
}

const writeLegacy = database(LEGACY_TABLE);
const writeCurrent = database(eventsTableSql());

Deno.bench("write: earlier format (client TOON kept, TEXT)", {
  group: "write",
  baseline: true,
}, () => {
  writeLegacy.db.exec("BEGIN");
  for (let i = 0; i < N; i++) legacyInsert(writeLegacy, events[i], received[i]);
  writeLegacy.db.exec("ROLLBACK");
});

Deno.bench("write: format 2 (re-encoded TOON, BLOBs)", { group: "write" }, () => {
  writeCurrent.db.exec("BEGIN");
  for (const e of events) currentInsert(writeCurrent, e);
  writeCurrent.db.exec("ROLLBACK");
});

const serveLegacy = database(LEGACY_TABLE);
const serveCurrent = database(eventsTableSql());
for (let i = 0; i < N; i++) legacyInsert(serveLegacy, events[i], received[i]);
for (const e of events) currentInsert(serveCurrent, e);
const legacySelect = serveLegacy.db.prepare(SELECT);
const currentSelect = serveCurrent.db.prepare(SELECT);

/** What a TOON-mode session sends for one stored event. */
const frame = (toon: string) => `["EVENT","s",${JSON.stringify(toon)}]`;

Deno.bench("serve: earlier format (TEXT rows)", { group: "serve", baseline: true }, () => {
  const rows = legacySelect.all(N) as { json: string; toon: string }[];
  for (const row of rows) frame(row.toon);
});

Deno.bench("serve: format 2 (text, or UTF-8 bytes when it holds U+0000)", {
  group: "serve",
}, () => {
  const rows = currentSelect.all(N) as { json: string | Uint8Array; toon: string | Uint8Array }[];
  for (const row of rows) {
    fromColumn(row.json);
    frame(fromColumn(row.toon));
  }
});

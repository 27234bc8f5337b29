/**
 * Brings an event store database to the current format (`event_store_schema.ts`) when it is
 * opened. From format 0, every event is rewritten from its JSON, which was always complete:
 * JSON escapes U+0000, while the old TOON text could be cut at one, or be a client's TOON that
 * other readers cannot decode. The TOON is therefore encoded afresh, not copied. Each event
 * keeps its `seq`, so the `tags` rows still point at it. All in one transaction: a crash leaves
 * the old format, and the next open migrates again.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import type { DatabaseSync } from "node:sqlite";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { EVENT_STORE_FORMAT, eventsTableSql, toColumn } from "./event_store_schema.ts";

/** What {@linkcode migrateEventStore} did. */
export interface EventStoreMigration {
  /** The format found. */
  from: number;
  /** The format now. */
  to: number;
  /** Events rewritten. */
  events: number;
}

/** The database is of a format this code does not know (written by a newer version). */
export class EventStoreFormatError extends StateError {
  override name = "EventStoreFormatError";
}

interface LegacyRow {
  seq: number;
  id: string;
  pubkey: string;
  kind: number;
  created_at: number;
  d_tag: string | null;
  expiration: number | null;
  json: string;
}

/** Rows copied per statement round; bounds memory on a large store. */
const PAGE = 1000;

/**
 * Migrates the database in place when needed; a new or current database is left as is (its
 * version is set). Throws {@linkcode EventStoreFormatError} for a newer format.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 *
 * const path = ":memory:";
 * const db = new DatabaseSync(path);
 * const { from, events } = migrateEventStore(db);
 * ```
 */
export function migrateEventStore(db: DatabaseSync): EventStoreMigration {
  const from = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version,
  );
  if (from > EVENT_STORE_FORMAT) {
    throw new EventStoreFormatError(
      `event store format ${from} is newer than this version reads (${EVENT_STORE_FORMAT})`,
    );
  }
  if (from === EVENT_STORE_FORMAT) return { from, to: from, events: 0 };
  const hasEvents = db.prepare(
    "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'events'",
  ).get() !== undefined;
  db.exec("BEGIN IMMEDIATE");
  try {
    const events = hasEvents ? rewriteEvents(db) : 0;
    db.exec(`PRAGMA user_version = ${EVENT_STORE_FORMAT}`);
    db.exec("COMMIT");
    return { from, to: EVENT_STORE_FORMAT, events };
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/** Format 0 -> 2: a new `events` table, both forms stored byte-exact, the TOON re-encoded. */
function rewriteEvents(db: DatabaseSync): number {
  db.exec(eventsTableSql("events_next"));
  const page = db.prepare(
    "SELECT seq, id, pubkey, kind, created_at, d_tag, expiration, CAST(json AS TEXT) AS json " +
      "FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const insert = db.prepare(
    "INSERT INTO events_next (seq, id, pubkey, kind, created_at, d_tag, expiration, json, toon) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  let last = -1;
  let count = 0;
  while (true) {
    const rows = page.all(last, PAGE) as unknown as LegacyRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const event = JSON.parse(row.json) as NostrEvent;
      insert.run(
        row.seq,
        row.id,
        row.pubkey,
        row.kind,
        row.created_at,
        row.d_tag,
        row.expiration,
        toColumn(JSON.stringify(event)),
        toColumn(encodeEventToon(event)),
      );
      last = row.seq;
      count++;
    }
  }
  db.exec("DROP TABLE events");
  db.exec("ALTER TABLE events_next RENAME TO events");
  return count;
}

/**
 * A run of plain events (not kind 5, not replaceable, addressable or ephemeral, not expired)
 * inserted into the town's PostgreSQL store in ONE statement: the duplicate and deletion checks,
 * the rows, their tags and, when asked, the NOTIFY of the rows to the town's other processes
 * (docs/ARCHITECTURE.md "The roles", docs/SCALE.md "On PostgreSQL: 1, 2 and 3 processes"). The
 * three or four statements it replaces each cost a round trip to the server while the batch's
 * author locks were held; with this and the locks' statement sent together (pipelined), a batch
 * of plain writes is BEGIN, one send, COMMIT (state/postgres/postgres_event_store.ts).
 *
 * The statement runs after the authors' advisory locks are taken, in a statement of its own
 * before it: READ COMMITTED takes its snapshot when a statement starts, so the checks here see
 * every deletion committed before the locks were granted.
 *
 * @module
 */
import type postgres from "postgres";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  eventExpiration,
  indexedTags,
  type InsertResult,
  type InsertStatus,
} from "../events/event_store.ts";

/** One event of the run, with its TOON. */
export interface PlainInsertItem {
  /** The event, verified. */
  event: NostrEvent;
  /** Its TOON, as stored. */
  toon: string;
}

/** Options for {@linkcode plainInsertStatement}. */
export interface PlainInsertOptions {
  /** NOTIFY the stored rows' ids on this channel, as `{"o": origin, "ids": [...]}`. */
  notify?: { channel: string; origin: string };
  /** The stored form of a tag value (PostgreSQL text refuses U+0000). */
  pgText(value: string): string;
}

/** The statement and its parameters, for `tx.unsafe(sql, params)`. */
export interface PlainInsertStatement {
  /** The SQL. */
  sql: string;
  /** Its parameters. */
  params: postgres.ParameterOrJSON<never>[];
}

/** A row the statement returns: `i` a stored event, `d` a deletion of one asked, `n` a NOTIFY. */
export interface PlainInsertRow {
  /** Which kind of row. */
  w: "i" | "d" | "n";
  /** The event's id (`i`, `d`). */
  id: string | null;
  /** The stored event's seq (`i`), or the deleting author (`d`). */
  v: string | null;
}

/** At most this many ids a NOTIFY (about 6.7 KB, under PostgreSQL's 8,000-byte payload). */
const IDS_PER_NOTICE = 100;

const UTF8 = new TextEncoder();

/**
 * The one statement that inserts `run`; read its rows with {@linkcode plainInsertResults}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainInsertStatement } from "./postgres_plain_insert.ts";
 *
 * const { sql, params } = plainInsertStatement([], { pgText: (v) => v });
 * assert(sql.startsWith("WITH") && params.length === 11);
 * ```
 */
export function plainInsertStatement(
  run: readonly PlainInsertItem[],
  options: PlainInsertOptions,
): PlainInsertStatement {
  const tagIds: string[] = [];
  const names: string[] = [];
  const values: string[] = [];
  const times: number[] = [];
  const seen = new Set<string>();
  for (const { event } of run) {
    // An event twice in one run is stored once: its tags are sent once.
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    for (const [name, value] of indexedTags(event)) {
      tagIds.push(event.id);
      names.push(options.pgText(name));
      values.push(options.pgText(value));
      times.push(event.created_at);
    }
  }
  const notify = options.notify === undefined ? "" : `, n AS (
  SELECT pg_notify($12, json_build_object('o', $13::text, 'ids', json_agg(id ORDER BY seq))::text)
  FROM (SELECT id, seq, (row_number() OVER (ORDER BY seq) - 1) / ${IDS_PER_NOTICE} AS g FROM ins) z
  GROUP BY g
)`;
  const sql = `WITH u AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::text[],
    $7::text[]) WITH ORDINALITY AS u(i, p, k, c, x, j, t, o)
), f AS (
  SELECT DISTINCT ON (i) * FROM u
  WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = u.i)
    AND NOT EXISTS (SELECT 1 FROM deleted_ids d WHERE d.id = u.i AND d.pubkey = u.p)
  ORDER BY i, o
), ins AS (
  INSERT INTO events (id, pubkey, kind, created_at, d_tag, expiration, json, toon)
  SELECT i, p, k, c, NULL, x, j, decode(t, 'base64') FROM f ORDER BY o
  RETURNING seq, id
), tg AS (
  INSERT INTO tags (seq, name, value, created_at)
  SELECT ins.seq, g.n, g.v, g.c
  FROM unnest($8::text[], $9::text[], $10::text[], $11::bigint[]) AS g(i, n, v, c)
  JOIN ins ON ins.id = g.i
)${notify}
SELECT 'i' AS w, id, seq::text AS v FROM ins
UNION ALL SELECT 'd', d.id, d.pubkey FROM deleted_ids d WHERE d.id = ANY($1::text[])${
    options.notify === undefined ? "" : "\nUNION ALL SELECT 'n', NULL, NULL FROM n"
  }`;
  const params: postgres.ParameterOrJSON<never>[] = [
    run.map((r) => r.event.id),
    run.map((r) => r.event.pubkey),
    run.map((r) => r.event.kind),
    run.map((r) => r.event.created_at),
    run.map((r) => eventExpiration(r.event) ?? null),
    run.map((r) => JSON.stringify(r.event)),
    run.map((r) => UTF8.encode(r.toon).toBase64()),
    tagIds,
    names,
    values,
    times,
  ] as postgres.ParameterOrJSON<never>[];
  if (options.notify !== undefined) params.push(options.notify.channel, options.notify.origin);
  return { sql, params };
}

/**
 * Each event's outcome from the statement's rows, in the run's order: `stored` for the first
 * of an id the statement inserted, `rejected-deleted` for one its author deleted, `duplicate`
 * otherwise (stored before, or earlier in the run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainInsertResults } from "./postgres_plain_insert.ts";
 *
 * const results = plainInsertResults([], []);
 * assert(results.length === 0);
 * ```
 */
export function plainInsertResults(
  run: readonly PlainInsertItem[],
  rows: readonly PlainInsertRow[],
): InsertResult[] {
  const inserted = new Set<string>();
  const deleted = new Set<string>();
  for (const row of rows) {
    if (row.w === "i") inserted.add(row.id!);
    else if (row.w === "d") deleted.add(`${row.id}${row.v}`);
  }
  return run.map(({ event, toon }) => {
    let status: InsertStatus;
    if (inserted.delete(event.id)) status = "stored";
    else if (deleted.has(`${event.id}${event.pubkey}`)) status = "rejected-deleted";
    else status = "duplicate";
    return { status, id: event.id, removedIds: [], toon };
  });
}

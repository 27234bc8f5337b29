/**
 * The town's event store on PostgreSQL (npm `postgres`), shared by every town process of one
 * town (docs/OPERATIONS.md, "A town on several machines"). Same semantics as the SQLite store
 * (`event_store.ts`): NIP-01 replaceable/addressable/ephemeral kinds, NIP-09 deletions, NIP-40
 * expiration, NIP-01 queries and NIP-45 counts; both pass tests/support/town_store_suite.ts.
 *
 * - Group commit: inserts that arrive while a transaction is in flight go together into the
 *   next one (at most 256), so a FULFILL still waits for exactly one commit.
 * - Several writers: each transaction first takes a transaction-scoped advisory lock per author
 *   of its events, in ascending order (no deadlock between two processes' batches). Every rule
 *   that decides an insert (same id, newer version, deletion) concerns one author, so two
 *   processes never both store a replaceable event's two versions, nor an event its author's
 *   committed deletion refused.
 * - Live push across processes: the transaction that stores events also sends
 *   `NOTIFY turnpike_events` with their ids (and the whole event for an ephemeral one, never
 *   stored), so the notice is delivered only if the commit happens; a listening process reads
 *   the rows back and hands them to {@linkcode PostgresEventStore.onCommittedElsewhere}. A
 *   notice sent while a process's LISTEN connection is down (the server restarting) reaches no
 *   one: when it listens again, it reads the rows stored since the last it heard (a margin of
 *   {@linkcode CATCH_UP_MARGIN} rows before, for commits out of sequence order) and hands on those
 *   it has neither handed on nor committed itself (the newest {@linkcode RECENT_IDS} remembered).
 *   Each once, not in commit order: a notice that arrives once LISTEN is back but before the
 *   catch-up's read is handed on first, the rows missed before it after.
 * - Text PostgreSQL cannot hold: the TOON (which may contain U+0000) is stored as UTF-8 bytes
 *   (bytea); the JSON never holds a raw U+0000 (JSON escapes it); tag values and `d` tags are
 *   matched through an injective escape of `\` and U+0000 ({@linkcode pgText}).
 * - Schema: created on open, versioned in `turnpike_schema` (a migration runs under an advisory
 *   lock, so processes starting together do not race).
 *
 * @module
 */
import { PostgresStoreError } from "./postgres_store_error.ts";
import { SeenEventIds } from "../../protocol/seen_event_ids.ts";
import { sleep } from "../../protocol/backoff.ts";
import type postgres from "postgres";
import { isAddressableKind, isEphemeralKind, isReplaceableKind } from "nostr-tools/kinds";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NostrFilter } from "../../protocol/nostr_filter.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import {
  DEFAULT_QUERY_LIMIT,
  eventExpiration,
  EventStoreQueryError,
  indexedTags,
  type InsertItem,
  type InsertResult,
  mergeQueryResults,
  parseAddress,
  planInsert,
  type QueryOptions,
  type StoredEvent,
  storedVersionWins,
} from "../events/event_store.ts";
import { eventStoreSchema } from "../events/event_store_schema.ts";
import { createPostgresSchema, openPostgresSchema } from "./postgres_schema.ts";
import { preparesFilterShape } from "./prepared_filter_shape.ts";
import {
  plainInsertResults,
  type PlainInsertRow,
  plainInsertStatement,
} from "./postgres_plain_insert.ts";
import type { CommittedElsewhere, TownStore } from "../events/town_store.ts";

export { redactUrl } from "./postgres_schema.ts";

/** Options for {@linkcode openPostgresEventStore}. */
export interface PostgresEventStoreOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Most connections of this process. Default 8. */
  maxConnections?: number;
  /** Clock in unix seconds (tests). */
  now?: () => number;
  /** Most events per transaction. Default 256. */
  maxBatch?: number;
  /** Seconds to wait for a connection before an operation fails. Default 5. */
  connectTimeoutSeconds?: number;
}

export { PostgresStoreError } from "./postgres_store_error.ts";

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION = 1;
/** The channel committed events are announced on. */
export const EVENTS_CHANNEL = "turnpike_events";
/** Rows before the last one heard that a catch-up reads again (commits out of `seq` order). */
const CATCH_UP_MARGIN = 512n;
/** The most rows one catch-up hands on. */
const MAX_CATCH_UP = 10_000;
/** Ids handed on or committed here that are remembered, so a catch-up tells none twice. */
const RECENT_IDS = 16_384;
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_NOTIFY_BYTES = 7900;

const SCHEMA = eventStoreSchema("postgres");
/** The batch's authors' advisory locks, taken in the order given (sorted: no deadlock). */
const AUTHOR_LOCKS =
  "SELECT pg_advisory_xact_lock(k) FROM (SELECT k, i FROM unnest($1::bigint[]) " +
  "WITH ORDINALITY AS t(k, i) ORDER BY i) s";

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
type Param = postgres.ParameterOrJSON<never>;

interface Queued {
  item: { event: NostrEvent; toon: string };
  resolve(result: InsertResult): void;
  reject(err: unknown): void;
}

interface Row {
  seq: string;
  id: string;
  created_at: string;
}

const UTF8 = new TextEncoder();
const FROM_UTF8 = new TextDecoder();

/**
 * The text a tag value or `d` tag is stored and matched as: unchanged unless it holds `\` or
 * U+0000, which PostgreSQL text refuses; then both are escaped (`\\`, `\0`). Injective, so a
 * match on the stored form is a match on the original.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(pgText("a\u0000b"), "a\\0b");
 * ```
 */
export function pgText(value: string): string {
  if (!value.includes("\\") && !value.includes("\u0000")) return value;
  return value.replaceAll("\\", "\\\\").replaceAll("\u0000", "\\0");
}

/**
 * The event store on PostgreSQL. Open it with {@linkcode openPostgresEventStore}. It needs
 * PostgreSQL: no example that runs here: tests/unit/state/events/town_store_test.ts.
 */
export class PostgresEventStore implements TownStore {
  readonly backend = "postgres";
  readonly #sql: Sql;
  readonly #now: () => number;
  readonly #maxBatch: number;
  /** Tells this process's own NOTIFYs from the others'. */
  readonly #origin = crypto.randomUUID().slice(0, 8);
  #queue: Queued[] = [];
  #inFlight = false;
  #listeners: ((committed: CommittedElsewhere) => void)[] = [];
  #listening: Promise<unknown> | undefined;
  /** Reads of notified rows, chained so listeners hear them in commit order. */
  #readChain: Promise<void> = Promise.resolve();
  /** The highest `seq` heard (undefined until LISTEN is first in place). */
  #heardSeq: bigint | undefined;
  /** Ids handed on or committed here, the newest {@linkcode RECENT_IDS}. */
  #recent = new SeenEventIds({ max: RECENT_IDS });
  #batches = 0;
  #closed = false;

  constructor(sql: Sql, options: { now?: () => number; maxBatch?: number } = {}) {
    this.#sql = sql;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /** The `postgres` client (for other shared state of the town: blob index, channel books). */
  get sql(): Sql {
    return this.#sql;
  }

  /** Transactions committed so far. */
  get batches(): number {
    return this.#batches;
  }

  /** Inserts one event; batched with concurrent inserts into one transaction. */
  insert(event: NostrEvent, toon?: string): Promise<InsertResult> {
    if (this.#closed) return Promise.reject(new PostgresStoreError("event store closed"));
    let item: Queued["item"];
    try {
      item = { event, toon: toon ?? encodeEventToon(event) };
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#inFlight) queueMicrotask(() => this.#next());
    });
  }

  /** Inserts events in order, all in one transaction. */
  async insertBatch(items: readonly InsertItem[]): Promise<InsertResult[]> {
    const prepared = items.map((i) => ({
      event: i.event,
      toon: i.toon ?? encodeEventToon(i.event),
    }));
    const results = await this.#transaction(prepared);
    this.#batches++;
    return results;
  }

  #next(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#inFlight = true;
    const batch = this.#queue.splice(0, this.#maxBatch);
    void this.#commit(batch).finally(() => {
      this.#inFlight = false;
      this.#next();
    });
  }

  async #commit(batch: Queued[]): Promise<void> {
    try {
      const results = await this.#transaction(batch.map((q) => q.item));
      this.#batches++;
      results.forEach((r, i) => batch[i].resolve(r));
    } catch (err) {
      if (batch.length === 1 || !isDataError(err)) {
        // The database is away (or the connection broke): nothing of this batch is known to
        // be stored, and each writer hears so (the town answers T00, never a FULFILL).
        for (const q of batch) q.reject(err);
        return;
      }
      // One bad item must not sink the others: one transaction each, in order.
      for (const q of batch) {
        try {
          const [result] = await this.#transaction([q.item]);
          this.#batches++;
          q.resolve(result);
        } catch (one) {
          q.reject(one);
        }
      }
    }
  }

  async #transaction(items: { event: NostrEvent; toon: string }[]): Promise<InsertResult[]> {
    const authors = [...new Set(items.map((i) => i.event.pubkey))].sort();
    const lockKeys = [authors.map(authorLockKey)];
    if (items.every((i) => this.#isPlain(i.event))) {
      // The common batch: the locks and one statement, sent together (state/postgres/postgres_plain_insert.ts).
      const { sql, params } = plainInsertStatement(items, {
        pgText,
        notify: { channel: EVENTS_CHANNEL, origin: this.#origin },
      });
      const [, rows] = await this.#sql.begin((tx) => [
        tx.unsafe(AUTHOR_LOCKS, lockKeys),
        tx.unsafe<PlainInsertRow[]>(sql, params),
      ]) as [unknown, PlainInsertRow[]];
      return plainInsertResults(items, rows);
    }
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe(AUTHOR_LOCKS, lockKeys);
      const results: InsertResult[] = [];
      // Runs of plain events (no kind 5, not replaceable, ephemeral or expired) go in a few
      // statements for the whole run; they cannot affect one another, and a run ends at any
      // other event, which is inserted alone, in order.
      let run: { event: NostrEvent; toon: string }[] = [];
      const flush = async () => {
        if (run.length > 0) results.push(...await this.#insertPlain(tx, run));
        run = [];
      };
      for (const item of items) {
        if (this.#isPlain(item.event)) {
          run.push(item);
          continue;
        }
        await flush();
        results.push(await this.#insertOne(tx, item.event, item.toon));
      }
      await flush();
      await this.#notify(tx, items, results);
      return results;
    }) as InsertResult[];
  }

  #isPlain(event: NostrEvent): boolean {
    if (event.kind === 5 || isEphemeralKind(event.kind)) return false;
    if (isReplaceableKind(event.kind) || isAddressableKind(event.kind)) return false;
    const expiration = eventExpiration(event);
    return expiration === undefined || expiration > this.#now();
  }

  /** Inserts a run of plain events in one statement (state/postgres/postgres_plain_insert.ts). */
  async #insertPlain(
    tx: Tx,
    run: { event: NostrEvent; toon: string }[],
  ): Promise<InsertResult[]> {
    const { sql, params } = plainInsertStatement(run, { pgText });
    return plainInsertResults(run, await tx.unsafe<PlainInsertRow[]>(sql, params));
  }

  async #notify(
    tx: Tx,
    items: { event: NostrEvent; toon: string }[],
    results: InsertResult[],
  ): Promise<void> {
    const payloads: string[] = [];
    let ids: string[] = [];
    const flush = () => {
      if (ids.length > 0) payloads.push(JSON.stringify({ o: this.#origin, ids }));
      ids = [];
    };
    results.forEach((r, i) => {
      if (r.status === "stored" || r.status === "replaced") {
        ids.push(r.id);
        // Committed here (or rolled back: then in no row): a catch-up does not hand it on.
        if (this.#listeners.length > 0) this.#recent.firstTime(r.id);
        if (ids.length >= 100) flush();
      } else if (r.status === "ephemeral") {
        const payload = JSON.stringify({ o: this.#origin, e: items[i].event });
        if (UTF8.encode(payload).byteLength <= MAX_NOTIFY_BYTES) payloads.push(payload);
      }
    });
    flush();
    for (const payload of payloads) {
      await tx.unsafe("SELECT pg_notify($1, $2)", [EVENTS_CHANNEL, payload]);
    }
  }

  async #insertOne(tx: Tx, event: NostrEvent, toon: string): Promise<InsertResult> {
    const plan = planInsert(event, toon, this.#now());
    const { early, replaceable, result, stored } = plan;
    if (early !== undefined) return result(early);
    const [seen] = await tx.unsafe(
      "SELECT (SELECT 1 FROM events WHERE id = $1) AS stored, " +
        "(SELECT 1 FROM deleted_ids WHERE id = $1 AND pubkey = $2) AS deleted",
      [event.id, event.pubkey],
    );
    if (seen.stored !== null) return result("duplicate");
    if (seen.deleted !== null) return result("rejected-deleted");
    const d = pgText(plan.d);
    const removedIds: string[] = [];
    if (replaceable) {
      const [gone] = await tx.unsafe(
        "SELECT 1 AS x FROM deleted_addresses WHERE pubkey = $1 AND kind = $2 AND d_tag = $3 " +
          "AND until_created_at >= $4",
        [event.pubkey, event.kind, d, event.created_at],
      );
      if (gone) return result("rejected-deleted");
      const older = await tx.unsafe<Row[]>(
        "SELECT seq, id, created_at FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3",
        [event.pubkey, event.kind, d],
      );
      const versions = older.map((row) => ({ created_at: Number(row.created_at), id: row.id }));
      if (versions.some((row) => storedVersionWins(row, event))) return result("rejected-stale");
      if (older.length > 0) {
        await tx.unsafe("DELETE FROM events WHERE seq = ANY($1::bigint[])", [
          older.map((r) => r.seq),
        ]);
        removedIds.push(...older.map((r) => r.id));
      }
    }
    const [{ seq }] = await tx.unsafe<{ seq: string }[]>(
      "INSERT INTO events (id, pubkey, kind, created_at, d_tag, expiration, json, toon) " +
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
      [
        ...plan.columns(d),
        JSON.stringify(event),
        UTF8.encode(toon) as unknown as Param,
      ],
    );
    // One row per distinct (name, value): tag-driven queries then yield each event once.
    const tags = indexedTags(event);
    const names = tags.map(([name]) => pgText(name));
    const values = tags.map(([, value]) => pgText(value));
    if (names.length > 0) {
      await tx.unsafe(
        "INSERT INTO tags (seq, name, value, created_at) " +
          "SELECT $1, n, v, $4 FROM unnest($2::text[], $3::text[]) AS t(n, v)",
        [seq, names, values, event.created_at],
      );
    }
    if (event.kind === 5) removedIds.push(...await this.#applyDeletion(tx, event));
    return stored(removedIds);
  }

  /** NIP-09: removes the author's own `e` events and `a` addresses, and remembers them. */
  async #applyDeletion(tx: Tx, deletion: NostrEvent): Promise<string[]> {
    const removed: string[] = [];
    for (const tag of deletion.tags) {
      if (tag.length < 2) continue;
      if (tag[0] === "e" && /^[0-9a-f]{64}$/.test(tag[1])) {
        await tx.unsafe(
          "INSERT INTO deleted_ids (id, pubkey) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          [tag[1], deletion.pubkey],
        );
        // Deleting a deletion has no effect (NIP-09); others' events are never touched.
        const gone = await tx.unsafe<{ id: string }[]>(
          "DELETE FROM events WHERE id = $1 AND pubkey = $2 AND kind <> 5 RETURNING id",
          [tag[1], deletion.pubkey],
        );
        removed.push(...gone.map((r) => r.id));
      } else if (tag[0] === "a") {
        const address = parseAddress(tag[1]);
        if (!address || address.pubkey !== deletion.pubkey) continue;
        const d = pgText(address.d);
        await tx.unsafe(
          "INSERT INTO deleted_addresses (pubkey, kind, d_tag, until_created_at) " +
            "VALUES ($1, $2, $3, $4) ON CONFLICT (pubkey, kind, d_tag) DO UPDATE SET " +
            "until_created_at = greatest(deleted_addresses.until_created_at, " +
            "excluded.until_created_at)",
          [address.pubkey, address.kind, d, deletion.created_at],
        );
        const gone = await tx.unsafe<{ id: string }[]>(
          "DELETE FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3 AND " +
            "created_at <= $4 RETURNING id",
          [address.pubkey, address.kind, d, deletion.created_at],
        );
        removed.push(...gone.map((r) => r.id));
      }
    }
    return removed;
  }

  /** NIP-01 query; see {@linkcode TownStore.query}. */
  async query(filters: readonly NostrFilter[], options: QueryOptions = {}): Promise<StoredEvent[]> {
    const cap = options.limit ?? DEFAULT_QUERY_LIMIT;
    const now = this.#now();
    const byFilter: StoredEvent[][] = [];
    for (const filter of filters) {
      const limit = Math.min(filter.limit ?? cap, cap);
      if (limit <= 0) {
        byFilter.push([]);
        continue;
      }
      const params: unknown[] = [];
      const where = buildWhere(filter, now, params);
      params.push(limit);
      const rows = await this.#sql.unsafe<QueryRow[]>(
        `SELECT e.id, e.created_at, e.kind, ${options.keysOnly ? "''::text AS json" : "e.json"}, ` +
          // Left out as text, not bytea: each bytea value is read into a Buffer of its own.
          `${options.jsonOnly || options.keysOnly ? "''::text AS toon" : "e.toon"} ` +
          `FROM events e WHERE ${where} ` +
          `ORDER BY e.created_at DESC, e.id COLLATE "C" ASC LIMIT $${params.length}`,
        params as Param[],
        { prepare: preparesFilterShape(filter) },
      );
      byFilter.push(rows.map(fromRow));
    }
    return mergeQueryResults(byFilter);
  }

  /** NIP-45 count; see {@linkcode TownStore.count}. */
  async count(filters: readonly NostrFilter[]): Promise<number> {
    if (filters.length === 0) return 0;
    const now = this.#now();
    const params: unknown[] = [];
    const parts = filters.map((f) =>
      `SELECT e.seq FROM events e WHERE ${buildWhere(f, now, params)}`
    );
    const [row] = await this.#sql.unsafe<{ n: string }[]>(
      `SELECT count(*) AS n FROM (${parts.join(" UNION ")}) u`,
      params as Param[],
    );
    return Number(row.n);
  }

  /** Deletes expired events (NIP-40); their ids. */
  async purgeExpired(): Promise<string[]> {
    const rows = await this.#sql.unsafe<{ id: string }[]>(
      "DELETE FROM events WHERE expiration IS NOT NULL AND expiration <= $1 RETURNING id",
      [this.#now()],
    );
    return rows.map((r) => r.id);
  }

  /** Number of stored events. */
  async size(): Promise<number> {
    const [row] = await this.#sql.unsafe<{ n: string }[]>("SELECT count(*) AS n FROM events");
    return Number(row.n);
  }

  /**
   * Hears events other processes commit (LISTEN on {@linkcode EVENTS_CHANNEL}); rows are read
   * back after the notice, so only committed events are heard.
   */
  onCommittedElsewhere(listener: (committed: CommittedElsewhere) => void): void {
    this.#listeners.push(listener);
    this.#listening ??= this.#sql.listen(
      EVENTS_CHANNEL,
      (payload) => this.#onNotice(payload),
      () => this.#onListen(),
    );
  }

  /** LISTEN is in place: the first time, from now on; again, with what it missed meanwhile. */
  #onListen(): void {
    this.#readChain = this.#readChain.then(async () => {
      if (this.#heardSeq === undefined) {
        const [row] = await this.#sql.unsafe<{ seq: string | null }[]>(
          "SELECT max(seq) AS seq FROM events",
        ).catch(() => [{ seq: null }]);
        this.#heardSeq = BigInt(row.seq ?? 0);
        return;
      }
      const rows = await this.#sql.unsafe<NotifiedRow[]>(
        "SELECT seq, id, json, toon FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        [String(this.#heardSeq - CATCH_UP_MARGIN), MAX_CATCH_UP],
      ).catch(() => []);
      this.#tellRows(rows);
    });
  }

  /** Hands on the rows not handed on or committed here before. */
  #tellRows(rows: NotifiedRow[]): void {
    for (const row of rows) {
      const seq = BigInt(row.seq);
      if (this.#heardSeq === undefined || seq > this.#heardSeq) this.#heardSeq = seq;
      if (!this.#recent.firstTime(row.id)) continue;
      const committed = {
        event: JSON.parse(row.json) as NostrEvent,
        toon: FROM_UTF8.decode(row.toon),
      };
      for (const listener of this.#listeners) listener(committed);
    }
  }

  /** Resolves once LISTEN is in place (after {@linkcode onCommittedElsewhere}). */
  async listening(): Promise<void> {
    await this.#listening;
  }

  #onNotice(payload: string): void {
    let notice: { o?: string; ids?: string[]; e?: NostrEvent };
    try {
      notice = JSON.parse(payload);
    } catch {
      return;
    }
    if (notice.o === this.#origin) return;
    const tell = (committed: CommittedElsewhere) => {
      for (const listener of this.#listeners) listener(committed);
    };
    this.#readChain = this.#readChain.then(async () => {
      if (notice.e !== undefined) {
        try {
          tell({ event: notice.e, toon: encodeEventToon(notice.e) });
        } catch { /* not encodable: the writer would not have stored it either */ }
        return;
      }
      if (!Array.isArray(notice.ids) || notice.ids.length === 0) return;
      const rows = await this.#sql.unsafe<NotifiedRow[]>(
        "SELECT seq, id, json, toon FROM events WHERE id = ANY($1::text[]) ORDER BY seq",
        [notice.ids],
      ).catch(() => []);
      this.#tellRows(rows);
    });
  }

  /** Waits for queued inserts, then closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#inFlight || this.#queue.length > 0) {
      await sleep(5);
    }
    await this.#readChain;
    await this.#sql.end({ timeout: 5 });
  }
}

/** A row read back after a notice or a catch-up. */
interface NotifiedRow {
  seq: string;
  id: string;
  json: string;
  toon: Uint8Array;
}

interface QueryRow {
  id: string;
  created_at: string;
  kind: number;
  json: string;
  /** Text when left out of the query (empty). */
  toon: Uint8Array | string;
}

function fromRow(row: QueryRow): StoredEvent {
  return {
    id: row.id,
    createdAt: Number(row.created_at),
    kind: row.kind,
    json: row.json,
    toon: typeof row.toon === "string" ? row.toon : FROM_UTF8.decode(row.toon),
  };
}

/** The advisory lock key of an author: the first 60 bits of the pubkey, as a signed int8. */
function authorLockKey(pubkey: string): string {
  return BigInt.asIntN(64, BigInt(`0x${pubkey.slice(0, 15) || "0"}`)).toString();
}

function tagKeys(filter: NostrFilter): string[] {
  return Object.keys(filter).filter((k) =>
    k.length === 2 && k[0] === "#" && filter[k as `#${string}`] !== undefined
  ).sort();
}

/** The WHERE condition of one filter; its values appended to `params` ($n placeholders). */
function buildWhere(filter: NostrFilter, now: number, params: unknown[]): string {
  if (filter.search !== undefined) {
    throw new EventStoreQueryError("search (NIP-50) is not supported");
  }
  const bind = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const conds = [`(e.expiration IS NULL OR e.expiration > ${bind(now)})`];
  if (filter.ids) conds.push(`e.id = ANY(${bind([...filter.ids])}::text[])`);
  if (filter.authors) conds.push(`e.pubkey = ANY(${bind([...filter.authors])}::text[])`);
  if (filter.kinds) conds.push(`e.kind = ANY(${bind([...filter.kinds])}::int[])`);
  if (filter.since !== undefined) conds.push(`e.created_at >= ${bind(filter.since)}`);
  if (filter.until !== undefined) conds.push(`e.created_at <= ${bind(filter.until)}`);
  for (const key of tagKeys(filter)) {
    const values = filter[key as `#${string}`]!.map(pgText);
    conds.push(
      `EXISTS (SELECT 1 FROM tags t WHERE t.seq = e.seq AND t.name = ${bind(key[1])} ` +
        `AND t.value = ANY(${bind(values)}::text[]))`,
    );
  }
  return conds.join(" AND ");
}

/** A failure of the data (a constraint, a bad value), not of the database or connection. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

/**
 * Opens the store: connects, and creates or upgrades the schema (under an advisory lock, so
 * several processes starting together migrate once).
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/state/events/town_store_test.ts.
 */
export async function openPostgresEventStore(
  options: PostgresEventStoreOptions,
): Promise<PostgresEventStore> {
  const sql = await openPostgresSchema({
    url: options.url,
    maxConnections: options.maxConnections ?? 8,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
    what: "the PostgreSQL store",
    schema: migrateInTransaction,
    error: (message, cause) => new PostgresStoreError(message, { cause }),
  });
  return new PostgresEventStore(sql, options);
}

/**
 * Creates the schema, or checks its version.
 *
 * It needs PostgreSQL: no example that runs here: tests/unit/state/events/town_store_test.ts.
 */
export async function migratePostgres(sql: Sql): Promise<void> {
  await createPostgresSchema(sql, migrateInTransaction);
}

/** The migration, in a transaction that holds the schema lock. */
async function migrateInTransaction(tx: postgres.TransactionSql): Promise<void> {
  await tx.unsafe("CREATE TABLE IF NOT EXISTS turnpike_schema (version INTEGER NOT NULL)");
  const [row] = await tx.unsafe<{ version: number }[]>(
    "SELECT max(version) AS version FROM turnpike_schema",
  );
  const version = row?.version ?? 0;
  if (version > POSTGRES_SCHEMA_VERSION) {
    throw new PostgresStoreError(
      `schema version ${version} is newer than this version reads (${POSTGRES_SCHEMA_VERSION})`,
    );
  }
  if (version === POSTGRES_SCHEMA_VERSION) return;
  await tx.unsafe(SCHEMA).simple();
  await tx.unsafe("INSERT INTO turnpike_schema (version) VALUES ($1)", [
    POSTGRES_SCHEMA_VERSION,
  ]);
}

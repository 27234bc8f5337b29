/**
 * The provider's job index, `<state dir>/provider.sqlite`: its tables, the one-time import of
 * the `provider-jobs/<id>.toml` files an older turnpike kept the records in, and the readers a
 * process beside the running provider uses (the dashboard, receipts, the payment log's income).
 *
 * - `provider_jobs`: a row per admitted job, its TOML text (the format of
 *   `state/jobs/provider_job_record.ts`), a `version` every write raises and `unaudited` (set by
 *   a write, cleared once the audit trail's commit of it lands), as the requester's rows
 *   (`state/jobs/job_index_schema.ts`).
 * - `income`: a row per payment the provider was paid, the payment log's line of it as JSON
 *   (`state/payments/payment_log.ts` `PaymentEntry`), written in the same transaction as the
 *   record that says the job paid (docs/PROTOCOL.md "A crash between a payment's two records");
 *   a row per payment taken back (`reversed`) and per deposit refunded (`out`, `fulfilled`).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { readCappedTextFile } from "../capped_file.ts";
import { pathExists } from "../path_exists.ts";
import type { PaymentEntry } from "../payments/payment_log.ts";
import { earningOf } from "../payments/provider_earnings.ts";
import { inTransaction, openRowDbReadOnly } from "./row_db.ts";
import {
  isTerminalProviderJob,
  MAX_PROVIDER_JOB_RECORD_BYTES,
  parseProviderJobRecord,
  type ProviderJobRecord,
  ProviderJobRecordError,
  TERMINAL_PROVIDER_JOB_STATUSES,
} from "./provider_job_record.ts";

/** The schema the index has. */
export const PROVIDER_JOB_INDEX_SCHEMA = "1";

/** The index's file, relative to the state dir. */
export const PROVIDER_JOB_INDEX = "provider.sqlite";

/** Directory of an older profile's record files, relative to the state dir. */
export const PROVIDER_JOBS_DIR = "provider-jobs";

/** The file `provider-jobs/` holds once its records are rows (never imported again). */
export const PROVIDER_RECORDS_IN_INDEX_FILE = "RECORDS_IN_INDEX.txt";

/** A record that could not be read (a file not imported, or a row whose text does not parse). */
export interface CorruptProviderJobFile {
  path: string;
  reason: string;
}

/** The upsert of a record's row: `version` one above the highest, `unaudited` set. */
export const UPSERT_PROVIDER_JOB_SQL = `INSERT INTO provider_jobs (id, status, text, version,
    unaudited, customer) VALUES (?, ?, ?, (SELECT coalesce(max(version), 0) + 1 FROM provider_jobs),
    1, ?)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, text = excluded.text,
    version = excluded.version, unaudited = 1, customer = excluded.customer
  RETURNING version`;

/** The ended statuses as an SQL list (`'published', ...`), for `status IN (...)`. */
export const ENDED_STATUSES_SQL: string = TERMINAL_PROVIDER_JOB_STATUSES.map((t) => `'${t}'`)
  .join(", ");

/** The insert of a payment's income row. */
export const INSERT_INCOME_SQL =
  "INSERT INTO income (invoice_id, job_id, ts, entry) VALUES (?, ?, ?, ?)";

/**
 * Makes the index's tables (those there are kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * createProviderJobIndex(db);
 * assert.equal(db.prepare("SELECT count(*) AS n FROM income").get()?.n, 0);
 * db.close();
 * ```
 */
export function createProviderJobIndex(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS provider_jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL,
      text TEXT NOT NULL, version INTEGER NOT NULL, unaudited INTEGER NOT NULL DEFAULT 0,
      customer TEXT);
    CREATE INDEX IF NOT EXISTS provider_jobs_version ON provider_jobs (version);
    CREATE INDEX IF NOT EXISTS provider_jobs_unaudited ON provider_jobs (unaudited)
      WHERE unaudited = 1;
    CREATE TABLE IF NOT EXISTS income (invoice_id TEXT PRIMARY KEY, job_id TEXT NOT NULL,
      ts TEXT NOT NULL, entry TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS income_ts ON income (ts);
  `);
}

/**
 * Gives an index made before the `customer` column its column, filled from each row's record
 * (its `customer = "..."` line), and the column's index, in one transaction: a job's requester is
 * looked up by it rather than every record kept in memory (docs/SCALE.md "A provider's memory
 * and start"). Nothing is done to an index that has it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * createProviderJobIndex(db);
 * ensureCustomerColumn(db); // made with it: nothing to do
 * assert.equal(db.prepare("SELECT count(*) AS n FROM provider_jobs WHERE customer IS NULL").get()?.n, 0);
 * db.close();
 * ```
 */
export function ensureCustomerColumn(db: DatabaseSync): void {
  const columns = db.prepare("PRAGMA table_info(provider_jobs)").all().map((c) => String(c.name));
  inTransaction(db, () => {
    if (!columns.includes("customer")) {
      db.exec("ALTER TABLE provider_jobs ADD COLUMN customer TEXT");
      // The record's format writes the line as `customer = "<64 hex>"` (provider_job_record.ts).
      db.exec(`UPDATE provider_jobs SET customer = substr(text,
        instr(text, char(10) || 'customer = "') + 13, 64) WHERE instr(text, char(10) ||
        'customer = "') > 0`);
    }
    db.exec("CREATE INDEX IF NOT EXISTS provider_jobs_customer ON provider_jobs (customer)");
  });
}

/**
 * Imports an older profile's `provider-jobs/<id>.toml` into the rows of a fresh index, flagged
 * for the audit, in one transaction with the tables and the schema (a kill before its commit
 * leaves no schema: the next open imports again). Temp files a killed atomic write left are
 * removed; the files are left as they are. Their income stays in the payment log's lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const dir = await Deno.makeTempDir(); // an older profile's `provider-jobs/`, here empty
 * const db = new DatabaseSync(":memory:");
 * assert.deepEqual(await importProviderJobFiles(db, dir), { indexed: 0, corrupt: [] });
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function importProviderJobFiles(
  db: DatabaseSync,
  dir: string,
): Promise<{ indexed: number; corrupt: CorruptProviderJobFile[] }> {
  const { records, corrupt } = await readRecordFiles(dir, { removeTemps: true });
  inTransaction(db, () => {
    createProviderJobIndex(db);
    const upsert = db.prepare(UPSERT_PROVIDER_JOB_SQL);
    for (const { record, text } of records) {
      upsert.get(record.id, record.status, text, record.customer);
    }
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)")
      .run(PROVIDER_JOB_INDEX_SCHEMA);
  });
  return { indexed: records.length, corrupt };
}

/**
 * Every provider job record of a state dir, read without opening the store (opening is a
 * writer's business: it imports and hands rows to the audit): from the index's rows, or, before
 * a provider ever opened it, from an older profile's files. Records that do not parse are left
 * out; with `unfinished`, only those of the jobs not finished (their texts alone are read).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir(); // no provider ran here
 * assert.deepEqual(await readProviderJobRecords(stateDir), []);
 * assert.deepEqual(await readProviderJobRecords(stateDir, { unfinished: true }), []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readProviderJobRecords(
  stateDir: string,
  options: { unfinished?: boolean } = {},
): Promise<ProviderJobRecord[]> {
  // The unfinished only: the finished rows' texts are not read (a dashboard's poll).
  const where = options.unfinished ? `WHERE status NOT IN (${ENDED_STATUSES_SQL})` : "";
  const rows = withIndex(
    stateDir,
    (db) => db.prepare(`SELECT text FROM provider_jobs ${where}`).all().map((r) => String(r.text)),
  );
  if (rows === undefined) {
    const dir = `${stateDir}/${PROVIDER_JOBS_DIR}`;
    const records = (await readRecordFiles(dir, { removeTemps: false })).records;
    return records.map((r) => r.record)
      .filter((r) => !options.unfinished || !isTerminalProviderJob(r));
  }
  return rows.flatMap((text) => {
    try {
      return [parseProviderJobRecord(text)];
    } catch (err) {
      if (err instanceof ProviderJobRecordError) return [];
      throw err;
    }
  });
}

/**
 * One job's record as the state dir holds it now, read as {@linkcode readProviderJobRecords}
 * does; undefined when there is no such record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await readProviderJobRecord(stateDir, "ab".repeat(32)), undefined); // no such job
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readProviderJobRecord(
  stateDir: string,
  id: string,
): Promise<ProviderJobRecord | undefined> {
  const row = withIndex(
    stateDir,
    (db) => db.prepare("SELECT text FROM provider_jobs WHERE id = ?").get(id) ?? null,
  );
  if (row === undefined) {
    const path = `${stateDir}/${PROVIDER_JOBS_DIR}/${id}.toml`;
    const text = await Deno.readTextFile(path).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    });
    return text === undefined ? undefined : parseProviderJobRecord(text);
  }
  return row === null ? undefined : parseProviderJobRecord(String(row.text));
}

/**
 * The income rows of a state dir's provider index paid on `sinceDay` (`YYYY-MM-DD`) or later,
 * oldest first, as payment log entries (none without an index). The JSON of a row that does not
 * parse is counted in `skipped`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir(); // no provider ran here
 * assert.deepEqual(readProviderIncome(stateDir, "2026-01-01"), { entries: [], skipped: 0 });
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function readProviderIncome(
  stateDir: string,
  sinceDay: string,
): { entries: PaymentEntry[]; skipped: number } {
  const texts = withIndex(
    stateDir,
    (db) =>
      db.prepare("SELECT entry FROM income WHERE ts >= ? ORDER BY ts, invoice_id").all(sinceDay)
        .map((r) => String(r.entry)),
  ) ?? [];
  const entries: PaymentEntry[] = [];
  let skipped = 0;
  for (const text of texts) {
    try {
      entries.push(JSON.parse(text) as PaymentEntry);
    } catch {
      skipped++;
    }
  }
  return { entries, skipped };
}

/**
 * What the provider earned over its income rows (state/jobs/provider_income_rows.ts): the total
 * kept in `meta` when it covers every row (`kept`), else summed over the rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * createProviderJobIndex(db);
 * assert.deepEqual(incomeEarnings(db), { rows: 0, earned: 0n, kept: false });
 * db.close();
 * ```
 */
export function incomeEarnings(db: DatabaseSync): { rows: number; earned: bigint; kept: boolean } {
  const kept = db.prepare("SELECT value FROM meta WHERE key = 'earnings'").get();
  const rows = Number(db.prepare("SELECT count(*) AS n FROM income").get()!.n);
  const total = kept === undefined ? undefined : parseTotal(String(kept.value));
  if (total !== undefined && total.rows === rows) return { ...total, kept: true };
  let earned = 0n;
  for (const row of db.prepare("SELECT entry FROM income").iterate()) {
    try {
      earned += earningOf(JSON.parse(String(row.entry)) as PaymentEntry);
    } catch {
      // A row that does not parse (a hand edit) is skipped, as the payment log's open skips it.
    }
  }
  return { rows, earned, kept: false };
}

/**
 * What a state dir's provider earned, all-time ({@linkcode incomeEarnings}), read without opening
 * the store (`turnpike wallet balance` beside a running provider); 0 without an index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir(); // no provider ran here
 * assert.equal(readProviderEarnings(stateDir), 0n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function readProviderEarnings(stateDir: string): bigint {
  return withIndex(stateDir, (db) => incomeEarnings(db).earned) ?? 0n;
}

/** The kept total, or undefined when it does not parse. */
function parseTotal(text: string): { rows: number; earned: bigint } | undefined {
  try {
    const { rows, earned } = JSON.parse(text) as { rows: unknown; earned: unknown };
    if (typeof rows !== "number" || typeof earned !== "string") return undefined;
    return { rows, earned: BigInt(earned) };
  } catch {
    return undefined;
  }
}

/** `read` on a read-only connection to the index; undefined when there is none of this schema. */
function withIndex<T>(stateDir: string, read: (db: DatabaseSync) => T): T | undefined {
  const path = `${stateDir.replace(/\/+$/, "")}/${PROVIDER_JOB_INDEX}`;
  // A writer's commit or checkpoint locks the file for a moment: the open waits, never "no job".
  const db = openRowDbReadOnly(path);
  if (db === undefined) return undefined;
  try {
    let schema: unknown;
    try {
      schema = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get()?.value;
    } catch (err) {
      // Being made: no table yet. Any other error (busy past the wait, I/O) is thrown.
      if (err instanceof Error && /no such table/.test(err.message)) return undefined;
      throw err;
    }
    return schema === PROVIDER_JOB_INDEX_SCHEMA ? read(db) : undefined;
  } finally {
    db.close();
  }
}

/** The record files of `dir` (none when it is not there). */
async function readRecordFiles(
  dir: string,
  options: { removeTemps: boolean },
): Promise<{
  records: { record: ProviderJobRecord; text: string }[];
  corrupt: CorruptProviderJobFile[];
}> {
  const records: { record: ProviderJobRecord; text: string }[] = [];
  const corrupt: CorruptProviderJobFile[] = [];
  if (!(await pathExists(dir))) return { records, corrupt };
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    const path = `${dir}/${entry.name}`;
    if (entry.name.startsWith(".tmp-")) {
      if (options.removeTemps) await Deno.remove(path).catch(() => {});
      continue;
    }
    if (!entry.name.endsWith(".toml")) continue;
    try {
      const text = await readCappedTextFile(path, {
        maxBytes: MAX_PROVIDER_JOB_RECORD_BYTES,
        tooLarge: (p, max) => new ProviderJobRecordError(`${p} is over ${max} bytes`),
      });
      records.push({ record: parseProviderJobRecord(text), text });
    } catch (err) {
      if (!(err instanceof ProviderJobRecordError)) throw err;
      corrupt.push({ path, reason: err.message });
    }
  }
  return { records, corrupt };
}

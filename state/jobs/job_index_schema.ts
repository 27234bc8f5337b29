/**
 * The requester's job index, `<state dir>/index.sqlite`: its tables, and the one-time import of
 * the `jobs/<id>.toml` files an older turnpike kept the records in (docs/OPERATIONS.md "State
 * directory"). Each row holds a record's TOML text (the format of `state/jobs/job_record.ts`),
 * the columns a listing filters on, a `version` (a number the state dir's writes only raise, a
 * change poll's mark) and `unaudited` (set by a write, cleared when the audit trail's commit of
 * it lands: the rows a kill left flagged are handed to the audit again on open).
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { readCappedTextFile } from "../capped_file.ts";
import { inTransaction } from "./row_db.ts";
import {
  JobRecordFormatError,
  type JobStatus,
  MAX_JOB_RECORD_BYTES,
  parseJobRecord,
  type RequesterJobRecord,
} from "./job_record.ts";

/** The schema the rows have; an index of another (or none) is made by {@linkcode createJobIndex}. */
export const JOB_INDEX_SCHEMA = "2";

/**
 * The file a state dir's `jobs/` holds once its records are rows: a missing or damaged index
 * is then the records' loss, never rebuilt from the old files beside it.
 */
export const RECORDS_IN_INDEX_FILE = "RECORDS_IN_INDEX.txt";

/** A job file that could not be imported. */
export interface CorruptJobFile {
  path: string;
  error: string;
}

/** Outcome of an import of the job files. */
export interface RebuildReport {
  indexed: number;
  corrupt: CorruptJobFile[];
}

/**
 * The requester's job sidecars (what a job needs to resume: its signed request, its spec, its
 * deadline; `roles/requester/job_sidecar.ts`), a row per job beside its record, written in the
 * record's first commit. Created where missing on every open: an index made before them gets the
 * table, and its jobs' sidecars stay the files they were (`requester/<id>.json`).
 */
export const SIDECARS_TABLE_SQL =
  "CREATE TABLE IF NOT EXISTS sidecars (id TEXT PRIMARY KEY, text TEXT NOT NULL);";

/** Writes (or replaces) a job's sidecar row: id, text. */
export const PUT_SIDECAR_SQL = "INSERT OR REPLACE INTO sidecars (id, text) VALUES (?, ?)";

/** The folder the audit trail shows the sidecars under, as `requester/<id>.json`. */
export const SIDECARS_DIR = "requester";

/**
 * The upsert of a record's row, its text with it; `version` one above the highest, `unaudited`
 * set. Values: {@linkcode rowValues}. Returns the row's `version`.
 */
export const UPSERT_JOB_SQL = `INSERT INTO jobs (id, kind, skill, status, provider, created_at_ms,
    updated_at_ms, last_seen_created_at, text, version, unaudited)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(version), 0) + 1 FROM jobs), 1)
  ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, skill = excluded.skill,
    status = excluded.status, provider = excluded.provider,
    created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms,
    last_seen_created_at = excluded.last_seen_created_at, text = excluded.text,
    version = excluded.version, unaudited = 1
  RETURNING version`;

/**
 * Makes the tables of {@linkcode JOB_INDEX_SCHEMA}, dropping the job tables of an older one (they
 * held only what the files held). The caller records the schema once its rows are in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * createJobIndex(db);
 * assert.equal(db.prepare("SELECT count(*) AS n FROM jobs").get()?.n, 0);
 * db.close();
 * ```
 */
export function createJobIndex(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    ${SIDECARS_TABLE_SQL}
    DROP TABLE IF EXISTS jobs;
    DROP TABLE IF EXISTS corrupt;
    CREATE TABLE jobs (
      id TEXT PRIMARY KEY, kind INTEGER NOT NULL, skill TEXT NOT NULL, status TEXT NOT NULL,
      provider TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
      last_seen_created_at INTEGER, text TEXT NOT NULL, version INTEGER NOT NULL,
      unaudited INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX jobs_status ON jobs (status, created_at_ms);
    CREATE INDEX jobs_created ON jobs (created_at_ms);
    CREATE INDEX jobs_version ON jobs (version);
    CREATE INDEX jobs_unaudited ON jobs (unaudited) WHERE unaudited = 1;
    CREATE TABLE corrupt (path TEXT PRIMARY KEY, error TEXT NOT NULL);
  `);
}

/**
 * A record's row values for {@linkcode UPSERT_JOB_SQL}, its text last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * assert.equal(rowValues(record, "text").at(-1), "text");
 * ```
 */
export function rowValues(r: RequesterJobRecord, text: string): SQLInputValue[] {
  return [
    r.id,
    r.kind,
    r.skill,
    r.status,
    r.provider ?? null,
    r.createdAtMs,
    r.updatedAtMs,
    r.lastSeenCreatedAt ?? null,
    text,
  ];
}

/** What the index knows about a job (enough to list, filter and resume it). */
export interface JobSummary {
  id: string;
  kind: number;
  skill: string;
  status: JobStatus;
  provider?: string;
  createdAtMs: number;
  updatedAtMs: number;
  lastSeenCreatedAt?: number;
}

/**
 * A row of the `jobs` table as a {@linkcode JobSummary}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const row = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent", provider: null,
 *   created_at_ms: 1, updated_at_ms: 2, last_seen_created_at: null };
 * assert.equal(toSummary(row).updatedAtMs, 2);
 * assert.equal("provider" in toSummary(row), false);
 * ```
 */
export function toSummary(row: Record<string, SQLInputValue>): JobSummary {
  const s: JobSummary = {
    id: String(row.id),
    kind: Number(row.kind),
    skill: String(row.skill),
    status: String(row.status) as JobStatus,
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
  };
  if (row.provider !== null) s.provider = String(row.provider);
  if (row.last_seen_created_at !== null) s.lastSeenCreatedAt = Number(row.last_seen_created_at);
  return s;
}

/**
 * Imports `<jobsDir>/<id>.toml` into the rows of a fresh index ({@linkcode writeIndexRows}: the
 * tables, the rows and the schema in one transaction; a kill before its commit leaves no schema,
 * the next open imports again).
 * Corrupt files are reported in the `corrupt` table, not fatal; temp files an atomic write left
 * are removed unless `keepTemps` (a reader beside a writer). The files are left as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const jobsDir = await Deno.makeTempDir(); // an older profile's `jobs/`, here empty
 * const db = new DatabaseSync(":memory:");
 * assert.equal((await importJobFiles(db, jobsDir)).indexed, 0);
 * db.close();
 * await Deno.remove(jobsDir, { recursive: true });
 * ```
 */
export async function importJobFiles(
  db: DatabaseSync,
  jobsDir: string,
  options: { keepTemps?: boolean } = {},
): Promise<RebuildReport> {
  const corrupt: CorruptJobFile[] = [];
  const rows: { record: RequesterJobRecord; text: string }[] = [];
  for await (const entry of Deno.readDir(jobsDir)) {
    if (!entry.isFile) continue;
    const path = `${jobsDir}/${entry.name}`;
    if (entry.name.startsWith(".tmp-")) {
      if (!options.keepTemps) await Deno.remove(path).catch(() => {});
      continue;
    }
    if (!/^[0-9a-f]{64}\.toml$/.test(entry.name)) continue;
    try {
      const text = await readCappedTextFile(path, {
        maxBytes: MAX_JOB_RECORD_BYTES,
        tooLarge: (p, max) => new JobRecordFormatError(`${p} is over ${max} bytes`),
      });
      const record = parseJobRecord(text);
      if (`${record.id}.toml` !== entry.name) {
        throw new JobRecordFormatError(`file holds job ${record.id}`);
      }
      rows.push({ record, text });
    } catch (err) {
      if (!(err instanceof JobRecordFormatError)) throw err;
      corrupt.push({ path, error: err.message });
    }
  }
  writeIndexRows(db, rows, corrupt);
  return { indexed: rows.length, corrupt };
}

/**
 * Makes the tables of a fresh index and writes `rows` and the `corrupt` list into them, in one
 * transaction that also records the schema (a kill before its commit leaves no schema: the next
 * open starts again). With `version`, the rows are numbered from it and not flagged (their text
 * is the audit trail's HEAD: `state/jobs/job_index_recovery.ts`); without, from 1 and flagged
 * `unaudited` (an older profile's files, handed to the audit: {@linkcode importJobFiles}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * const record = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * writeIndexRows(db, [{ record, text: "the record's TOML" }], [], { version: 7 });
 * assert.deepEqual({ ...db.prepare("SELECT version, unaudited FROM jobs").get() },
 *   { version: 7, unaudited: 0 });
 * db.close();
 * ```
 */
export function writeIndexRows(
  db: DatabaseSync,
  rows: readonly { record: RequesterJobRecord; text: string }[],
  corrupt: readonly CorruptJobFile[],
  options: { version?: number; sidecars?: ReadonlyMap<string, string> } = {},
): void {
  const base = options.version;
  inTransaction(db, () => {
    createJobIndex(db);
    const write = db.prepare(`INSERT INTO jobs (id, kind, skill, status, provider, created_at_ms,
        updated_at_ms, last_seen_created_at, text, version, unaudited)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    rows.forEach(({ record, text }, i) =>
      write.run(...rowValues(record, text), (base ?? 1) + i, base === undefined ? 1 : 0)
    );
    const bad = db.prepare("INSERT OR REPLACE INTO corrupt (path, error) VALUES (?, ?)");
    for (const c of corrupt) bad.run(c.path, c.error);
    const sidecar = db.prepare(PUT_SIDECAR_SQL);
    for (const [id, text] of options.sidecars ?? []) sidecar.run(id, text);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)")
      .run(JOB_INDEX_SCHEMA);
  });
}

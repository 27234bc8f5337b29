/**
 * The requester's job repository: `<state dir>/jobs/<id>.toml` files (the source of truth,
 * written atomically, mode 0600, the format of `state/jobs/job_record.ts`, readable by
 * `stages/job_store.ts`'s `DirectoryJobStore`) plus a SQLite index `<state dir>/index.sqlite`
 * (`node:sqlite`, WAL) so listing, filtering and loading the in-flight jobs at startup stay fast
 * at 100k+ records. The index holds only what can be rebuilt from the files.
 *
 * Index consistency: a write first upserts the index row with `pending = 1`, then writes the
 * file, then clears `pending`. After a crash the rows still pending are re-read from their files
 * on open, so the index never disagrees with a file whose write returned. A missing, corrupt or
 * older-schema index is rebuilt from the files. (After an OS crash the WAL tail may be lost:
 * `rebuildIndex()` fixes that; the files themselves are fsynced.)
 *
 * Each change is recorded in the git audit log (`state/audit/audit_log.ts`) when one is given.
 *
 * @module
 */
import { JobExistsError, JobIdPrefixError, JobNotFoundError } from "./job_repository_errors.ts";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { pathExists } from "../path_exists.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import { readCappedTextFile } from "../capped_file.ts";
import {
  formatJobRecord,
  IN_FLIGHT_JOB_STATUSES,
  JobRecordFormatError,
  type JobStatus,
  MAX_JOB_RECORD_BYTES,
  parseJobRecord,
  type RequesterJobRecord,
} from "./job_record.ts";

/** Options for {@linkcode openJobRepository}. */
export interface JobRepositoryOptions {
  /** The node's state dir. */
  stateDir: string;
  /** Git audit log to record changes in (absent: no audit). */
  audit?: AuditLog;
  /** fsync each file (default true). False only for bulk loads and benchmarks. */
  durable?: boolean;
  /**
   * A reader beside the writer (`job list`, `job status`, `stats` while the profile's node runs):
   * it never takes the writer's in-flight temp files for a crash's leftovers, and never marks
   * the index open or closed (only the writer's crash is a crash). Default false.
   */
  readOnly?: boolean;
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

/** Filter of {@linkcode JobRepository.list}. */
export interface JobListFilter {
  status?: JobStatus | JobStatus[];
  kind?: number;
  provider?: string;
  /** Only jobs created at or after this time (unix ms). */
  sinceMs?: number;
  /** Most rows returned. Default 1000. */
  limit?: number;
  /** Rows skipped (newest first). Default 0. */
  offset?: number;
}

/** A job file that could not be read into the index. */
export interface CorruptJobFile {
  path: string;
  error: string;
}

/** Outcome of {@linkcode JobRepository.rebuildIndex}. */
export interface RebuildReport {
  indexed: number;
  corrupt: CorruptJobFile[];
}

/** Options of a write: how it appears in the audit log. */
export interface JobWriteOptions {
  /** Audit action; default "create" / "update". */
  action?: string;
  /** Extra `Key: Value` lines for the audit commit. */
  fields?: Record<string, string>;
  /** Other files (relative to the state dir) written for this change, committed with it. */
  paths?: string[];
}

export { JobExistsError, JobIdPrefixError, JobNotFoundError };

/** Shortest prefix accepted (the progress lines show 12). */
export const MIN_JOB_ID_PREFIX = 4;

const SCHEMA_VERSION = "1";

/**
 * Opens the repository: creates `jobs/`, opens (or rebuilds) the index, reconciles after a crash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const repo = await openJobRepository({ stateDir });
 * const id = "c1c254bf".padEnd(64, "0");
 * await repo.create({ id, kind: 5100, skill: "echo", status: "sent", createdAtMs: 1, updatedAtMs: 1,
 *   payments: [] });
 * assert.deepEqual(repo.listInFlight().map((j) => j.id), [id]);
 * assert.equal(repo.resolveId("c1c254bf"), id); // a prefix of 4+ hex that matches one job
 * await repo.remove(id, { paths: [`requester/${id}.json`] }); // other files the caller removed
 * assert.equal(await repo.read(id), undefined);
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openJobRepository(options: JobRepositoryOptions): Promise<JobRepository> {
  const repo = new JobRepository(options);
  await repo.open();
  return repo;
}

/** Job records on disk with their SQLite index; see the module doc. */
export class JobRepository {
  readonly stateDir: string;
  readonly jobsDir: string;
  readonly indexPath: string;
  /** Report of the rebuild done by `open`, if one was needed. */
  lastRebuild: RebuildReport | undefined;
  #audit: AuditLog | undefined;
  #durable: boolean;
  #db: DatabaseSync | undefined;
  /** The open index's statements by SQL: prepared once, not on every write. */
  #statements = new Map<string, StatementSync>();
  #locks = new Map<string, Promise<unknown>>();
  #readOnly: boolean;

  constructor(options: JobRepositoryOptions) {
    this.stateDir = options.stateDir.replace(/\/+$/, "");
    this.jobsDir = `${this.stateDir}/jobs`;
    this.indexPath = `${this.stateDir}/index.sqlite`;
    this.#audit = options.audit;
    this.#durable = options.durable ?? true;
    this.#readOnly = options.readOnly ?? false;
  }

  /** Opens the index (rebuilding it when needed); called by {@linkcode openJobRepository}. */
  async open(): Promise<void> {
    await Deno.mkdir(this.jobsDir, { recursive: true, mode: 0o700 });
    let needsRebuild = false;
    try {
      this.#db = this.#openDb();
      const version = this.#meta("schema");
      if (version !== SCHEMA_VERSION) needsRebuild = true;
    } catch {
      // A corrupt or foreign file: the files are the truth, start the index afresh.
      this.#db?.close();
      await removeIndexFiles(this.indexPath);
      this.#db = this.#openDb();
      needsRebuild = true;
    }
    if (needsRebuild) {
      this.lastRebuild = await this.rebuildIndex();
    } else if (this.#meta("open") === "1" && !this.#readOnly) {
      await this.#recoverAfterCrash();
    }
    if (!this.#readOnly) this.#setMeta("open", "1");
  }

  /** Marks a clean shutdown and closes the index (flush the audit log separately). */
  close(): void {
    if (!this.#db) return;
    if (!this.#readOnly) this.#setMeta("open", "0");
    this.#statements.clear();
    this.#db.close();
    this.#db = undefined;
  }

  /**
   * Writes a new job record.
   * @throws {JobExistsError} when the id exists; {@linkcode JobRecordFormatError} when invalid.
   */
  create(record: RequesterJobRecord, options: JobWriteOptions = {}): Promise<RequesterJobRecord> {
    return this.#withLock(record.id, async () => {
      const existing = this.#prepare("SELECT 1 FROM jobs WHERE id = ?").get(record.id);
      if (existing !== undefined || await pathExists(this.#path(record.id))) {
        throw new JobExistsError(`job ${record.id} exists`);
      }
      await this.#write(record, options.action ?? "create", options.fields, options.paths);
      return record;
    });
  }

  /**
   * Reads, changes (with `change`) and writes a job record; per-job updates never interleave.
   * `updatedAtMs` is set to now unless `change` sets it.
   * @throws {JobNotFoundError} when the job does not exist.
   */
  update(
    id: string,
    change: (current: RequesterJobRecord) => RequesterJobRecord,
    options: JobWriteOptions = {},
  ): Promise<RequesterJobRecord> {
    return this.#withLock(id, async () => {
      const current = await this.read(id);
      if (current === undefined) throw new JobNotFoundError(`job ${id} not found`);
      const next = change(structuredClone(current));
      if (next.id !== id) throw new JobRecordFormatError(`update cannot change the id of ${id}`);
      if (next.updatedAtMs === current.updatedAtMs) next.updatedAtMs = Date.now();
      await this.#write(next, options.action ?? "update", options.fields);
      return next;
    });
  }

  /**
   * Deletes a job's record file and index row, recording the deletion (with `paths`, other
   * files of the job the caller removed) in the audit trail: git history keeps the record.
   * A job that does not exist is ignored.
   */
  remove(
    id: string,
    options: { paths?: string[]; fields?: Record<string, string> } = {},
  ): Promise<void> {
    return this.#withLock(id, async () => {
      if (!/^[0-9a-f]{64}$/.test(id)) return;
      try {
        await Deno.remove(this.#path(id));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      this.#prepare("DELETE FROM jobs WHERE id = ?").run(id);
      this.#audit?.record({
        action: "prune",
        resource: "job",
        id,
        paths: [`jobs/${id}.toml`, ...(options.paths ?? [])],
        fields: options.fields,
      });
    });
  }

  /**
   * Reads a job record from its file (undefined when absent).
   * @throws {JobRecordFormatError} when the file is corrupt.
   */
  async read(id: string): Promise<RequesterJobRecord | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    let text: string;
    try {
      text = await readBounded(this.#path(id));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    const record = parseJobRecord(text);
    if (record.id !== id) throw new JobRecordFormatError(`${id}.toml holds job ${record.id}`);
    return record;
  }

  /**
   * The full id of the one job whose id starts with `prefix` (a full id is returned as is).
   * @throws {JobIdPrefixError} when it is not hex, shorter than 4, or matches 0 or 2+ jobs.
   */
  resolveId(prefix: string): string {
    const p = prefix.toLowerCase();
    if (!/^[0-9a-f]+$/.test(p) || p.length < MIN_JOB_ID_PREFIX || p.length > 64) {
      throw new JobIdPrefixError(
        `"${prefix}" is not a job id (${MIN_JOB_ID_PREFIX}-64 hex characters)`,
        [],
      );
    }
    // Hex has no LIKE wildcards, so the prefix is safe as a pattern.
    const rows = this.#db!.prepare("SELECT id FROM jobs WHERE id LIKE ? ORDER BY id LIMIT 5")
      .all(`${p}%`) as { id: string }[];
    const ids = rows.map((r) => r.id);
    if (ids.length === 1) return ids[0];
    if (ids.length === 0) throw new JobIdPrefixError(`no job ${prefix}`, []);
    throw new JobIdPrefixError(`job id ${prefix} is ambiguous`, ids);
  }

  /** Lists jobs from the index, newest first. */
  list(filter: JobListFilter = {}): JobSummary[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (filter.status !== undefined) {
      const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
      where.push(`status IN (${statuses.map(() => "?").join(",")})`);
      args.push(...statuses);
    }
    if (filter.kind !== undefined) (where.push("kind = ?"), args.push(filter.kind));
    if (filter.provider !== undefined) (where.push("provider = ?"), args.push(filter.provider));
    if (filter.sinceMs !== undefined) (where.push("created_at_ms >= ?"), args.push(filter.sinceMs));
    const sql = `SELECT * FROM jobs ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY created_at_ms DESC, id LIMIT ? OFFSET ?`;
    args.push(filter.limit ?? 1000, filter.offset ?? 0);
    return this.#db!.prepare(sql).all(...args).map(toSummary);
  }

  /** Jobs not in a terminal status (what a restart resumes), from the index. */
  listInFlight(): JobSummary[] {
    return this.list({ status: [...IN_FLIGHT_JOB_STATUSES], limit: 1e9 });
  }

  /** Number of jobs in the index, optionally with one status. */
  count(status?: JobStatus): number {
    const row = status === undefined
      ? this.#db!.prepare("SELECT count(*) AS n FROM jobs").get()
      : this.#db!.prepare("SELECT count(*) AS n FROM jobs WHERE status = ?").get(status);
    return Number(row?.n ?? 0);
  }

  /** Job files found corrupt by the last rebuild or recovery. */
  corruptFiles(): CorruptJobFile[] {
    return this.#db!.prepare("SELECT path, error FROM corrupt ORDER BY path").all()
      .map((r) => ({ path: String(r.path), error: String(r.error) }));
  }

  /** Rebuilds the index from the job files; corrupt files are reported, not fatal. */
  async rebuildIndex(): Promise<RebuildReport> {
    const db = this.#db!;
    const corrupt: CorruptJobFile[] = [];
    const rows: RequesterJobRecord[] = [];
    for await (const entry of Deno.readDir(this.jobsDir)) {
      if (!entry.isFile) continue;
      const path = `${this.jobsDir}/${entry.name}`;
      if (entry.name.startsWith(".tmp-")) {
        // Left by a crashed atomic write, or being written by the writer beside a reader.
        if (!this.#readOnly) await Deno.remove(path).catch(() => {});
        continue;
      }
      if (!entry.name.endsWith(".toml")) continue;
      try {
        const record = parseJobRecord(await readBounded(path));
        if (`${record.id}.toml` !== entry.name) {
          throw new JobRecordFormatError(`file holds job ${record.id}`);
        }
        rows.push(record);
      } catch (err) {
        if (!(err instanceof JobRecordFormatError)) throw err;
        corrupt.push({ path, error: err.message });
      }
    }
    db.exec("BEGIN");
    try {
      db.exec("DELETE FROM jobs; DELETE FROM corrupt;");
      const upsert = this.#upsertStatement();
      for (const r of rows) upsert.run(...rowValues(r, 0));
      const bad = db.prepare("INSERT OR REPLACE INTO corrupt (path, error) VALUES (?, ?)");
      for (const c of corrupt) bad.run(c.path, c.error);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
    this.#setMeta("schema", SCHEMA_VERSION);
    return { indexed: rows.length, corrupt };
  }

  async #write(
    record: RequesterJobRecord,
    action: string,
    fields?: Record<string, string>,
    paths: string[] = [],
  ) {
    const bytes = new TextEncoder().encode(formatJobRecord(record));
    const upsert = this.#upsertStatement();
    upsert.run(...rowValues(record, 1));
    await writeFileAtomic(this.#path(record.id), bytes, {
      mode: 0o600,
      skipFileSync: !this.#durable,
      skipDirSync: !this.#durable,
    });
    this.#prepare("UPDATE jobs SET pending = 0 WHERE id = ?").run(record.id);
    this.#audit?.record({
      action,
      resource: "job",
      id: record.id,
      paths: [`jobs/${record.id}.toml`, ...paths],
      fields: { Status: record.status, Kind: String(record.kind), ...fields },
      // What was just written: the audit commit does not read the file back.
      contents: { [`jobs/${record.id}.toml`]: bytes },
    });
  }

  async #recoverAfterCrash(): Promise<void> {
    const db = this.#db!;
    const pending = db.prepare("SELECT id FROM jobs WHERE pending = 1").all().map((r) =>
      String(r.id)
    );
    for (const id of pending) {
      try {
        const record = await this.read(id);
        if (record === undefined) db.prepare("DELETE FROM jobs WHERE id = ?").run(id);
        else this.#upsertStatement().run(...rowValues(record, 0));
      } catch (err) {
        if (!(err instanceof JobRecordFormatError)) throw err;
        db.prepare("DELETE FROM jobs WHERE id = ?").run(id);
        db.prepare("INSERT OR REPLACE INTO corrupt (path, error) VALUES (?, ?)")
          .run(this.#path(id), err.message);
      }
    }
    for await (const entry of Deno.readDir(this.jobsDir)) {
      if (entry.isFile && entry.name.startsWith(".tmp-")) {
        await Deno.remove(`${this.jobsDir}/${entry.name}`).catch(() => {});
      }
    }
  }

  #openDb(): DatabaseSync {
    this.#statements.clear();
    const db = new DatabaseSync(this.indexPath);
    try {
      Deno.chmodSync(this.indexPath, 0o600);
      // NORMAL: survives a killed process; after an OS crash rebuildIndex() repairs the tail.
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS jobs (
          id TEXT PRIMARY KEY, kind INTEGER NOT NULL, skill TEXT NOT NULL, status TEXT NOT NULL,
          provider TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
          last_seen_created_at INTEGER, pending INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at_ms);
        CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at_ms);
        CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (pending) WHERE pending = 1;
        CREATE TABLE IF NOT EXISTS corrupt (path TEXT PRIMARY KEY, error TEXT NOT NULL);
      `);
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, statement = this.#db!.prepare(sql));
    return statement;
  }

  #upsertStatement() {
    return this.#prepare(
      `INSERT INTO jobs (id, kind, skill, status, provider, created_at_ms, updated_at_ms,
        last_seen_created_at, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, skill = excluded.skill,
        status = excluded.status, provider = excluded.provider,
        created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms,
        last_seen_created_at = excluded.last_seen_created_at, pending = excluded.pending`,
    );
  }

  #meta(key: string): string | undefined {
    const row = this.#prepare("SELECT value FROM meta WHERE key = ?").get(key);
    return row === undefined ? undefined : String(row.value);
  }

  #setMeta(key: string, value: string): void {
    this.#prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  }

  #path(id: string): string {
    return `${this.jobsDir}/${id}.toml`;
  }

  async #withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }
}

function rowValues(r: RequesterJobRecord, pending: number): SQLInputValue[] {
  return [
    r.id,
    r.kind,
    r.skill,
    r.status,
    r.provider ?? null,
    r.createdAtMs,
    r.updatedAtMs,
    r.lastSeenCreatedAt ?? null,
    pending,
  ];
}

function toSummary(row: Record<string, SQLInputValue>): JobSummary {
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

function readBounded(path: string): Promise<string> {
  return readCappedTextFile(path, {
    maxBytes: MAX_JOB_RECORD_BYTES,
    tooLarge: (p, max) => new JobRecordFormatError(`${p} is over ${max} bytes`),
  });
}

async function removeIndexFiles(path: string): Promise<void> {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    await Deno.remove(p).catch(() => {});
  }
}

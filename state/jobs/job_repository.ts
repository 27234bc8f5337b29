/**
 * The requester's job repository: each record a row of the SQLite index
 * `<state dir>/index.sqlite` (`node:sqlite`, WAL), its TOML text (the format of
 * `state/jobs/job_record.ts`) beside the columns a listing filters on, so listing, filtering and
 * loading the in-flight jobs at startup stay fast at 100k+ records (tables:
 * `state/jobs/job_index_schema.ts`).
 *
 * A write is one transaction at `synchronous = FULL` holding the row and its text: durable when
 * it returns (the WAL fsynced); a kill leaves the old row or the new one. No file is written.
 * A new job's sidecar (`roles/requester/job_sidecar.ts`) is a row of its own written in the
 * record's first transaction: a kill leaves both or neither (docs/ARCHITECTURE.md "The
 * requester's job records as rows").
 *
 * Each change is recorded in the git audit log (`state/audit/audit_log.ts`) when one is given,
 * as `jobs/<id>.toml` from the record's bytes (docs/ARCHITECTURE.md "The requester's job
 * records as rows"). A write flags its row `unaudited` until that commit lands; on open, the rows still
 * flagged (a kill lost their commit) are handed to the audit again unless its history already
 * holds their text.
 *
 * An older profile's `jobs/<id>.toml` files are imported into the rows once, on the first open
 * of this schema, then left and never read again (`jobs/RECORDS_IN_INDEX.txt` says so): from
 * then a missing or damaged index is rebuilt from the audit trail's HEAD by a writer opened with
 * it, else refused ({@linkcode JobIndexLostError}): `state/jobs/job_index_recovery.ts`.
 *
 * @module
 */
import {
  JobExistsError,
  JobIdPrefixError,
  JobIndexLostError,
  JobNotFoundError,
} from "./job_repository_errors.ts";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import {
  ensureMetaTable,
  inTransaction,
  isDamagedDatabase,
  LandedFlags,
  openRowDb,
  Statements,
} from "./row_db.ts";
import { ensureSidecarsTable, sidecarAuditPath } from "./job_sidecar_rows.ts";
import { pathExists } from "../path_exists.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import type { AuditLog } from "../audit/audit_log.ts";
import {
  type CorruptJobFile,
  importJobFiles,
  JOB_INDEX_SCHEMA,
  type JobSummary,
  PUT_SIDECAR_SQL,
  type RebuildReport,
  RECORDS_IN_INDEX_FILE,
  rowValues,
  toSummary,
  UPSERT_JOB_SQL,
} from "./job_index_schema.ts";
import {
  formatJobRecord,
  IN_FLIGHT_JOB_STATUSES,
  JobRecordFormatError,
  type JobStatus,
  parseJobRecord,
  type RequesterJobRecord,
} from "./job_record.ts";
import { recoverJobIndex } from "./job_index_recovery.ts";

/** Options for {@linkcode openJobRepository}. */
export interface JobRepositoryOptions {
  /** The node's state dir. */
  stateDir: string;
  /** Git audit log to record changes in (absent: no audit). */
  audit?: AuditLog;
  /**
   * Each write's commit fsynced, `synchronous = FULL` (default true); false (`NORMAL`) only for
   * bulk loads and benchmarks.
   */
  durable?: boolean;
  /**
   * A reader beside the writer (`job list`, `job status`, `stats` while the profile's node runs):
   * it hands no flagged row to an audit and, importing an older profile's files, keeps their
   * temp files. Default false.
   */
  readOnly?: boolean;
  /** Where the warning of a lost index's rebuild goes (default stderr). */
  warn?: (line: string) => void;
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

/** Options of a write: how it appears in the audit log. */
export interface JobWriteOptions {
  /** Audit action; default "create" / "update". */
  action?: string;
  /** Extra `Key: Value` lines for the audit commit. */
  fields?: Record<string, string>;
  /** Other files (relative to the state dir) written for this change, committed with it. */
  paths?: string[];
}

/** Options of {@linkcode JobRepository.create}. */
export interface JobCreateOptions extends JobWriteOptions {
  /**
   * The job's sidecar (what it needs to resume, `roles/requester/job_sidecar.ts`), written in the
   * same commit as the record: a row of the index, shown by the audit trail as
   * `requester/<id>.json`.
   */
  sidecar?: string;
}

export { JobExistsError, JobIdPrefixError, JobIndexLostError, JobNotFoundError };
export { readJobSidecarText } from "./job_sidecar_rows.ts";
export type { CorruptJobFile, JobSummary, RebuildReport } from "./job_index_schema.ts";

/** Shortest prefix accepted (the progress lines show 12). */
export const MIN_JOB_ID_PREFIX = 4;

/**
 * Opens the repository: creates `jobs/`, opens the index (importing an older profile's files on
 * the first open), hands the rows a kill left unaudited to the audit.
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

/** Job records as rows of the SQLite index; see the module doc. */
export class JobRepository {
  readonly stateDir: string;
  readonly jobsDir: string;
  readonly indexPath: string;
  /** What `open` put in a fresh index (an older profile's files, or the audit's HEAD), if it did. */
  lastRebuild: RebuildReport | undefined;
  #audit: AuditLog | undefined;
  #durable: boolean;
  #db: DatabaseSync | undefined;
  /** The open index's statements by SQL: prepared once, not on every write. */
  #statements = new Statements(() => this.#db!);
  #locks = new Map<string, Promise<unknown>>();
  #readOnly: boolean;
  #warn: (line: string) => void;
  /** Rows whose audit commit landed, their flags cleared together. */
  #landed: LandedFlags;

  constructor(options: JobRepositoryOptions) {
    this.stateDir = options.stateDir.replace(/\/+$/, "");
    this.jobsDir = `${this.stateDir}/jobs`;
    this.indexPath = `${this.stateDir}/index.sqlite`;
    this.#audit = options.audit;
    this.#durable = options.durable ?? true;
    this.#readOnly = options.readOnly ?? false;
    this.#warn = options.warn ?? ((line) => console.error(line));
    this.#landed = new LandedFlags({ db: () => this.#db, table: "jobs", durable: this.#durable });
  }

  /**
   * Opens the index: imports an older profile's files on the first open; rebuilds a converted
   * profile's lost index from the audit trail (`state/jobs/job_index_recovery.ts`).
   */
  async open(): Promise<void> {
    await Deno.mkdir(this.jobsDir, { recursive: true, mode: 0o700 });
    const marker = `${this.jobsDir}/${RECORDS_IN_INDEX_FILE}`;
    const inRows = await pathExists(marker);
    const missing = inRows && !(await pathExists(this.indexPath));
    let schema: string | undefined;
    let cause: unknown;
    // A converted profile's missing index is not created here: it is rebuilt below, or refused.
    if (!missing) {
      try {
        this.#db = this.#openDb();
        ensureMetaTable(this.#db);
        schema = this.#meta("schema");
      } catch (err) {
        this.close();
        // Busy, locked, I/O or permission errors are not a lost index: nothing is moved aside.
        if (!isDamagedDatabase(err)) throw err;
        cause = err;
        // A corrupt or foreign file of an older profile: its files are the truth until imported.
        if (!inRows) {
          await removeIndexFiles(this.indexPath);
          this.#db = this.#openDb();
        }
      }
    }
    if (inRows && schema !== JOB_INDEX_SCHEMA) {
      this.close();
      const recovered = await recoverJobIndex({
        indexPath: this.indexPath,
        loss: missing ? "missing" : cause === undefined ? "empty" : "damaged",
        cause,
        audit: this.#readOnly ? undefined : this.#audit,
        open: () => this.#openDb(),
        warn: this.#warn,
      });
      [this.#db, this.lastRebuild] = [recovered.db, recovered.report];
    } else if (schema !== JOB_INDEX_SCHEMA) {
      this.#statements.clear();
      this.lastRebuild = await importJobFiles(this.#db!, this.jobsDir, {
        keepTemps: this.#readOnly,
      });
    }
    if (!inRows) {
      await writeFileAtomic(
        marker,
        "The job records are rows of ../index.sqlite since this file was written; the .toml\n" +
          "files here, if any, were imported then and are not read again (docs/OPERATIONS.md).\n",
        { mode: 0o600 },
      );
    }
    ensureSidecarsTable(this.#db!);
    if (!this.#readOnly) this.#auditFlagged();
  }

  /** Closes the index (flush the audit log first: a commit landing after is not recorded). */
  close(): void {
    if (!this.#db) return;
    this.#landed.clear();
    this.#statements.clear();
    this.#db.close();
    this.#db = undefined;
  }

  /**
   * Writes a new job record.
   * @throws {JobExistsError} when the id exists; {@linkcode JobRecordFormatError} when invalid.
   */
  create(record: RequesterJobRecord, options: JobCreateOptions = {}): Promise<RequesterJobRecord> {
    return this.#withLock(record.id, () => {
      const existing = this.#prepare("SELECT 1 FROM jobs WHERE id = ?").get(record.id);
      if (existing !== undefined) throw new JobExistsError(`job ${record.id} exists`);
      const { sidecar } = options;
      if (sidecar === undefined) {
        this.#write(record, options.action ?? "create", options.fields, options.paths);
      } else {
        // One transaction, one WAL commit: the record never exists without its sidecar.
        inTransaction(this.#db!, () => {
          this.#prepare(PUT_SIDECAR_SQL).run(record.id, sidecar);
          this.#write(record, options.action ?? "create", options.fields, options.paths, sidecar);
        });
      }
      return Promise.resolve(record);
    });
  }

  /**
   * A job's sidecar text from its row; undefined when it has none here (an older profile's job
   * keeps its `requester/<id>.json` file: `roles/requester/job_sidecar.ts` reads that then).
   */
  sidecarText(id: string): string | undefined {
    const row = this.#prepare("SELECT text FROM sidecars WHERE id = ?").get(id);
    return row === undefined ? undefined : String(row.text);
  }

  /**
   * Replaces a job's sidecar (a job followed again: a new deadline), durable when it returns,
   * recorded in the audit trail as `requester/<id>.json`.
   */
  putSidecar(id: string, text: string, options: { action?: string } = {}): Promise<void> {
    return this.#withLock(id, () => {
      this.#prepare(PUT_SIDECAR_SQL).run(id, text);
      const path = sidecarAuditPath(id);
      this.#audit?.record({
        action: options.action ?? "sidecar",
        resource: "job",
        id,
        paths: [path],
        contents: { [path]: new TextEncoder().encode(text) },
      });
      return Promise.resolve();
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
      this.#write(next, options.action ?? "update", options.fields);
      return next;
    });
  }

  /**
   * Deletes a job's row (and an older profile's file of it), recording the deletion (with
   * `paths`, other files of the job the caller removed) in the audit trail: git history keeps
   * the record. A job that does not exist is ignored.
   */
  remove(
    id: string,
    options: { paths?: string[]; fields?: Record<string, string> } = {},
  ): Promise<void> {
    return this.#withLock(id, async () => {
      if (!/^[0-9a-f]{64}$/.test(id)) return;
      await Deno.remove(`${this.jobsDir}/${id}.toml`).catch(() => {});
      this.#prepare("DELETE FROM jobs WHERE id = ?").run(id);
      this.#prepare("DELETE FROM sidecars WHERE id = ?").run(id);
      this.#audit?.record({
        action: "prune",
        resource: "job",
        id,
        // Its sidecar's row goes with it: the trail's copy too.
        paths: [...new Set([`jobs/${id}.toml`, sidecarAuditPath(id), ...(options.paths ?? [])])],
        fields: options.fields,
      });
    });
  }

  /**
   * Reads a job record from its row (undefined when absent).
   * @throws {JobRecordFormatError} when its text is corrupt.
   */
  // deno-lint-ignore require-await
  async read(id: string): Promise<RequesterJobRecord | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const row = this.#prepare("SELECT text FROM jobs WHERE id = ?").get(id);
    if (row === undefined) return undefined;
    const record = parseJobRecord(String(row.text));
    if (record.id !== id) throw new JobRecordFormatError(`row ${id} holds job ${record.id}`);
    return record;
  }

  /**
   * The version of a job's row, a number every write raises (undefined when absent): a change
   * poll compares it, another process's writes included.
   */
  versionOf(id: string): number | undefined {
    const row = this.#prepare("SELECT version FROM jobs WHERE id = ?").get(id);
    return row === undefined ? undefined : Number(row.version);
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

  /** Job files found corrupt by the import of an older profile's files. */
  corruptFiles(): CorruptJobFile[] {
    return this.#db!.prepare("SELECT path, error FROM corrupt ORDER BY path").all()
      .map((r) => ({ path: String(r.path), error: String(r.error) }));
  }

  #write(
    record: RequesterJobRecord,
    action: string,
    fields?: Record<string, string>,
    paths: string[] = [],
    sidecar?: string,
  ): void {
    const text = formatJobRecord(record);
    const row = this.#prepare(UPSERT_JOB_SQL).get(...rowValues(record, text));
    this.#toAudit(record, text, Number(row!.version), action, fields, paths, sidecar);
  }

  /**
   * Hands a row's text (and its sidecar's, when given) to the audit; its `unaudited` flag is
   * cleared once the commit lands.
   */
  #toAudit(
    record: RequesterJobRecord,
    text: string,
    version: number,
    action: string,
    fields?: Record<string, string>,
    paths: string[] = [],
    sidecar?: string,
  ): void {
    const path = `jobs/${record.id}.toml`;
    const contents: Record<string, Uint8Array> = { [path]: new TextEncoder().encode(text) };
    const more = [...paths];
    if (sidecar !== undefined) {
      const at = sidecarAuditPath(record.id);
      contents[at] = new TextEncoder().encode(sidecar);
      if (!more.includes(at)) more.push(at);
    }
    this.#audit?.record({
      action,
      resource: "job",
      id: record.id,
      paths: [path, ...more],
      fields: { Status: record.status, Kind: String(record.kind), ...fields },
      contents,
      onCommitted: () => this.#landed.note(record.id, version),
    });
  }

  /**
   * The rows a kill left `unaudited`: those whose text the audit's history holds are cleared,
   * the others handed to it again (what `git add -A .` of the files recovered before).
   */
  #auditFlagged(): void {
    const audit = this.#audit;
    if (audit === undefined) return;
    const rows = this.#prepare("SELECT text, version FROM jobs WHERE unaudited = 1").all();
    for (const row of rows) {
      const text = String(row.text);
      let record: RequesterJobRecord;
      try {
        record = parseJobRecord(text);
      } catch (err) {
        if (!(err instanceof JobRecordFormatError)) throw err;
        continue;
      }
      const version = Number(row.version);
      const bytes = new TextEncoder().encode(text);
      if (audit.isCommitted(`jobs/${record.id}.toml`, bytes)) {
        this.#landed.note(record.id, version);
      } else {
        // Its sidecar's commit may have been lost with it (a job's first commit holds both).
        const sidecar = this.sidecarText(record.id);
        const lost = sidecar !== undefined &&
          !audit.isCommitted(sidecarAuditPath(record.id), new TextEncoder().encode(sidecar));
        this.#toAudit(record, text, version, "recover", undefined, [], lost ? sidecar : undefined);
      }
    }
    this.#landed.clear();
  }

  #openDb(): DatabaseSync {
    this.#statements.clear();
    return openRowDb(this.indexPath, this.#durable);
  }

  #prepare(sql: string): StatementSync {
    return this.#statements.get(sql);
  }

  #meta(key: string): string | undefined {
    const row = this.#prepare("SELECT value FROM meta WHERE key = ?").get(key);
    return row === undefined ? undefined : String(row.value);
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

async function removeIndexFiles(path: string): Promise<void> {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    await Deno.remove(p).catch(() => {});
  }
}

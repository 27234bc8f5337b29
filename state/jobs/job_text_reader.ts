/**
 * A job record's TOML text read straight from its row of the requester's job index
 * (`<state dir>/index.sqlite`, `state/jobs/job_index_schema.ts`), on a read-only connection: for
 * a reader that may read only the index's files (the correlator stage, the dashboard) and never
 * writes, imports or repairs anything. An index not there yet, or of an older schema (the
 * profile's records not imported yet: `state/jobs/job_repository.ts` does it at its next open),
 * reads as no job and is looked for again at the next read.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openRowDbReadOnly } from "./row_db.ts";

/**
 * The index's files a {@linkcode JobTextReader} reads (a read permission's list).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(jobIndexFiles("/state/"), [
 *   "/state/index.sqlite", "/state/index.sqlite-wal", "/state/index.sqlite-shm",
 * ]);
 * ```
 */
export function jobIndexFiles(stateDir: string): string[] {
  const path = `${stateDir.replace(/\/+$/, "")}/index.sqlite`;
  return [path, `${path}-wal`, `${path}-shm`];
}

/**
 * Reads rows' texts by job id; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openJobRepository } from "./job_repository.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const reader = new JobTextReader(stateDir);
 * const job = { id: "ab".repeat(32), kind: 5100, skill: "echo", status: "sent" as const,
 *   createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * assert.equal(reader.text(job.id), undefined); // no index yet
 * const repo = await openJobRepository({ stateDir });
 * await repo.create(job);
 * assert.match(reader.text(job.id) ?? "", /skill = "echo"/);
 * reader.close();
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class JobTextReader {
  readonly indexPath: string;
  #db: DatabaseSync | undefined;
  #select: StatementSync | undefined;
  #statements = new Map<string, StatementSync>();

  /** Opens nothing yet: the index is opened at the first read that finds it. */
  constructor(stateDir: string) {
    this.indexPath = jobIndexFiles(stateDir)[0];
  }

  /** The job's TOML text, or undefined when the index or its row is not there. */
  text(id: string): string | undefined {
    const select = this.#statement();
    if (select === undefined) return undefined;
    const row = select.get(id);
    return row === undefined ? undefined : String(row.text);
  }

  /** The newest `limit` records' texts, by creation, newest first. */
  newest(limit: number): string[] {
    return this.#all("SELECT text FROM jobs ORDER BY created_at_ms DESC, id LIMIT ?", limit)
      .map((r) => String(r.text));
  }

  /**
   * The texts of the rows written since `version` (0: all), oldest write first, at most
   * `limit`, with the highest version seen (every write raises its row's above all others).
   */
  changedSince(version: number, limit = 1e9): { texts: string[]; version: number } {
    const rows = this.#all(
      "SELECT text, version FROM jobs WHERE version > ? ORDER BY version LIMIT ?",
      version,
      limit,
    );
    const last = rows.reduce((v, r) => Math.max(v, Number(r.version)), version);
    return { texts: rows.map((r) => String(r.text)), version: last };
  }

  /** The number of rows and the highest version (both 0 without an index). */
  mark(): { count: number; version: number } {
    const [row] = this.#all("SELECT count(*) AS n, coalesce(max(version), 0) AS v FROM jobs");
    return { count: Number(row?.n ?? 0), version: Number(row?.v ?? 0) };
  }

  /** Closes the connection (a later read opens it again). */
  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#select = undefined;
    this.#statements.clear();
  }

  #all(sql: string, ...args: number[]): Record<string, unknown>[] {
    if (this.#statement() === undefined) return [];
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, statement = this.#db!.prepare(sql));
    return statement.all(...args);
  }

  #statement(): StatementSync | undefined {
    if (this.#select !== undefined) return this.#select;
    // A closing writer's checkpoint locks the file for a moment: the open waits, never "no job".
    const db = openRowDbReadOnly(this.indexPath);
    if (db === undefined) return undefined;
    try {
      this.#select = db.prepare("SELECT text FROM jobs WHERE id = ?");
    } catch (err) {
      db.close();
      // No jobs table yet, or one without the texts (schema 1): looked for again next time.
      if (err instanceof Error && /no such (table|column)/.test(err.message)) return undefined;
      throw err;
    }
    this.#db = db;
    return this.#select;
  }
}

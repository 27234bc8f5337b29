/**
 * The requester's job sidecars as rows of its index (`state/jobs/job_repository.ts` writes them
 * with the records; table in `state/jobs/job_index_schema.ts`): where the audit trail shows one,
 * the table made where an older index lacks it, and a sidecar read by a command beside the node
 * (docs/ARCHITECTURE.md "The requester's job records as rows").
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { openRowDbReadOnly } from "./row_db.ts";
import { SIDECARS_DIR, SIDECARS_TABLE_SQL } from "./job_index_schema.ts";

/**
 * Where the audit trail shows a job's sidecar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(sidecarAuditPath("ab".repeat(32)), `requester/${"ab".repeat(32)}.json`);
 * ```
 */
export function sidecarAuditPath(id: string): string {
  return `${SIDECARS_DIR}/${id}.json`;
}

/**
 * Makes the sidecars' table where an index made before it lacks it; writes nothing (takes no write
 * lock another process may hold) when it is there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * ensureSidecarsTable(db);
 * ensureSidecarsTable(db);
 * assert.equal(db.prepare("SELECT count(*) AS n FROM sidecars").get()?.n, 0);
 * db.close();
 * ```
 */
export function ensureSidecarsTable(db: DatabaseSync): void {
  const there = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sidecars'")
    .get();
  if (there === undefined) db.exec(SIDECARS_TABLE_SQL);
}

/**
 * A job's sidecar text from the index of the state dir, read without a repository (a command
 * beside the profile's node); undefined when the index has no row for it (an older profile's
 * sidecar is a file: `roles/requester/job_sidecar.ts` reads that then).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * import { openJobRepository } from "./job_repository.ts";
 *
 * const repo = await openJobRepository({ stateDir });
 * const id = "ab".repeat(32);
 * await repo.create({ id, kind: 5100, skill: "echo", status: "pending-send", createdAtMs: 1,
 *   updatedAtMs: 1, payments: [] }, { sidecar: '{"deadlineMs":1}' });
 * assert.equal(readJobSidecarText(stateDir, id), '{"deadlineMs":1}');
 * assert.equal(readJobSidecarText(stateDir, "cd".repeat(32)), undefined);
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function readJobSidecarText(stateDir: string, id: string): string | undefined {
  const db = openRowDbReadOnly(`${stateDir.replace(/\/+$/, "")}/index.sqlite`);
  if (db === undefined) return undefined;
  try {
    const row = db.prepare("SELECT text FROM sidecars WHERE id = ?").get(id);
    return row === undefined ? undefined : String(row.text);
  } catch (err) {
    // An index made before the sidecars' table: none of its jobs has a row.
    if (err instanceof Error && /no such table/.test(err.message)) return undefined;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * The `.gitignore` of a state dir's audit trail (state/audit/audit_log.ts).
 *
 * @module
 */

/**
 * What never goes into a state dir's history, whichever role opened it first (one state dir can
 * serve several commands): derived indexes, databases (and the note that the job records are rows
 * of one, `state/jobs/job_index_schema.ts`), temp files, process locks, live status,
 * per-job work dirs, the skills' Deno cache and the agent-task caches (the requester's sealed
 * repository bundles and their keys, the provider's checkouts). Every open makes sure `.gitignore` has them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATE_DIR_IGNORE } from "./state_dir_ignore.ts";
 *
 * assert(STATE_DIR_IGNORE.includes("node.lock"));
 * ```
 */
export const STATE_DIR_IGNORE: readonly string[] = [
  "index.sqlite",
  "index.sqlite-*",
  "town-events.sqlite",
  "town-events.sqlite-*",
  "provider.sqlite",
  "provider.sqlite-*",
  ".tmp-*",
  "*/.tmp-*",
  "jobs/RECORDS_IN_INDEX.txt",
  "provider-jobs/RECORDS_IN_INDEX.txt",
  "callbacks/",
  "channels/*.lock",
  "payment_doubts/",
  "node.lock",
  "node.sock",
  "node.start.lock",
  "node.log",
  "node.log.1",
  "provider-status.json",
  "work/",
  "skill-deno-cache/",
  "repository-bundles/",
  "agent-checkouts/",
];

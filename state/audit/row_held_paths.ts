/**
 * The state dir's paths whose bytes live in a database, not in files: the requester's job
 * records, `jobs/<id>.toml`, and their sidecars, `requester/<id>.json`, are rows of its index
 * (`state/jobs/job_repository.ts`; an older profile's sidecars stay files there), the
 * provider's, `provider-jobs/<id>.toml`, rows of its own (`state/jobs/provider_job_store.ts`). The audit
 * trail still shows each version of such a record under its path, staged from the bytes the
 * writer hands over (docs/ARCHITECTURE.md "The requester's job records as rows"); every process that
 * runs `git add` on a state dir leaves these paths out, or it would stage them as deleted.
 *
 * @module
 */

/** The directories (relative to the state dir) whose files are held as rows. */
export const ROW_HELD_DIRS: readonly string[] = ["jobs", "requester", "provider-jobs"];

/**
 * The pathspecs that leave the row-held directories out of a `git add` (after a `.`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROW_HELD_EXCLUDES } from "./row_held_paths.ts";
 *
 * assert.deepEqual(ROW_HELD_EXCLUDES, [
 *   ":(exclude,top)jobs/",
 *   ":(exclude,top)requester/",
 *   ":(exclude,top)provider-jobs/",
 * ]);
 * ```
 */
export const ROW_HELD_EXCLUDES: readonly string[] = ROW_HELD_DIRS.map((d) => `:(exclude,top)${d}/`);

/**
 * Whether a path (relative to the state dir, `/`-separated) is held as a row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRowHeld } from "./row_held_paths.ts";
 *
 * assert.equal(isRowHeld(`jobs/${"ab".repeat(32)}.toml`), true);
 * assert.equal(isRowHeld(`provider-jobs/${"ab".repeat(32)}.toml`), true);
 * assert.equal(isRowHeld("payment_log.jsonl"), false);
 * ```
 */
export function isRowHeld(path: string): boolean {
  return ROW_HELD_DIRS.some((d) => path.startsWith(`${d}/`));
}

/** Runs git in the state dir with `stdin`; returns its stdout. */
export type RowHeldGitRunner = (args: string[], stdin?: string | Uint8Array) => Promise<string>;

/**
 * Stages row-held paths into the index from the bytes a change handed over
 * (`git hash-object -w`, then `git update-index --index-info`); one without bytes is removed
 * from the index. What `git add` of the files did when the records were files.
 *
 * It needs a git repository: no example that runs here: tests/unit/state/audit/audit_log_test.ts.
 */
export async function stageRowHeld(
  run: RowHeldGitRunner,
  paths: readonly string[],
  contents: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  if (paths.length === 0) return;
  const lines: string[] = [];
  for (const path of paths) {
    const bytes = contents.get(path);
    if (bytes === undefined) lines.push(`0 ${"0".repeat(40)}\t${path}`);
    else {
      const sha = (await run(["hash-object", "-w", "--stdin"], bytes)).trim();
      lines.push(`100644 ${sha}\t${path}`);
    }
  }
  await run(["update-index", "--index-info"], `${lines.join("\n")}\n`);
}

/**
 * Sets the skip-worktree bit of the index entries of row-held paths, which are never on disk:
 * else `git status` in the state dir lists every one as deleted.
 *
 * It needs a git repository: no example that runs here: tests/unit/state/audit/audit_log_test.ts.
 */
export async function hideRowHeld(run: RowHeldGitRunner): Promise<void> {
  const listed = await run(["ls-files", "-z", "-t", "--", ...ROW_HELD_DIRS]);
  const shown = listed.split("\0").filter((l) => l.startsWith("H ")).map((l) => l.slice(2));
  if (shown.length === 0) return;
  await run(["update-index", "-z", "--skip-worktree", "--stdin"], shown.join("\0"));
}

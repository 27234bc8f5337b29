/**
 * What a piece of agent work changed, as `git diff --numstat` says it: each path with its lines
 * inserted and deleted between two commits, and their sum (`git diff --stat`'s). Renames count as
 * a deletion and an addition; a binary file is a path with no lines (`binary`).
 *
 * @module
 */
import { runGit } from "./git_command.ts";

/** What changed between two commits. */
export interface Diffstat {
  /** Files changed. */
  files: number;
  /** Lines inserted. */
  insertions: number;
  /** Lines deleted. */
  deletions: number;
}

/** One path changed between two commits. */
export interface PathChange {
  /** The path, relative to the repository's root. */
  path: string;
  /** Lines inserted (0 for a binary file). */
  insertions: number;
  /** Lines deleted (0 for a binary file). */
  deletions: number;
  /** A binary file: git counts no lines. */
  binary?: true;
}

/**
 * Each path changed in `from..to` in the repository at `dir`, in git's order.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_work_result_test.ts.
 */
export async function pathChanges(dir: string, from: string, to: string): Promise<PathChange[]> {
  const { stdout } = await runGit(["diff", "--numstat", "-z", "--no-renames", from, to, "--"], {
    dir,
  });
  const changes: PathChange[] = [];
  for (const entry of stdout.split("\0")) {
    const m = /^(\d+|-)\t(\d+|-)\t(.+)$/s.exec(entry);
    if (m === null) continue;
    const change: PathChange = {
      path: m[3],
      insertions: m[1] === "-" ? 0 : Number(m[1]),
      deletions: m[2] === "-" ? 0 : Number(m[2]),
    };
    if (m[1] === "-") change.binary = true;
    changes.push(change);
  }
  return changes;
}

/**
 * The sum of {@linkcode PathChange}s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumChanges } from "./diffstat.ts";
 *
 * assert.deepEqual(sumChanges([{ path: "a", insertions: 2, deletions: 1 }]), { files: 1, insertions: 2, deletions: 1 });
 * ```
 */
export function sumChanges(changes: readonly PathChange[]): Diffstat {
  const stat: Diffstat = { files: 0, insertions: 0, deletions: 0 };
  for (const c of changes) {
    stat.files++;
    stat.insertions += c.insertions;
    stat.deletions += c.deletions;
  }
  return stat;
}

/**
 * The diffstat of `from..to` in the repository at `dir`.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_work_result_test.ts.
 */
export async function diffstat(dir: string, from: string, to: string): Promise<Diffstat> {
  return sumChanges(await pathChanges(dir, from, to));
}

/**
 * What a piece of agent work changed, as `git diff --stat` sums it: files, lines inserted, lines
 * deleted between two commits (renames counted as a deletion and an addition; a binary file
 * counts as a file with no lines).
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

/**
 * The diffstat of `from..to` in the repository at `dir`.
 *
 * @example
 * ```ts
 * import { diffstat } from "./diffstat.ts";
 *
 * const stat = await diffstat(".", "HEAD~1", "HEAD");
 * stat.files >= 0; // true
 * ```
 */
export async function diffstat(dir: string, from: string, to: string): Promise<Diffstat> {
  const { stdout } = await runGit(["diff", "--numstat", "-z", "--no-renames", from, to, "--"], {
    dir,
  });
  const stat: Diffstat = { files: 0, insertions: 0, deletions: 0 };
  for (const entry of stdout.split("\0")) {
    const m = /^(\d+|-)\t(\d+|-)\t/.exec(entry);
    if (m === null) continue;
    stat.files++;
    if (m[1] !== "-") stat.insertions += Number(m[1]);
    if (m[2] !== "-") stat.deletions += Number(m[2]);
  }
  return stat;
}

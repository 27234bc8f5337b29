/**
 * A result checked against an integration tip and merged there without a working tree
 * (docs/AGENTS.md "The refinery"): `git merge-tree --write-tree` computes the merge in the object
 * store (git 2.38 and later), and `git commit-tree` makes the merge commit. Neither touches the
 * index, the working files or any ref: a merge that is then refused by the gate leaves nothing
 * but unreachable objects, which git's gc collects.
 *
 * @module
 */
import { runGit } from "../git_command.ts";

/** What {@linkcode checkMerge} found. */
export type MergeCheck =
  | { clean: true; tree: string }
  | { clean: false; conflicts: string[] };

/**
 * Whether `result` merges into `tip` cleanly; its tree when it does, the paths in conflict when
 * not. Touches no ref, index or working file.
 *
 * It runs git: no example that runs here: tests/e2e/refinery_test.ts.
 */
export async function checkMerge(
  repoDir: string,
  tip: string,
  result: string,
  timeoutMs?: number,
): Promise<MergeCheck> {
  const { code, stdout } = await runGit(
    ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", tip, result],
    { dir: repoDir, timeoutMs, allowCodes: [1] },
  );
  // -z: the tree, then each conflicted path, NUL-terminated.
  const [tree, ...paths] = stdout.split("\0").filter((s) => s !== "");
  if (code === 0) return { clean: true, tree: tree! };
  return { clean: false, conflicts: [...new Set(paths)] };
}

/**
 * The merge commit of `result` into `tip` with `tree` (from {@linkcode checkMerge}); no ref moves.
 * The committer is the repository's own (`user.name`, `user.email`), else "turnpike refinery".
 *
 * It runs git: no example that runs here: tests/e2e/refinery_test.ts.
 */
export async function mergeCommit(
  repoDir: string,
  tip: string,
  result: string,
  tree: string,
  message: string,
  timeoutMs?: number,
): Promise<string> {
  const name = await configValue(repoDir, "user.name", timeoutMs);
  const email = await configValue(repoDir, "user.email", timeoutMs);
  const who = [
    ...(name ? [] : ["-c", "user.name=turnpike refinery"]),
    ...(email ? [] : ["-c", "user.email=refinery@turnpike.invalid"]),
  ];
  const { stdout } = await runGit(
    [...who, "commit-tree", tree, "-p", tip, "-p", result, "-m", message],
    { dir: repoDir, timeoutMs },
  );
  return stdout.trim();
}

async function configValue(
  dir: string,
  key: string,
  timeoutMs?: number,
): Promise<string | undefined> {
  const { code, stdout } = await runGit(["config", "--get", key], {
    dir,
    timeoutMs,
    allowCodes: [1],
  });
  return code === 0 ? stdout.trim() || undefined : undefined;
}

/**
 * The provider's side of a repository delta (roles/agent_work/repository_delta.ts; docs/PROTOCOL.md
 * "A new base as a delta"): a checkout of the base sent before, moved on to the task's base by the
 * delta's commits. The checkout is one `worktreeFromBundle` made and checked
 * (roles/agent_work/bundle_worktree.ts), or such a one taken from the checkout cache as hard links
 * (roles/agent_work/provider/checkout_cache.ts), which nothing here may write in place.
 *
 * What is checked before any object enters the repository: the delta's size, that it carries
 * exactly one ref, {@linkcode BASE_REF}, at the agreed base, and that it needs at least one commit,
 * each of which the repository holds (`git bundle verify`). Then `git bundle unbundle` (its thin
 * pack completed from the repository's objects, a corrupt one refused), the base's whole history
 * checked present (`rev-list --objects`, down to the checkout's shallow commits), and the base's
 * files against `maxCheckoutBytes` before any is written (`ExpandedTooLargeError`). `git reset
 * --hard` then writes only the paths that differ, each as a new file (git replaces a file it
 * updates), so a cached checkout's files are never changed.
 *
 * Nothing else of the checkout is written in place: the ref logs (appended to by git) are removed
 * from the copy first, so that git writes new ones; the index, the refs and the new pack are
 * written by rename or as new files.
 *
 * @module
 */
import { BundleFormatError, BundlePrerequisiteError } from "./agent_work_errors.ts";
import { readBundleHeader } from "./bundle_header.ts";
import { treeExpandedSize } from "./expanded_size.ts";
import { runGit } from "./git_command.ts";
import { BASE_REF, DEFAULT_REPOSITORY_BUNDLE_MAX } from "./repository_bundle.ts";
import { checkBaseRef, DEFAULT_CHECKOUT_MAX, DEFAULT_WORK_BRANCH } from "./bundle_worktree.ts";

/** Options of {@linkcode applyRepositoryDelta}. */
export interface ApplyRepositoryDeltaOptions {
  /** The requester's delta bundle. */
  bundlePath: string;
  /** The base commit agreed in the job (full object id): the delta's one ref must be it. */
  base: string;
  /** The checkout of the base sent before (a repository `worktreeFromBundle` made). */
  dir: string;
  /** The branch checked out; {@linkcode DEFAULT_WORK_BRANCH} by default. */
  branch?: string;
  /** Bytes the delta may have; the repository bundle's default limit by default. */
  maxBytes?: number;
  /** Bytes the base's files may take checked out; {@linkcode DEFAULT_CHECKOUT_MAX} by default. */
  maxCheckoutBytes?: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/** The checkout once moved on. */
export interface DeltaWorktree {
  /** The base commit, checked out. */
  base: string;
  /** How many commits of history the repository has for it. */
  commits: number;
  /** Bytes the base's files take checked out (from git's object sizes). */
  bytes: number;
}

/**
 * Checks a delta bundle and moves the checkout at `dir` on to the base it carries. On any refusal
 * the checkout is removed (it would be half moved): the caller's job takes none.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/repository_delta_test.ts.
 */
export async function applyRepositoryDelta(o: ApplyRepositoryDeltaOptions): Promise<DeltaWorktree> {
  const { bundlePath, base, dir, timeoutMs } = o;
  const branch = o.branch ?? DEFAULT_WORK_BRANCH;
  try {
    const header = await readBundleHeader(bundlePath, o.maxBytes ?? DEFAULT_REPOSITORY_BUNDLE_MAX);
    checkBaseRef(header, base, "delta");
    if (header.prerequisites.length === 0) {
      throw new BundlePrerequisiteError("a repository delta must need the base sent before");
    }
    // The checkout's own `.git` dir (worktreeFromBundle makes one), else as git says.
    const gitDir = await Deno.lstat(`${dir}/.git`).then((s) => s.isDirectory, () => false)
      ? await Deno.realPath(`${dir}/.git`)
      : (await runGit(["rev-parse", "--absolute-git-dir"], { dir, timeoutMs })).stdout.trim();
    // Appended to in place by git: in a cached checkout's hard-linked copy, the cache's own files
    // (removed here, git writes new ones).
    await Deno.remove(`${gitDir}/logs`, { recursive: true }).catch(() => {});
    const git = (args: string[]) => runGit(args, { dir, timeoutMs });
    const absBundle = await Deno.realPath(bundlePath);
    // Unbundled at once (it checks the prerequisites too); `verify` only says which refusal it
    // was: one git process fewer when the delta is whole (docs/SCALE.md "A new base's delta in
    // fewer processes").
    await git(["bundle", "unbundle", absBundle]).catch(async (err) => {
      const verified = await git(["bundle", "verify", "-q", absBundle]).then(
        () => true,
        () => false,
      );
      if (!verified) {
        throw new BundlePrerequisiteError(
          "the delta needs commits this checkout does not hold, or git refused it",
          { cause: err },
        );
      }
      throw new BundleFormatError("git refused the delta's pack", { cause: err });
    });
    await runGit(["update-ref", "--stdin"], {
      dir,
      timeoutMs,
      stdin: new TextEncoder().encode(
        `update ${BASE_REF} ${base}\nupdate refs/heads/${branch} ${base}\n`,
      ),
    });
    try {
      await git(["rev-list", "--objects", "--quiet", base]);
    } catch (err) {
      throw new BundleFormatError("the delta lacks objects of the base's history", { cause: err });
    }
    const bytes = await treeExpandedSize(base, {
      dir,
      limit: o.maxCheckoutBytes ?? DEFAULT_CHECKOUT_MAX,
      timeoutMs,
    });
    await git(["reset", "-q", "--hard", base]);
    const commits = Number((await git(["rev-list", "--count", base])).stdout.trim());
    return { base, commits, bytes };
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}

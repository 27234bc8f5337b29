/**
 * The provider's result: the agent's commits as one git bundle of `base..<branch>` of the
 * worktree made by roles/agent_work/bundle_worktree.ts, whose one prerequisite is the base (the
 * requester has it) and whose one ref is the work branch; with its diffstat (docs/PROTOCOL.md
 * "Agent work").
 *
 * Refused, each with its own error: a branch whose tip does not descend from the base
 * ({@linkcode HistoryRewrittenError}: the base's history was rewritten, which the requester would
 * refuse anyway), a branch still at the base ({@linkcode NoCommitsError}: git makes no empty
 * bundle, and "nothing committed" is the job's outcome to report, not a bundle to deliver), a
 * bundle needing other commits than the base (a merge of an older ancestor), a bundle over the
 * size limit.
 *
 * @module
 */
import {
  BundlePrerequisiteError,
  HistoryRewrittenError,
  NoCommitsError,
} from "./agent_work_errors.ts";
import { readBundleHeader } from "./bundle_header.ts";
import { DEFAULT_WORK_BRANCH } from "./bundle_worktree.ts";
import { type Diffstat, diffstat } from "./diffstat.ts";
import { runGit } from "./git_command.ts";

/** A result bundle's size limit by default. */
export const DEFAULT_RESULT_BUNDLE_MAX = 32 * 1024 * 1024;

/** Options of {@linkcode createResultBundle}. */
export interface ResultBundleOptions {
  /** The worktree the agent committed in. */
  dir: string;
  /** The base commit (full object id). */
  base: string;
  /** Where the bundle is written. */
  outPath: string;
  /** The branch of the agent's commits; {@linkcode DEFAULT_WORK_BRANCH} by default. */
  branch?: string;
  /** Bytes the bundle may have; {@linkcode DEFAULT_RESULT_BUNDLE_MAX} by default. */
  maxBytes?: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/** A result bundle made. */
export interface ResultBundle {
  /** Where it was written. */
  path: string;
  /** The base, its one prerequisite. */
  base: string;
  /** The branch's tip. */
  tip: string;
  /** Its one ref (`refs/heads/<branch>`). */
  ref: string;
  /** Its size in bytes. */
  bytes: number;
  /** Commits in `base..tip`. */
  commits: number;
  /** What they change. */
  diffstat: Diffstat;
}

/**
 * Writes the bundle of the agent's commits on top of the base.
 *
 * @example
 * ```ts
 * import { createResultBundle } from "./result_bundle.ts";
 *
 * const result = await createResultBundle({
 *   dir: "/tmp/work",
 *   base: "0123456789abcdef0123456789abcdef01234567",
 *   outPath: "/tmp/result.bundle",
 * });
 * result.diffstat.files; // e.g. 3
 * ```
 */
export async function createResultBundle(options: ResultBundleOptions): Promise<ResultBundle> {
  const { dir, base, outPath, timeoutMs } = options;
  const ref = `refs/heads/${options.branch ?? DEFAULT_WORK_BRANCH}`;
  const maxBytes = options.maxBytes ?? DEFAULT_RESULT_BUNDLE_MAX;
  const tip = (await runGit(["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`], {
    dir,
    timeoutMs,
  })).stdout.trim();
  if (tip === base) throw new NoCommitsError(`${ref} is still at the base ${base}`);
  const { code } = await runGit(["merge-base", "--is-ancestor", base, tip], {
    dir,
    timeoutMs,
    allowCodes: [1],
  });
  if (code === 1) {
    throw new HistoryRewrittenError(`${ref} at ${tip} does not descend from the base ${base}`);
  }
  await runGit(["bundle", "create", "-q", outPath, ref, `^${base}`], { dir, timeoutMs });
  try {
    // Throws BundleTooLargeError past the limit.
    const header = await readBundleHeader(outPath, maxBytes);
    const others = header.prerequisites.filter((p) => p !== base);
    if (others.length > 0) {
      throw new BundlePrerequisiteError(
        `the commits need ${others.join(", ")} besides the base (a merge of other history)`,
      );
    }
  } catch (err) {
    await Deno.remove(outPath).catch(() => {});
    throw err;
  }
  const { size } = await Deno.stat(outPath);
  const commits = Number(
    (await runGit(["rev-list", "--count", `${base}..${tip}`], { dir, timeoutMs })).stdout.trim(),
  );
  return {
    path: outPath,
    base,
    tip,
    ref,
    bytes: size,
    commits,
    diffstat: await diffstat(dir, base, tip),
  };
}

/**
 * A result bundle (the agent's commits, bundled in the sandbox by skills/agent-task/run) checked
 * against a repository, by the provider against its pristine copy before it seals the result and
 * by the requester against its own, then applied as a branch (docs/PROTOCOL.md "Agent work").
 *
 * Checked, in this order, each refusal with its own error:
 * 1. the size ({@linkcode BundleTooLargeError}), from the file's size before reading it;
 * 2. the header ({@linkcode BundleFormatError} for bytes that are not a bundle);
 * 3. exactly one ref ({@linkcode BundleRefsError});
 * 4. its prerequisites are commits the repository has ({@linkcode BundlePrerequisiteError});
 * 5. git fetches it into a quarantine: a temporary bare repository that borrows the requester's
 *    objects (`objects/info/alternates`), so that nothing of a refused bundle is written into
 *    the requester's repository ({@linkcode BundleFormatError} when git refuses its pack);
 * 6. its tip descends from the base, i.e. the base's history is unchanged under the work
 *    ({@linkcode HistoryRewrittenError}) and is not the base itself ({@linkcode NoCommitsError});
 * 7. its one prerequisite is the base ({@linkcode BundlePrerequisiteError});
 * 8. the files it adds or changes take at most `maxExpandedBytes` written out, summed from git's
 *    object sizes before any of them is inflated (`ExpandedTooLargeError`): a bundle
 *    of kilobytes may name one zero blob under thousands of paths, which the diffstat would read
 *    one by one (docs/PROTOCOL.md "Agent work").
 *
 * Applied: fetched into the repository under a temporary ref, its commits rewritten when a
 * `rewrite` is given (the requester's provenance trailers), then `refs/heads/<branch>` is
 * created at its tip with `update-ref` (never the checked-out branch, never the working files
 * or the index). A branch that exists at the same commit is fine (applying twice is applying
 * once); at another commit it is refused ({@linkcode BranchExistsError}), except with
 * `fastForward` when it is exactly at the base: then it is fast-forwarded to the tip, with
 * `git merge --ff-only` when it is the branch checked out in `repoDir` (git refuses local
 * changes the result would overwrite), with a compare-and-swap `update-ref` when no worktree has
 * it checked out, and refused when another worktree has (docs/OPERATIONS.md "Gas Town presets").
 *
 * @module
 */
import {
  BranchExistsError,
  BundleFormatError,
  BundlePrerequisiteError,
  BundleRefsError,
  HistoryRewrittenError,
  NoCommitsError,
} from "./agent_work_errors.ts";
import { makeBareRepository } from "./bare_repository.ts";
import { readBundleHeader } from "./bundle_header.ts";
import { type Diffstat, type PathChange, pathChanges, sumChanges } from "./diffstat.ts";
import { diffExpandedSize } from "./expanded_size.ts";
import { runGit } from "./git_command.ts";

/** A result bundle's size limit by default. */
export const DEFAULT_RESULT_BUNDLE_MAX = 32 * 1024 * 1024;

/**
 * Bytes a result's added and changed files may take by default: a 32 MiB bundle of source
 * expands to a few times that; a gigabyte diffs in seconds.
 */
export const DEFAULT_RESULT_EXPANDED_MAX = 1024 * 1024 * 1024;

/** Where a result is fetched before its branch is made. */
const INCOMING_REF = "refs/turnpike/incoming";
/**
 * Where the quarantine of a check fetches the result's ref: a branch, so git refuses anything but
 * a commit there (a tag or a tree: "trying to write non-commit object").
 */
const QUARANTINE_REF = "refs/heads/incoming";

/** Options of {@linkcode checkResultBundle}. */
export interface CheckResultOptions {
  /** The requester's repository. */
  repoDir: string;
  /** The provider's result bundle. */
  bundlePath: string;
  /** The base commit the task was sent at (any revision; resolved in `repoDir`). */
  base: string;
  /** Bytes the bundle may have; {@linkcode DEFAULT_RESULT_BUNDLE_MAX} by default. */
  maxBytes?: number;
  /**
   * Bytes the files it adds or changes may take written out;
   * {@linkcode DEFAULT_RESULT_EXPANDED_MAX} by default.
   */
  maxExpandedBytes?: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/** A result that passed the checks. */
export interface CheckedResult {
  /** The base (full object id). */
  base: string;
  /** The work's tip. */
  tip: string;
  /** The bundle's one ref, as the provider named it. */
  ref: string;
  /** Commits in `base..tip`. */
  commits: number;
  /** What they change. */
  diffstat: Diffstat;
  /** Each path they change, with its lines inserted and deleted. */
  changes: PathChange[];
}

/** Options of {@linkcode applyResultBundle}. */
export interface ApplyResultOptions extends CheckResultOptions {
  /** The branch to create; `turnpike/<the job id's first 12 characters>` by default. */
  branch?: string;
  /** The job's id (event id), which names the default branch. */
  jobId?: string;
  /** Fast-forward `branch` when it exists at the base (even checked out); refused otherwise. */
  fastForward?: boolean;
  /**
   * Rewrites the fetched commits before the branch is made (the requester's provenance
   * trailers, requester/provenance_trailers.ts): given the repository, the base and the bundle's
   * tip, it returns the tip the branch gets. Deterministic, so applying twice is applying once.
   */
  rewrite?: (dir: string, base: string, tip: string) => Promise<string>;
}

/** A result applied. */
export interface AppliedResult extends CheckedResult {
  /** The branch, at `tip`. */
  branch: string;
  /** False when the branch was already at `tip` (applied before) or was fast-forwarded. */
  created: boolean;
  /** True when an existing branch at the base was moved to `tip` (`fastForward`). */
  fastForwarded?: boolean;
  /** The tip the bundle carried, when `rewrite` made `tip` another commit. */
  bundleTip?: string;
}

/**
 * Checks a result bundle against the requester's repository without changing it.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_work_result_test.ts.
 */
export async function checkResultBundle(options: CheckResultOptions): Promise<CheckedResult> {
  const { repoDir, bundlePath, timeoutMs } = options;
  const header = await readBundleHeader(bundlePath, options.maxBytes ?? DEFAULT_RESULT_BUNDLE_MAX);
  const [bundled, ...more] = header.refs;
  if (bundled === undefined || more.length > 0) {
    throw new BundleRefsError(`a result carries exactly 1 ref; this one ${header.refs.length}`);
  }
  // One process: the repository's object dir (for the quarantine below), then the base.
  const [commonDir, base] = (await runGit([
    "rev-parse",
    "--path-format=absolute",
    "--git-common-dir",
    "--verify",
    "--end-of-options",
    `${options.base}^{commit}`,
  ], { dir: repoDir, timeoutMs })).stdout.trim().split("\n");
  // The base is a commit of the repository (just verified): a result's one prerequisite, asked
  // about without a process more.
  for (const oid of header.prerequisites.filter((p) => p !== base)) {
    const { code } = await runGit(["cat-file", "-e", `${oid}^{commit}`], {
      dir: repoDir,
      timeoutMs,
      allowCodes: [1, 128],
    });
    if (code !== 0) {
      throw new BundlePrerequisiteError(`it needs ${oid}, which the repository lacks`);
    }
  }
  const quarantine = await Deno.makeTempDir({ prefix: "turnpike-result-" });
  try {
    await makeBareRepository(quarantine, { alternates: `${commonDir}/objects` });
    const absBundle = await Deno.realPath(bundlePath);
    try {
      // No automatic maintenance after it: the quarantine is removed below.
      await runGit([
        ...["-c", "maintenance.auto=false", "-c", "gc.auto=0"],
        "fetch",
        "-q",
        "--no-tags",
        "--no-write-fetch-head",
        absBundle,
        `${bundled.name}:${QUARANTINE_REF}`,
      ], { dir: quarantine, timeoutMs });
    } catch (err) {
      throw new BundleFormatError("git refused the result bundle", { cause: err });
    }
    // The tip is the bundle's ref as its header names it: the fetch stored that object at a
    // branch, which git does for a commit only.
    const tip = bundled.oid;
    if (tip === base) throw new NoCommitsError(`the result's tip is the base ${base}`);
    // One process for two answers: no commit of the base's side of `base...tip` (the base is
    // then an ancestor of the tip), and the count of the tip's side (the result's commits).
    const [baseSide, commits] = (await runGit(
      ["rev-list", "--left-right", "--count", `${base}...${tip}`],
      { dir: quarantine, timeoutMs },
    )).stdout.trim().split(/\s+/).map(Number);
    if (baseSide !== 0) {
      throw new HistoryRewrittenError(`the result's tip ${tip} does not descend from ${base}`);
    }
    if (header.prerequisites.length !== 1 || header.prerequisites[0] !== base) {
      const needs = header.prerequisites.join(", ") || "none";
      throw new BundlePrerequisiteError(
        `a result needs exactly the base ${base}; this one ${needs}`,
      );
    }
    await diffExpandedSize(base, tip, {
      dir: quarantine,
      limit: options.maxExpandedBytes ?? DEFAULT_RESULT_EXPANDED_MAX,
      timeoutMs,
    });
    const changes = await pathChanges(quarantine, base, tip);
    return { base, tip, ref: bundled.name, commits, diffstat: sumChanges(changes), changes };
  } finally {
    await Deno.remove(quarantine, { recursive: true }).catch(() => {});
  }
}

/**
 * Checks a result bundle ({@linkcode checkResultBundle}) and makes its branch.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_work_result_test.ts.
 */
export async function applyResultBundle(options: ApplyResultOptions): Promise<AppliedResult> {
  const { repoDir, bundlePath, timeoutMs } = options;
  const branch = options.branch ?? defaultBranch(options.jobId);
  await runGit(["check-ref-format", `refs/heads/${branch}`], { dir: repoDir, timeoutMs });
  const bundled = await checkResultBundle(options);
  const incoming = `${INCOMING_REF}/${crypto.randomUUID()}`;
  try {
    await runGit([
      "fetch",
      "-q",
      "--no-tags",
      "--no-write-fetch-head",
      await Deno.realPath(bundlePath),
      `${bundled.ref}:${incoming}`,
    ], { dir: repoDir, timeoutMs });
    const tip = options.rewrite === undefined
      ? bundled.tip
      : await options.rewrite(repoDir, bundled.base, bundled.tip);
    const checked = tip === bundled.tip ? bundled : { ...bundled, tip, bundleTip: bundled.tip };
    const existing = await branchTip(repoDir, branch, timeoutMs);
    if (existing === checked.tip) return { ...checked, branch, created: false };
    const forward = options.fastForward === true && existing === checked.base;
    if (existing !== undefined && !forward) {
      throw new BranchExistsError(
        `${branch} exists at ${existing}, not at the result ${checked.tip}`,
      );
    }
    if (forward) {
      await fastForwardBranch(repoDir, branch, checked, timeoutMs);
      return { ...checked, branch, created: false, fastForwarded: true };
    }
    // The empty old value: create only, so a branch made meanwhile is not overwritten.
    const made = await runGit(["update-ref", `refs/heads/${branch}`, checked.tip, ""], {
      dir: repoDir,
      timeoutMs,
      allowCodes: [1, 128],
    });
    if (made.code !== 0) {
      const now = await branchTip(repoDir, branch, timeoutMs);
      if (now !== checked.tip) {
        throw new BranchExistsError(`${branch} was made meanwhile at ${now}`);
      }
      return { ...checked, branch, created: false };
    }
    return { ...checked, branch, created: true };
  } finally {
    await runGit(["update-ref", "-d", incoming], { dir: repoDir, timeoutMs }).catch(() => {});
  }
}

/**
 * Moves `branch`, at `checked.base`, to `checked.tip` (already in the repository): with
 * `git merge --ff-only` when `dir` has it checked out, a compare-and-swap `update-ref` when no
 * worktree has; {@linkcode BranchExistsError} when another worktree has it or it moved.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_work_result_test.ts.
 */
export async function fastForwardBranch(
  dir: string,
  branch: string,
  checked: Pick<CheckedResult, "base" | "tip">,
  timeoutMs: number | undefined,
): Promise<void> {
  const ref = `refs/heads/${branch}`;
  const head = await runGit(["symbolic-ref", "-q", "HEAD"], { dir, timeoutMs, allowCodes: [1] });
  if (head.stdout.trim() === ref) {
    try {
      await runGit(["merge", "--ff-only", "-q", checked.tip], { dir, timeoutMs });
    } catch (err) {
      throw new BranchExistsError(`git refused to fast-forward the checked-out ${branch}`, {
        cause: err,
      });
    }
    return;
  }
  const worktrees = (await runGit(["worktree", "list", "--porcelain"], { dir, timeoutMs })).stdout;
  if (worktrees.split("\n").includes(`branch ${ref}`)) {
    throw new BranchExistsError(`${branch} is checked out in another worktree`);
  }
  const moved = await runGit(["update-ref", ref, checked.tip, checked.base], {
    dir,
    timeoutMs,
    allowCodes: [1, 128],
  });
  if (moved.code !== 0) throw new BranchExistsError(`${branch} moved from ${checked.base}`);
}

function defaultBranch(jobId: string | undefined): string {
  if (jobId === undefined || !/^[0-9a-f]{12,}$/.test(jobId)) {
    throw new RangeError("a branch, or a job id (hex) to name it, is needed");
  }
  return `turnpike/${jobId.slice(0, 12)}`;
}

async function branchTip(
  dir: string,
  branch: string,
  timeoutMs: number | undefined,
): Promise<string | undefined> {
  const { code, stdout } = await runGit(
    ["rev-parse", "--verify", "-q", `refs/heads/${branch}^{commit}`],
    { dir, timeoutMs, allowCodes: [1] },
  );
  return code === 0 ? stdout.trim() : undefined;
}

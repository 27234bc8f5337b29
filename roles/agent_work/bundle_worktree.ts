/**
 * The provider's side of a task's repository: a worktree checked out from the requester's
 * bundle (roles/agent_work/repository_bundle.ts), at the base, on a branch, with a git identity
 * for the agent's commits (docs/PROTOCOL.md "Agent work"). A bundle refused leaves no repository
 * behind.
 *
 * What is checked before any object enters the new repository: the bundle's size, that it needs
 * no prerequisites, and that it carries exactly one ref, {@linkcode BASE_REF}, at the agreed base
 * commit. Then `git bundle verify` and `git bundle unbundle` (which indexes its pack, refusing a
 * corrupt one). A bundle made to a depth leaves its oldest commits' parents out: git's fetch and
 * clone refuse such a history as incomplete, so this code unbundles the pack itself and writes
 * those commits to `.git/shallow`, as `git clone --depth` would have; then it checks that every
 * object of the base's history is there (`rev-list --objects`), and that the base's files take
 * at most `maxCheckoutBytes` written out, summed from git's object sizes before the checkout
 * writes any (`ExpandedTooLargeError`): a bundle of kilobytes may name one zero blob under
 * thousands of paths (docs/PROTOCOL.md "Agent work").
 *
 * @module
 */
import {
  BundleFormatError,
  BundlePrerequisiteError,
  BundleRefsError,
} from "./agent_work_errors.ts";
import { type BundleHeader, readBundleHeader } from "./bundle_header.ts";
import { treeExpandedSize } from "./expanded_size.ts";
import { runGit } from "./git_command.ts";
import { BASE_REF, DEFAULT_REPOSITORY_BUNDLE_MAX } from "./repository_bundle.ts";
import { type CheckoutSeed, seedCheckout, unseedCheckout } from "./seeded_checkout.ts";

/**
 * Bytes a checkout may write by default: half the agent-task skill's 4 GiB work dir, since the
 * job gets the files as a tar and unpacks it there (skills/agent-task/SKILL.md).
 */
export const DEFAULT_CHECKOUT_MAX = 2 * 1024 * 1024 * 1024;

/** The branch the agent works on by default. */
export const DEFAULT_WORK_BRANCH = "turnpike/work";

/** The name and email of the agent's commits by default. */
export const DEFAULT_AGENT_IDENTITY: Readonly<GitIdentity> = {
  name: "turnpike agent",
  email: "agent@turnpike.invalid",
};

/** A git author and committer. */
export interface GitIdentity {
  /** `user.name`. */
  name: string;
  /** `user.email`. */
  email: string;
}

/** Options of {@linkcode worktreeFromBundle}. */
export interface WorktreeFromBundleOptions {
  /** The requester's bundle. */
  bundlePath: string;
  /** The base commit agreed in the job (full object id): the bundle's one ref must be it. */
  base: string;
  /** The directory of the new repository: absent or empty. */
  dir: string;
  /** The branch checked out at the base; {@linkcode DEFAULT_WORK_BRANCH} by default. */
  branch?: string;
  /** Who the agent's commits are by; {@linkcode DEFAULT_AGENT_IDENTITY} by default. */
  identity?: GitIdentity;
  /** Bytes the bundle may have; the repository bundle's default limit by default. */
  maxBytes?: number;
  /**
   * Bytes the base's files may take checked out; {@linkcode DEFAULT_CHECKOUT_MAX} by default.
   */
  maxCheckoutBytes?: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
  /**
   * Checkouts of other bases to start from, best first (seeded_checkout.ts): the first whose base
   * the bundle holds gives its files, and only those that differ are written.
   */
  seeds?: readonly CheckoutSeed[];
}

/** The worktree made. */
export interface BundleWorktree {
  /** Its directory. */
  dir: string;
  /** The base commit, checked out. */
  base: string;
  /** The branch checked out. */
  branch: string;
  /** How many commits of history it has. */
  commits: number;
  /** The commits marked shallow (their parents were not in the bundle). */
  shallow: string[];
  /** The seed its files started from, when one was used. */
  seed?: CheckoutSeed;
  /** Bytes the base's files take checked out (from git's object sizes). */
  bytes: number;
}

/**
 * Checks a repository bundle and checks it out into a new repository at `dir`.
 *
 * It runs git: no example that runs here:
 * tests/unit/roles/agent_work/agent_work_repository_bundle_test.ts.
 */
export async function worktreeFromBundle(
  options: WorktreeFromBundleOptions,
): Promise<BundleWorktree> {
  const { bundlePath, base, dir, timeoutMs } = options;
  const branch = options.branch ?? DEFAULT_WORK_BRANCH;
  const identity = options.identity ?? DEFAULT_AGENT_IDENTITY;
  const header = await readBundleHeader(
    bundlePath,
    options.maxBytes ?? DEFAULT_REPOSITORY_BUNDLE_MAX,
  );
  if (header.prerequisites.length > 0) {
    throw new BundlePrerequisiteError(
      `a repository bundle must need no commits; this one needs ${header.prerequisites.length}`,
    );
  }
  checkBaseRef(header, base, "bundle");
  const existed = await Deno.stat(dir).then(() => true, () => false);
  let shallow: string[];
  let seed: CheckoutSeed | undefined;
  let bytes: number;
  try {
    await runGit(["init", "-q", `--initial-branch=${branch}`, dir], { timeoutMs });
    const absBundle = await Deno.realPath(bundlePath);
    try {
      await runGit(["bundle", "verify", "-q", absBundle], { dir, timeoutMs });
      await runGit(["bundle", "unbundle", absBundle], { dir, timeoutMs });
    } catch (err) {
      throw new BundleFormatError("git refused the bundle's pack", { cause: err });
    }
    const gitDir = (await runGit(["rev-parse", "--absolute-git-dir"], { dir, timeoutMs })).stdout
      .trim();
    shallow = await markShallow(dir, gitDir, timeoutMs);
    await runGit(["update-ref", BASE_REF, base], { dir, timeoutMs });
    await runGit(["update-ref", `refs/heads/${branch}`, base], { dir, timeoutMs });
    try {
      await runGit(["rev-list", "--objects", "--quiet", base], { dir, timeoutMs });
    } catch (err) {
      throw new BundleFormatError("the bundle lacks objects of the base's history", { cause: err });
    }
    await Deno.writeTextFile(`${gitDir}/config`, checkoutConfig(identity), { append: true });
    bytes = await treeExpandedSize(base, {
      dir,
      limit: options.maxCheckoutBytes ?? DEFAULT_CHECKOUT_MAX,
      timeoutMs,
    });
    seed = options.seeds === undefined
      ? undefined
      : await seedCheckout({ dir, seeds: options.seeds, timeoutMs });
    await runGit(["reset", "-q", "--hard", base], { dir, timeoutMs }).catch(async (err) => {
      if (seed === undefined) throw err;
      // The seed misled the reset: its files dropped, and the base written whole.
      seed = undefined;
      await unseedCheckout(dir);
      await runGit(["reset", "-q", "--hard", base], { dir, timeoutMs });
    });
  } catch (err) {
    // Leave no half-made repository: the whole directory if it was made here, else its .git.
    await Deno.remove(existed ? `${dir}/.git` : dir, { recursive: true }).catch(() => {});
    throw err;
  }
  const commits = Number(
    (await runGit(["rev-list", "--count", base], { dir, timeoutMs })).stdout.trim(),
  );
  return { dir, base, branch, commits, shallow, bytes, ...(seed ? { seed } : {}) };
}

/**
 * Throws {@linkcode BundleRefsError} unless the bundle (or delta: `what`) carries exactly one ref,
 * {@linkcode BASE_REF}, at `base`.
 *
 * @example
 * ```ts
 * import { checkBaseRef } from "./bundle_worktree.ts";
 *
 * const base = "a".repeat(40);
 * checkBaseRef({ refs: [{ name: "refs/turnpike/base", oid: base }] }, base, "bundle");
 * ```
 */
export function checkBaseRef(
  header: Pick<BundleHeader, "refs">,
  base: string,
  what: "bundle" | "delta",
): void {
  const [ref, ...more] = header.refs;
  if (ref === undefined || more.length > 0 || ref.name !== BASE_REF || ref.oid !== base) {
    const refs = header.refs.map((r) => `${r.name} at ${r.oid}`).join(", ") || "none";
    throw new BundleRefsError(`expected only ${BASE_REF} at ${base}; the ${what} has ${refs}`);
  }
}

/**
 * The checkout's own settings, appended to its `.git/config` in one write (a `git config` for
 * each was a process each): the agent's identity, no signing; `core.checkStat=minimal`, since
 * the job sees the files through an overlay, and a seeded checkout as hard links, both of which
 * change inodes and ctimes that would make git hash every file again at its first command; and
 * no automatic maintenance (`maintenance.auto`, `gc.auto`), which would start a `git
 * maintenance` process after each of the agent's commits in a repository thrown away with the
 * job. Values are written quoted (a line break in one: a space).
 */
function checkoutConfig(identity: GitIdentity): string {
  const quoted = (value: string) =>
    `"${value.replaceAll(/[\n\r\0]/g, " ").replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return [
    "[user]",
    `\tname = ${quoted(identity.name)}`,
    `\temail = ${quoted(identity.email)}`,
    "[commit]",
    "\tgpgSign = false",
    "[core]",
    "\tcheckStat = minimal",
    "[maintenance]",
    "\tauto = false",
    "[gc]",
    "\tauto = 0",
    "",
  ].join("\n");
}

/** Writes `.git/shallow`: the unbundled commits whose parents are not in the repository. */
async function markShallow(
  dir: string,
  gitDir: string,
  timeoutMs: number | undefined,
): Promise<string[]> {
  const { stdout: objects } = await runGit(
    ["cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)"],
    { dir, timeoutMs, maxOutput: 256 * 1024 * 1024 },
  );
  const commits = objects.split("\n").filter((l) => l.startsWith("commit ")).map((l) => l.slice(7));
  const have = new Set(commits);
  const { stdout: parents } = await runGit(
    ["rev-list", "--no-walk=unsorted", "--parents", "--stdin"],
    {
      dir,
      timeoutMs,
      stdin: new TextEncoder().encode(commits.join("\n") + "\n"),
      maxOutput: 256 * 1024 * 1024,
    },
  );
  const shallow = parents.split("\n").map((l) => l.split(" "))
    .filter(([c, ...ps]) => c !== "" && ps.some((p) => !have.has(p)))
    .map(([c]) => c).sort();
  if (shallow.length > 0) {
    await Deno.writeTextFile(`${gitDir}/shallow`, shallow.join("\n") + "\n");
  }
  return shallow;
}

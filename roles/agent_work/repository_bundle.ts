/**
 * The requester's side of a task's repository: one git bundle of the base commit and, with a
 * depth, only the last commits of its history, from which the provider checks out a worktree
 * with no other objects (roles/agent_work/bundle_worktree.ts; docs/PROTOCOL.md "Agent work").
 *
 * What git allows, and why this way:
 * - `git bundle create out A~5..A` writes a bundle with prerequisites (`-<oid>` lines): a repo
 *   that lacks them cannot fetch it or clone it, and its pack is thin (objects may be deltas
 *   against the prerequisites' blobs), so the provider could not even unpack it alone.
 * - `git bundle create` in a shallow repository writes a complete, self-contained pack with no
 *   prerequisites: rev-list stops at the shallow commits, whose trees go in whole. So the
 *   bundle is made from a throwaway shallow copy: `git fetch --depth N <repo> <base>`
 *   into a bare temporary repository (the protocol's own depth rule, merges included, and a
 *   fetch by object id, which protocol v2 allows), then `git bundle create` of its one ref.
 *   Its shallow commits' parents are absent: the provider marks them shallow in turn.
 * - The bundle carries one ref, {@linkcode BASE_REF}, at the base commit, and nothing of the
 *   working files: the base is a commit, and a dirty worktree is refused only when asked.
 *
 * @module
 */
import { BundleTooLargeError, DirtyWorktreeError } from "./agent_work_errors.ts";
import { makeBareRepository } from "./bare_repository.ts";
import { runGit } from "./git_command.ts";
import { keepInMirror, seedFromMirror } from "./bundle_mirror.ts";

/** The one ref a repository bundle carries: the base commit. */
export const BASE_REF = "refs/turnpike/base";

/** A repository bundle's size limit by default: under a town's default blob limit (256 MiB). */
export const DEFAULT_REPOSITORY_BUNDLE_MAX = 200 * 1024 * 1024;

/** Options of {@linkcode createRepositoryBundle}. */
export interface RepositoryBundleOptions {
  /** The repository (its worktree or git dir). */
  repoDir: string;
  /** Where the bundle is written. */
  outPath: string;
  /** The base commit, any revision git resolves; `HEAD` by default. */
  base?: string;
  /** The base and its `depth - 1` ancestors' history (a positive integer); all when absent. */
  depth?: number;
  /** Bytes the bundle may have; {@linkcode DEFAULT_REPOSITORY_BUNDLE_MAX} by default. */
  maxBytes?: number;
  /** Refuse a worktree with uncommitted changes (false by default: the base is a commit). */
  refuseDirty?: boolean;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
  /**
   * A bare repository kept between bundles of this repository (bundle_mirror.ts): the fetch
   * sends only what it lacks, and it keeps what the fetch brought. None: made from nothing.
   */
  mirrorDir?: string;
}

/** What a repository bundle holds. */
export interface RepositoryBundle {
  /** Where it was written. */
  path: string;
  /** The base commit's full object id (the tip of {@linkcode BASE_REF}). */
  base: string;
  /** Its size in bytes. */
  bytes: number;
  /** How many commits it carries. */
  commits: number;
  /** The commits whose parents it leaves out (empty when it carries the whole history). */
  shallow: string[];
}

/**
 * Writes the bundle of a repository's base commit and its history to the depth asked.
 *
 * It runs git: no example that runs here:
 * tests/unit/roles/agent_work/agent_work_repository_bundle_test.ts.
 */
export async function createRepositoryBundle(
  options: RepositoryBundleOptions,
): Promise<RepositoryBundle> {
  const { repoDir, outPath, timeoutMs } = options;
  const depth = options.depth;
  if (depth !== undefined && (!Number.isSafeInteger(depth) || depth < 1)) {
    throw new RangeError(`depth must be a positive integer, not ${depth}`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_REPOSITORY_BUNDLE_MAX;
  const base = await resolveBase(repoDir, options.base, timeoutMs);
  if (options.refuseDirty) await refuseDirty(repoDir, timeoutMs);
  // An absolute path, not a file:// URL: no escaping to get wrong, and for fetch it is the
  // same transport (upload-pack), which honours --depth.
  const source = await Deno.realPath(repoDir);
  const o = { source, base, depth, outPath, maxBytes, timeoutMs };
  // The whole history: a fetch into a shallow mirror would stay shallow, so none is used.
  const mirror = depth === undefined ? undefined : options.mirrorDir;
  if (mirror === undefined) return await bundleIn(o);
  try {
    return await bundleIn(o, mirror);
  } catch (err) {
    if (err instanceof BundleTooLargeError) throw err;
    // A mirror that misled the fetch: dropped, and the bundle made from nothing (which seeds it).
    await Deno.remove(mirror, { recursive: true }).catch(() => {});
    return await bundleIn(o, mirror);
  }
}

/** The bundle made in a throwaway repository, borrowing from `mirror` when there is one. */
async function bundleIn(
  o: {
    source: string;
    base: string;
    depth?: number;
    outPath: string;
    maxBytes: number;
    timeoutMs?: number;
  },
  mirror?: string,
): Promise<RepositoryBundle> {
  const { source, base, depth, outPath, timeoutMs } = o;
  // Beside the mirror: it is renamed into it, or its pack moved there (one file system).
  const parent = mirror?.slice(0, mirror.lastIndexOf("/"));
  if (parent !== undefined) await Deno.mkdir(parent, { recursive: true, mode: 0o700 });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-bundle-" });
  try {
    await makeBareRepository(tmp);
    const seeded = mirror !== undefined && await seedFromMirror(tmp, mirror);
    await runGit([
      "-c",
      "protocol.version=2",
      // What the fetch brings stays one pack, however few its objects: the mirror takes packs.
      "-c",
      "fetch.unpackLimit=1",
      "fetch",
      "-q",
      "--no-tags",
      "--no-write-fetch-head",
      ...(depth === undefined ? [] : [`--depth=${depth}`]),
      source,
      `${base}:${BASE_REF}`,
    ], { dir: tmp, timeoutMs });
    await runGit(["bundle", "create", "-q", outPath, BASE_REF], { dir: tmp, timeoutMs });
    const { size } = await Deno.stat(outPath);
    if (size > o.maxBytes) {
      await Deno.remove(outPath).catch(() => {});
      throw new BundleTooLargeError(size, o.maxBytes);
    }
    const history = (await runGit(["rev-list", BASE_REF], {
      dir: tmp,
      timeoutMs,
      maxOutput: 256 * 1024 * 1024,
    })).stdout.split("\n").filter((l) => l !== "");
    // The mirror's shallow commits of other bases are not this bundle's.
    const mine = new Set(history);
    const shallow = (await shallowOf(tmp)).filter((c) => !seeded || mine.has(c));
    if (mirror !== undefined) await keepInMirror(tmp, mirror);
    return { path: outPath, base, bytes: size, commits: history.length, shallow };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * The full object id of the commit `base` names in `repoDir` (`HEAD` by default).
 *
 * It runs git: no example that runs here:
 * tests/unit/roles/agent_work/agent_work_repository_bundle_test.ts.
 */
export async function resolveBase(
  repoDir: string,
  base = "HEAD",
  timeoutMs?: number,
): Promise<string> {
  return (await runGit(
    ["rev-parse", "--verify", "--end-of-options", `${base}^{commit}`],
    { dir: repoDir, timeoutMs },
  )).stdout.trim();
}

async function refuseDirty(repoDir: string, timeoutMs: number | undefined): Promise<void> {
  const { stdout } = await runGit(["status", "--porcelain=v1", "-z"], { dir: repoDir, timeoutMs });
  const paths = stdout.split("\0").filter((p) => p !== "").length;
  if (paths > 0) {
    throw new DirtyWorktreeError(`the worktree has ${paths} changed or untracked paths`);
  }
}

async function shallowOf(gitDir: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(`${gitDir}/shallow`)).split("\n").filter((l) => l !== "");
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

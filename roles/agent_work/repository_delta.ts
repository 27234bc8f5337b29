/**
 * A task's repository as a delta: the commits from a base the provider was sent before (`from`)
 * to the task's base, as one git bundle whose one prerequisite is `from` (docs/PROTOCOL.md "Agent
 * work", "A new base as a delta"). The provider gets it together with the bundle of `from` it was
 * sent before (the same sealed blob: the town holds it), so it can always check and apply it
 * alone; a provider that kept its checkout of `from` unbundles kilobytes instead of the whole
 * history (roles/agent_work/delta_worktree.ts).
 *
 * Made only where it shares nothing a bundle of the base to the same depth would not, and needs
 * nothing but `from`: `from` is an ancestor of the base, the base has fewer than `depth` commits
 * that `from` has not, and `from` is the only commit outside them that any of them names as a
 * parent (a merged branch that forked below `from` would need its fork point, which the provider's
 * checkout of `from` may not hold). Each such commit is then at most `depth - 1` commits from the
 * base along commits of that set, so within the base's own history to that depth, and what lies
 * below them is `from`'s, which this provider was given with `from`'s bundle. The history is read
 * as the commits say it, never through the repository's replace refs or grafts (which a
 * whole bundle's fetch does not follow either): the check runs in the throwaway repository.
 *
 * The bundle is made in a throwaway bare repository that borrows the repository's objects
 * (`objects/info/alternates`) and holds the one ref, {@linkcode BASE_REF}: nothing is written in the
 * repository itself, and no fetch runs (a depth-50 bundle of this repository takes seconds to
 * fetch; a delta of a few commits, milliseconds to pack).
 *
 * @module
 */
import { BundleTooLargeError } from "./agent_work_errors.ts";
import { runGit } from "./git_command.ts";
import { makeBareRepository } from "./bare_repository.ts";
import { BASE_REF, DEFAULT_REPOSITORY_BUNDLE_MAX } from "./repository_bundle.ts";
import { GIT_OBJECT_ID, readBundleHeader } from "./bundle_header.ts";

/** Options of {@linkcode createRepositoryDelta}. */
export interface RepositoryDeltaOptions {
  /** The repository (its worktree or git dir). */
  repoDir: string;
  /** The base sent before (full object id): the delta's one prerequisite. */
  from: string;
  /** The task's base (full object id). */
  base: string;
  /** The depth the task asks; the whole history when absent. */
  depth?: number;
  /** Where the delta is written. */
  outPath: string;
  /** Bytes the delta may have; the repository bundle's default limit by default. */
  maxBytes?: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
  /** Where the throwaway repository is made (a `.tmp-delta-*` in it); the system's temp dir. */
  workDir?: string;
}

/** What a delta holds. */
export interface RepositoryDelta {
  /** Where it was written. */
  path: string;
  /** The base sent before: its one prerequisite. */
  from: string;
  /** The task's base (the tip of {@linkcode BASE_REF}). */
  base: string;
  /** Its size in bytes. */
  bytes: number;
  /** How many commits it carries. */
  commits: number;
}

/**
 * How many commits `base` has that `from` has not, when `from` is its ancestor and a delta from it
 * shares nothing the depth would not (fewer than `depth`, at least one); undefined otherwise
 * (not an ancestor, too far, the same commit, or either unknown to the repository).
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/repository_delta_test.ts.
 */
export async function deltaDistance(
  repoDir: string,
  from: string,
  base: string,
  depth?: number,
  timeoutMs?: number,
): Promise<number | undefined> {
  const counted = await runGit(
    [
      "--no-replace-objects",
      "rev-list",
      "--left-right",
      "--count",
      "--end-of-options",
      `${from}...${base}`,
    ],
    { dir: repoDir, timeoutMs },
  ).catch(() => undefined);
  const [behind, ahead] = (counted?.stdout.trim().split(/\s+/) ?? []).map(Number);
  if (behind !== 0 || !Number.isSafeInteger(ahead) || ahead < 1) return undefined;
  return depth === undefined || ahead < depth ? ahead : undefined;
}

/**
 * Writes the delta bundle from `from` to `base`; undefined when none is allowed (module doc; then
 * the caller bundles the base whole).
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/repository_delta_test.ts.
 */
export async function createRepositoryDelta(
  o: RepositoryDeltaOptions,
): Promise<RepositoryDelta | undefined> {
  const { repoDir, from, base, timeoutMs } = o;
  // Both paths in one process: the objects the temporary repository borrows, and the shallow file.
  const [objects, shallowFile] = (await runGit([
    "rev-parse",
    "--path-format=absolute",
    "--git-path",
    "objects",
    "--git-path",
    "shallow",
  ], { dir: repoDir, timeoutMs })).stdout.trim().split("\n");
  if (o.workDir !== undefined) await Deno.mkdir(o.workDir, { recursive: true, mode: 0o700 });
  const tmp = await Deno.makeTempDir({ dir: o.workDir, prefix: ".tmp-delta-" });
  let commits: number;
  try {
    await makeBareRepository(tmp, { alternates: objects });
    // A shallow repository's history stops where its own file says: the walk must too.
    const shallow = await Deno.readTextFile(shallowFile).catch(() => "");
    if (shallow !== "") await Deno.writeTextFile(`${tmp}/shallow`, shallow);
    // The base's ref written as git writes a loose one (the repository is this function's own,
    // made by hand): one process fewer than update-ref. An object unknown here fails the walk.
    if (!GIT_OBJECT_ID.test(base)) return undefined;
    await Deno.mkdir(`${tmp}/${BASE_REF.slice(0, BASE_REF.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${tmp}/${BASE_REF}`, `${base}\n`);
    // The commits as the bundle will carry them, and the parents outside them they name: `from`
    // alone when it is an ancestor of the base (nothing else can be a parent of theirs that the
    // walk leaves out); a commit unknown here is no delta either.
    const walked = await runGit(
      ["rev-list", "--boundary", `${BASE_REF}^{commit}`, `^${from}`],
      { dir: tmp, timeoutMs, maxOutput: 64 * 1024 * 1024 },
    ).then((r) => r.stdout.split("\n").filter((l) => l !== ""), () => undefined);
    if (walked === undefined) return undefined;
    const needs = new Set(walked.filter((l) => l.startsWith("-")).map((l) => l.slice(1)));
    commits = walked.length - needs.size;
    if (
      commits < 1 || (o.depth !== undefined && commits >= o.depth) || needs.size !== 1 ||
      !needs.has(from)
    ) return undefined;
    await runGit(["bundle", "create", "-q", o.outPath, BASE_REF, `^${from}`], {
      dir: tmp,
      timeoutMs,
    });
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const header = await readBundleHeader(o.outPath, Number.MAX_SAFE_INTEGER);
  if (header.prerequisites.length !== 1 || header.prerequisites[0] !== from) {
    await Deno.remove(o.outPath).catch(() => {});
    return undefined;
  }
  const { size } = await Deno.stat(o.outPath);
  const maxBytes = o.maxBytes ?? DEFAULT_REPOSITORY_BUNDLE_MAX;
  if (size > maxBytes) {
    await Deno.remove(o.outPath).catch(() => {});
    throw new BundleTooLargeError(size, maxBytes);
  }
  return { path: o.outPath, from, base, bytes: size, commits };
}

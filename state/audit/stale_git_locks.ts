/**
 * The lock files a killed `git` leaves in a state dir's repository (`state/audit/audit_log.ts`
 * clears them on open), told apart from the live locks of a `git` still running there.
 *
 * @module
 */
import { sleep } from "../../protocol/backoff.ts";

/**
 * A killed `git` leaves `*.lock` files that make every later git call fail. But a node killed
 * with SIGKILL can leave its `git` child running for a moment: its lock is live, and removing it
 * makes that git (or ours) fail with "Unable to write new index file". So locks get a grace
 * period to go away on their own; only those still there afterwards are stale.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const gitDir = await Deno.makeTempDir(); // a repository's .git with a lock no git holds
 * await Deno.writeTextFile(`${gitDir}/index.lock`, "");
 * await removeStaleLocks(gitDir, 0);
 * assert.equal(await Deno.stat(`${gitDir}/index.lock`).catch(() => undefined), undefined);
 * await Deno.remove(gitDir, { recursive: true });
 * ```
 */
export async function removeStaleLocks(gitDir: string, graceMs = 2000): Promise<void> {
  const deadline = Date.now() + graceMs;
  // On a loaded machine the orphan can take longer than the grace: while a `git` still runs in
  // this repository (Linux `/proc`), its lock is live; waited for up to a minute more.
  const hardDeadline = deadline + 60_000;
  const workDir = await Deno.realPath(gitDir.replace(/\/\.git$/, "")).catch(() => gitDir);
  let locks = await lockFiles(gitDir);
  while (
    locks.length > 0 &&
    (Date.now() < deadline || (Date.now() < hardDeadline && await gitRunningIn(workDir)))
  ) {
    await sleep(50);
    locks = await lockFiles(gitDir);
  }
  for (const lock of locks) await Deno.remove(lock).catch(() => {});
}

/** Whether a `git` process runs with `dir` as its working directory (Linux `/proc`). */
async function gitRunningIn(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const comm = (await Deno.readTextFile(`/proc/${entry.name}/comm`)).trim();
        if (comm !== "git") continue;
        if ((await Deno.readLink(`/proc/${entry.name}/cwd`)) === dir) return true;
      } catch {
        // gone, or not ours to read
      }
    }
  } catch {
    // no /proc: the grace alone decides
  }
  return false;
}

async function lockFiles(gitDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of [gitDir, `${gitDir}/refs/heads`]) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && entry.name.endsWith(".lock")) found.push(`${dir}/${entry.name}`);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return found;
}

/**
 * Real git repositories for the agent work tests: made with the host's git, with real commits.
 *
 * @module
 */
import { runGit } from "../roles/agent_work/git_command.ts";

/** A repository in a temporary directory. */
export interface TempGitRepo {
  /** Its worktree. */
  dir: string;
  /** Runs git in it; returns stdout, trimmed. */
  git(...args: string[]): Promise<string>;
  /** Writes `files` (path to text) and commits them as `message`; returns the commit. */
  commit(message: string, files: Record<string, string>): Promise<string>;
}

/**
 * Makes a repository at `dir` on branch `main` with `commits` commits (`c1`..`cN`, each
 * adding `f<i>.txt`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tempGitRepo } from "./temp_git_repo.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const repo = await tempGitRepo(dir, 3);
 * assert.equal(await repo.git("rev-list", "--count", "HEAD"), "3");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function tempGitRepo(dir: string, commits = 0): Promise<TempGitRepo> {
  await runGit(["init", "-q", "--initial-branch=main", dir]);
  const git = async (...args: string[]) => (await runGit(args, { dir })).stdout.trim();
  await git("config", "user.name", "requester");
  await git("config", "user.email", "requester@example.invalid");
  await git("config", "commit.gpgSign", "false");
  const commit = async (message: string, files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) {
      const slash = path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(`${dir}/${path.slice(0, slash)}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, text);
      await git("add", "--", path);
    }
    await git("commit", "-q", "--allow-empty", "-m", message);
    return await git("rev-parse", "HEAD");
  };
  for (let i = 1; i <= commits; i++) await commit(`c${i}`, { [`f${i}.txt`]: `line ${i}\n` });
  return { dir, git, commit };
}

/**
 * A commit whose tree names one zero blob under many paths: a few hundred kilobytes in a bundle
 * (zlib squeezes zeros about a thousand to one, and the blob is stored once), gigabytes once
 * checked out or diffed. What a hostile requester or provider sends to fill a disk or a CPU.
 *
 * @module
 */
import { runGit } from "../../roles/agent_work/git_command.ts";

/** Options of {@linkcode zeroBlobCommit}. */
export interface ZeroBlobCommitOptions {
  /** The repository the objects are written to. */
  dir: string;
  /** Bytes of the one zero blob. */
  blobBytes: number;
  /** How many paths name it (`zero-<n>.bin` at the top of the tree). */
  names: number;
  /** The parent commit; none (a root commit) when absent. */
  parent?: string;
}

/**
 * Writes the blob, the tree and a commit of it; returns the commit's id (no ref is moved).
 *
 * @example
 * ```ts ignore
 * import { zeroBlobCommit } from "./zero_blob_tree.ts";
 *
 * const commit = await zeroBlobCommit({ dir: "/tmp/repo", blobBytes: 2 ** 26, names: 80 });
 * ```
 */
export async function zeroBlobCommit(o: ZeroBlobCommitOptions): Promise<string> {
  const child = new Deno.Command("git", {
    args: ["-C", o.dir, "hash-object", "-w", "--stdin"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const chunk = new Uint8Array(1024 * 1024);
  for (let left = o.blobBytes; left > 0; left -= chunk.length) {
    await writer.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  }
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error("git hash-object failed");
  const blob = new TextDecoder().decode(out.stdout).trim();
  const entries = Array.from(
    { length: o.names },
    (_, i) => `100644 blob ${blob}\tzero-${i}.bin\n`,
  ).join("");
  const tree = (await runGit(["mktree"], {
    dir: o.dir,
    stdin: new TextEncoder().encode(entries),
  })).stdout.trim();
  const parent = o.parent === undefined ? [] : ["-p", o.parent];
  const env = {
    GIT_AUTHOR_NAME: "bomb",
    GIT_AUTHOR_EMAIL: "bomb@example.invalid",
    GIT_COMMITTER_NAME: "bomb",
    GIT_COMMITTER_EMAIL: "bomb@example.invalid",
  };
  const commit = await new Deno.Command("git", {
    args: ["-C", o.dir, "commit-tree", tree, ...parent, "-m", "zeros"],
    env,
    stdout: "piped",
  }).output();
  if (!commit.success) throw new Error("git commit-tree failed");
  return new TextDecoder().decode(commit.stdout).trim();
}

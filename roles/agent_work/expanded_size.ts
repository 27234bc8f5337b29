/**
 * How many bytes a commit's files take once written out, read from git's object sizes without
 * inflating a single blob: a bundle is compressed, and one zero blob under thousands of names
 * travels in kilobytes yet checks out (or diffs) to gigabytes (docs/PROTOCOL.md "Agent work").
 * Every path counts, so a blob named twice counts twice, as a checkout writes it twice.
 *
 * - {@linkcode treeExpandedSize}: the whole tree of a commit, what a checkout writes
 *   (`git ls-tree -r -l`).
 * - {@linkcode diffExpandedSize}: the files `from..to` adds or changes, what a diff of them reads
 *   (`git diff-tree -r`, then `git cat-file --batch-check` for the new blobs' sizes).
 *
 * Both stop counting past `limit` and throw {@linkcode ExpandedTooLargeError}.
 *
 * @module
 */
import { ExpandedTooLargeError } from "./agent_work_errors.ts";
import { runGit } from "./git_command.ts";

/** Options of {@linkcode treeExpandedSize} and {@linkcode diffExpandedSize}. */
export interface ExpandedSizeOptions {
  /** The repository. */
  dir: string;
  /** Bytes the files may take; past them {@linkcode ExpandedTooLargeError} is thrown. */
  limit: number;
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/**
 * A listing of a large tree is large itself (about 100 bytes a path): room for a million
 * paths, past which the git command is killed and the tree refused as well.
 */
const LISTING_MAX = 128 * 1024 * 1024;
const ZERO_OID = /^0+$/;

/**
 * Bytes the files of `commit`'s tree take checked out.
 *
 * It runs git: no example that runs here: tests/unit/roles/agent_work/agent_checkout_bomb_test.ts.
 *
 * @throws {ExpandedTooLargeError} over `limit`.
 */
export async function treeExpandedSize(
  commit: string,
  options: ExpandedSizeOptions,
): Promise<number> {
  const { stdout } = await runGit(
    ["ls-tree", "-r", "-l", "-z", "--end-of-options", `${commit}^{tree}`],
    { dir: options.dir, timeoutMs: options.timeoutMs, maxOutput: LISTING_MAX },
  );
  let bytes = 0;
  for (const entry of stdout.split("\0")) {
    // "<mode> blob <oid> <size>\t<path>"; a submodule's commit has "-" and writes nothing.
    const m = /^\d+ blob [0-9a-f]+ +(\d+)\t/.exec(entry);
    if (m === null) continue;
    bytes += Number(m[1]);
    if (bytes > options.limit) {
      throw new ExpandedTooLargeError("the repository's files", bytes, options.limit);
    }
  }
  return bytes;
}

/**
 * Bytes of the files `from..to` adds or changes, as `to` has them.
 *
 * It runs git: no example that runs here: tests/unit/cli/agent_result_fetch_test.ts.
 *
 * @throws {ExpandedTooLargeError} over `limit`.
 */
export async function diffExpandedSize(
  from: string,
  to: string,
  options: ExpandedSizeOptions,
): Promise<number> {
  const { stdout } = await runGit(
    ["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", from, to, "--"],
    { dir: options.dir, timeoutMs: options.timeoutMs, maxOutput: LISTING_MAX },
  );
  // ":<mode> <mode> <oid> <oid> <status>" then "<path>", each ended by a NUL.
  const oids: string[] = [];
  for (const field of stdout.split("\0")) {
    const m = /^:\d+ (\d+) [0-9a-f]+ ([0-9a-f]+) /.exec(field);
    if (m === null || m[1] === "160000" || ZERO_OID.test(m[2])) continue;
    oids.push(m[2]);
  }
  if (oids.length === 0) return 0;
  const sizes = await runGit(["cat-file", "--batch-check=%(objectsize)"], {
    dir: options.dir,
    timeoutMs: options.timeoutMs,
    maxOutput: LISTING_MAX,
    stdin: new TextEncoder().encode(oids.join("\n") + "\n"),
  });
  let bytes = 0;
  for (const line of sizes.stdout.split("\n")) {
    if (!/^\d+$/.test(line)) continue;
    bytes += Number(line);
    if (bytes > options.limit) {
      throw new ExpandedTooLargeError("the result's files", bytes, options.limit);
    }
  }
  return bytes;
}

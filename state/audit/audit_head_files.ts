/**
 * The files one folder of the audit trail's HEAD holds, with their bytes: what a lost database of
 * row-held paths (`state/audit/row_held_paths.ts`) is rebuilt from
 * (`state/jobs/job_index_recovery.ts`; docs/OPERATIONS.md "State directory").
 *
 * Three git processes whatever the number of files, never one per file: `git rev-parse` finds
 * HEAD's commit (none: the trail has no history, and the answer is undefined), `git ls-tree -r`
 * lists the folder's blobs, and one `git cat-file --batch` prints the commit (for its time) and
 * every blob. HEAD is read as it is on disk: the caller flushes its own audit log first if it
 * has changes pending.
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/** What {@linkcode readHeadFiles} found. */
export interface HeadFiles {
  /** HEAD's commit id (hex). */
  commit: string;
  /** HEAD's committer time, unix ms. */
  committedAtMs: number;
  /** The folder's files (blobs; symlinks and submodules left out) by path from the top. */
  files: Map<string, Uint8Array>;
}

/** Options for {@linkcode readHeadFiles}. */
export interface ReadHeadFilesOptions {
  /** The state dir (the work tree; `.git` inside). */
  dir: string;
  /** The folder, relative to the top, `/`-separated, no trailing slash (`jobs`). */
  folder: string;
  /** git executable. Default "git". */
  git?: string;
}

/** git failed, or printed what it should not have, reading HEAD. */
export class AuditHeadReadError extends StateError {
  override name = "AuditHeadReadError";
}

/**
 * Reads the files under `folder` in HEAD; undefined when the repository has no commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await new Deno.Command("git", { args: ["-C", dir, "init", "-q"] }).output();
 * assert.equal(await readHeadFiles({ dir, folder: "jobs" }), undefined); // no commit yet
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readHeadFiles(options: ReadHeadFilesOptions): Promise<HeadFiles | undefined> {
  const run = (args: string[], stdin?: Uint8Array) =>
    runGit(options.git ?? "git", options.dir, args, stdin);
  const head = await run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  if (head.code === 1) return undefined;
  const commit = text(head.stdout).trim();
  const listing = await run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", options.folder]);
  const blobs: [path: string, oid: string][] = [];
  for (const entry of text(listing.stdout).split("\0")) {
    // `<mode> SP <type> SP <oid> TAB <path>`
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (m && m[2] === "blob" && m[1] !== "120000") blobs.push([m[4], m[3]]);
  }
  const wanted = [commit, ...blobs.map(([, oid]) => oid)].join("\n") + "\n";
  const objects = parseBatch((await run(["cat-file", "--batch"], bytes(wanted))).stdout);
  if (objects.length !== blobs.length + 1) {
    throw new AuditHeadReadError(`git cat-file printed ${objects.length} of ${blobs.length + 1}`);
  }
  const committer = /^committer .* (\d+) [+-]\d{4}$/m.exec(text(objects[0]));
  if (committer === null) throw new AuditHeadReadError(`commit ${commit} has no committer line`);
  const files = new Map<string, Uint8Array>();
  blobs.forEach(([path], i) => files.set(path, objects[i + 1]));
  return { commit, committedAtMs: Number(committer[1]) * 1000, files };
}

/** The objects of `git cat-file --batch`'s output (`<oid> <type> <size>\n<bytes>\n` each). */
function parseBatch(out: Uint8Array): Uint8Array[] {
  const objects: Uint8Array[] = [];
  let at = 0;
  while (at < out.length) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) throw new AuditHeadReadError("git cat-file: a header without its line end");
    const header = text(out.subarray(at, eol));
    const m = /^[0-9a-f]+ \w+ (\d+)$/.exec(header);
    if (m === null) throw new AuditHeadReadError(`git cat-file: ${header}`);
    const end = eol + 1 + Number(m[1]);
    if (end + 1 > out.length) throw new AuditHeadReadError("git cat-file: an object cut short");
    objects.push(out.slice(eol + 1, end));
    at = end + 1;
  }
  return objects;
}

async function runGit(
  git: string,
  dir: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array }> {
  const child = new Deno.Command(git, {
    args: ["-C", dir, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
  }).spawn();
  // Read while writing: git stops reading its input while its output pipe is full.
  const output = child.output();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await output;
  if (out.code !== 0 && !(out.code === 1 && args[0] === "rev-parse")) {
    const stderr = text(out.stderr).trim().split("\n").slice(-2).join(" ");
    throw new AuditHeadReadError(`git ${args[0]} failed (exit ${out.code}): ${stderr}`);
  }
  return { code: out.code, stdout: out.stdout };
}

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

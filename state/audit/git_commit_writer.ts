/**
 * Writes the audit trail's commits in process: the blobs of the changed files, the trees above
 * them, the commit object (as one pack a commit, `state/audit/git_pack_writer.ts`), and
 * the branch's ref under git's own lock protocol (`<ref>.lock` created exclusively, the new value
 * written into it, put in the ref's place by `state/file_replace.ts`). No `git` process per
 * commit.
 *
 * Why not `git add` + `git commit`: those are two processes per commit (about 16 ms of CPU
 * together in a state dir of 500 files, plus the spawns on the node's main thread), and a node
 * commits several times per job; they were most of an agent's children's CPU per job
 * (docs/SCALE.md). Why not a library (isomorphic-git): its `add` and `commit` read and rewrite the
 * whole index on every commit, which grows with the state dir; here each directory's entries are
 * kept in memory, encoded, and only the trees of the directories a change touches are written.
 *
 * The index is not updated (the commit is built from the tree in memory): before anything else
 * uses the index (the spawned fallback, `close`), {@linkcode GitCommitWriter.resyncIndex} reads
 * HEAD into it. The ref update is a compare-and-swap: when the ref is not the commit this writer
 * made last (another process committed, the ref was packed), `commit` returns false and the
 * caller commits with `git` and opens a new writer. A commit's new objects are one pack, written
 * under temp names and renamed, its index last, before the ref: a kill mid-write leaves no torn
 * object git would read; like git's default, it is not fsynced (the state files are the truth:
 * docs/ARCHITECTURE.md "One job, from `job submit` to the skill and back").
 *
 * The file calls per commit are cut to what the objects need (the same section): a file whose
 * bytes the caller hands over (it just wrote them) is not read back; a blob or tree whose id is
 * the one the tip already has is not written again (it exists); and the objects go in one pack
 * (two new files a commit, where each loose object was a new file and a rename).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { type PackObject, writeGitPack } from "./git_pack_writer.ts";
import { replaceFile } from "../file_replace.ts";

/** Runs git in the state dir (the audit log's runner), `stdin` given to it; returns its stdout. */
export type GitRunner = (args: string[], stdin?: string) => Promise<string>;

/** Options for {@linkcode openGitCommitWriter}. */
export interface GitCommitWriterOptions {
  /** The state dir (a git work tree, `.git` inside), without a trailing slash. */
  dir: string;
  /** Runs git there (used once, to read HEAD's tree, and by `resyncIndex`). */
  run: GitRunner;
  /** Whether a path (relative, `/`-separated) is ignored: such a path is never added. */
  ignored: (path: string) => boolean;
  /** Author and committer, `Name <email>`. */
  identity: string;
  /**
   * Whether a path's bytes live outside the work tree (`state/audit/row_held_paths.ts`): such a
   * path is committed only from the bytes handed over, removed when a change lists it without
   * them, and kept out of the work tree's view (`git status`) by its index entry's
   * skip-worktree bit. Default: none.
   */
  notOnDisk?: (path: string) => boolean;
}

/** A tree entry as it is written: the name git sorts by (a directory's with "/"), its bytes. */
interface Line {
  key: string;
  /** The entry's object id (hex) and mode ("100644", "100755", "120000", "40000"). */
  sha: string;
  mode: string;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Opens a writer on the repository's current branch; undefined when it cannot commit in process
 * (HEAD detached or unborn, or its ref only in `packed-refs`): the caller then uses `git`.
 *
 * It needs a git repository and runs `git ls-tree` in it: no example that runs here:
 * tests/unit/state/audit/git_commit_writer_test.ts.
 */
export async function openGitCommitWriter(
  options: GitCommitWriterOptions,
): Promise<GitCommitWriter | undefined> {
  const gitDir = `${options.dir}/.git`;
  const head = (await Deno.readTextFile(`${gitDir}/HEAD`)).trim();
  const ref = /^ref: (refs\/heads\/[^\s]+)$/.exec(head)?.[1];
  if (ref === undefined) return undefined;
  const tip = readRefSync(`${gitDir}/${ref}`);
  if (tip === undefined) return undefined;
  // -t: the trees too, so every directory's entries are known with their ids.
  const listing = await options.run(["ls-tree", "-r", "-t", "-z", "--full-tree", tip]);
  const dirs = new Map<string, Map<string, Line>>([["", new Map()]]);
  for (const item of listing.split("\0")) {
    const m = /^(\d+) \w+ ([0-9a-f]{40})\t(.+)$/s.exec(item);
    if (m === null) continue;
    const [, padded, sha, path] = m;
    // ls-tree pads a tree's mode ("040000"); a tree object holds it as "40000".
    const mode = padded.replace(/^0+/, "");
    const dir = parentOf(path)!;
    if (!dirs.has(dir)) dirs.set(dir, new Map());
    const name = path.slice(dir === "" ? 0 : dir.length + 1);
    dirs.get(dir)!.set(name, lineOf(mode, name, sha));
    if (mode === "40000" && !dirs.has(path)) dirs.set(path, new Map());
  }
  return new GitCommitWriter(options, ref, tip, dirs);
}

/** In-process commits of a state dir's changes; see the module doc. */
export class GitCommitWriter {
  #o: GitCommitWriterOptions;
  #gitDir: string;
  #ref: string;
  #tip: string;
  /** Each directory's entries ("" the root), as in the tip's trees. */
  #dirs: Map<string, Map<string, Line>>;
  /** The tip's root tree id, once this writer has made a commit (else unknown). */
  #rootTree: string | undefined;
  #indexStale = false;
  // The removal of the old ref a commit left under the lock's name (state/file_replace.ts).
  #oldRef: Promise<void> | undefined;
  /** The objects of the commit under way, written as one pack before its ref. */
  #batch = new Map<string, PackObject>();

  /** Use {@linkcode openGitCommitWriter}. */
  constructor(
    options: GitCommitWriterOptions,
    ref: string,
    tip: string,
    dirs: Map<string, Map<string, Line>>,
  ) {
    this.#o = options;
    this.#gitDir = `${options.dir}/.git`;
    this.#ref = ref;
    this.#tip = tip;
    this.#dirs = dirs;
  }

  /** The commit the branch points at, as this writer last wrote or read it. */
  get tip(): string {
    return this.#tip;
  }

  /**
   * Commits the current contents of `paths` (files; a missing one is removed from the tree) on
   * top of the branch, with `message` (cleaned as `git commit -F` does: trailing whitespace,
   * repeated and outer blank lines). An unchanged tree still makes a commit (its message is the
   * record). Returns false, having written no ref, when the branch is not where this writer left
   * it, or a path is a directory: the caller commits with `git` then. `contents`: the bytes of
   * some of `paths` as the caller just wrote them (regular files): those are not read back.
   * @throws when a file cannot be read or an object or the ref cannot be written.
   */
  async commit(
    paths: string[],
    message: string,
    contents?: ReadonlyMap<string, Uint8Array>,
  ): Promise<boolean> {
    // The previous commit's old ref, left under the lock's name, is gone first.
    await this.#oldRef;
    // Synchronous file calls throughout: a commit is a dozen small files, and an async call's
    // hop to the I/O thread pool cost more CPU than the call (bench/audit_commit_bench_script.ts).
    const lock = `${this.#gitDir}/${this.#ref}.lock`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(lock, { write: true, createNew: true, mode: 0o644 });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false; // a git at work: leave it to it
      throw err;
    }
    let renamed = false;
    this.#batch.clear();
    try {
      if (readRefSync(`${this.#gitDir}/${this.#ref}`) !== this.#tip) return false;
      // Copies of the directories this commit changes; the others stay shared.
      const dirs = new Map<string, Map<string, Line>>();
      const edit = (d: string) => {
        let m = dirs.get(d);
        if (m === undefined) dirs.set(d, m = new Map(this.#dirs.get(d) ?? []));
        return m;
      };
      for (const path of paths) {
        if (this.#o.ignored(path)) continue;
        const d = parentOf(path)!;
        const name = path.slice(d === "" ? 0 : d.length + 1);
        const old = this.#dirs.get(d)?.get(name);
        const given = contents?.get(path);
        const entry = given !== undefined
          ? this.#blobFrom(given, old?.key === name ? old : undefined)
          : this.#o.notOnDisk?.(path)
          ? undefined
          : this.#blobOf(path, old);
        if (entry === "dir") return false;
        if (entry === undefined) edit(d).delete(name);
        else if (old?.sha !== entry.sha || old.key !== name || old.mode !== entry.mode) {
          edit(d).set(name, lineOf(entry.mode, name, entry.sha));
        }
        for (let up = parentOf(d); up !== undefined; up = parentOf(up)) edit(up);
      }
      edit("");
      // Deepest first: a directory's tree id goes into its parent's entries (an empty one
      // leaves its parent, as git keeps no empty trees).
      const order = [...dirs.keys()].sort((a, b) => depth(b) - depth(a));
      let root = "";
      for (const d of order) {
        const m = dirs.get(d)!;
        const up = parentOf(d);
        if (up === undefined) root = this.#writeTree(m, this.#rootTree);
        else {
          const name = d.slice(up === "" ? 0 : up.length + 1);
          const old = this.#dirs.get(up)?.get(name);
          if (m.size === 0) edit(up).delete(name);
          else {
            const sha = this.#writeTree(m, old?.key === `${name}/` ? old.sha : undefined);
            if (old?.sha !== sha) edit(up).set(name, lineOf("40000", name, sha));
          }
        }
      }
      const now = Math.floor(Date.now() / 1000);
      const who = `${this.#o.identity} ${now} +0000`;
      const body = `tree ${root}\nparent ${this.#tip}\nauthor ${who}\ncommitter ${who}\n\n` +
        cleanMessage(message);
      const commit = this.#writeObject("commit", encoder.encode(body));
      // Every object before the ref that names them: a kill leaves an unreferenced pack at worst.
      writeGitPack(this.#gitDir, [...this.#batch.values()]);
      this.#batch.clear();
      file.writeSync(encoder.encode(`${commit}\n`));
      file.close();
      // Not fsynced (git's default too): swapped in without ext4's flush (state/file_replace.ts);
      // the old ref, now under the lock's name, is removed before the next commit takes the lock.
      this.#oldRef = replaceFile(lock, `${this.#gitDir}/${this.#ref}`);
      renamed = true;
      this.#tip = commit;
      this.#rootTree = root;
      for (const [d, m] of dirs) {
        if (m.size === 0 && d !== "") this.#dirs.delete(d);
        else this.#dirs.set(d, m);
      }
      this.#indexStale = true;
      return true;
    } finally {
      if (!renamed) {
        try {
          file.close();
        } catch { /* closed above */ }
        try {
          Deno.removeSync(lock);
        } catch { /* gone */ }
      }
    }
  }

  /**
   * Makes the index HEAD's tree again (after in-process commits), for `git add`/`git status`;
   * the paths not on disk get their skip-worktree bit (else `git status` lists them deleted).
   */
  async resyncIndex(): Promise<void> {
    // A `git` run after this takes the ref's lock: the old ref under its name is gone first.
    await this.#oldRef;
    if (!this.#indexStale) return;
    await this.#o.run(["read-tree", "HEAD"]);
    const notOnDisk = this.#o.notOnDisk;
    const held: string[] = [];
    for (const [d, entries] of notOnDisk === undefined ? [] : this.#dirs) {
      for (const line of entries.values()) {
        const path = d === "" ? line.key : `${d}/${line.key}`;
        if (line.mode !== "40000" && notOnDisk!(path)) held.push(path);
      }
    }
    if (held.length > 0) {
      await this.#o.run(["update-index", "-z", "--skip-worktree", "--stdin"], held.join("\0"));
    }
    this.#indexStale = false;
  }

  /**
   * Whether the tip holds exactly `bytes` (a regular file's) at `path`: a change whose commit
   * a kill lost is handed again only when it is not.
   */
  tipHas(path: string, bytes: Uint8Array): boolean {
    const d = parentOf(path)!;
    const old = this.#dirs.get(d)?.get(path.slice(d === "" ? 0 : d.length + 1));
    if (old === undefined || old.mode === "40000") return false;
    const header = encoder.encode(`blob ${bytes.length}\0`);
    return createHash("sha1").update(header).update(bytes).digest("hex") === old.sha;
  }

  /**
   * The blob of a file as it is on disk (lstat, then read); `old`: the entry the tip has for it
   * (its blob is not written again when the bytes are the same).
   */
  #blobOf(path: string, old: Line | undefined): { mode: string; sha: string } | "dir" | undefined {
    const full = `${this.#o.dir}/${path}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(full);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    if (info.isDirectory) return "dir";
    if (info.isSymlink) {
      const target = Deno.readLinkSync(full);
      return { mode: "120000", sha: this.#writeObject("blob", encoder.encode(target), old?.sha) };
    }
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(full);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined; // removed since the lstat
      throw err;
    }
    // git records 100755 when the owner may execute the file.
    const mode = (info.mode ?? 0) & 0o100 ? "100755" : "100644";
    return { mode, sha: this.#writeObject("blob", data, old?.sha) };
  }

  /**
   * The blob of a regular file from the bytes the caller wrote (no file call unless the blob is
   * new); its mode is the one the tip has for it, else 100644 (state files are not executable).
   */
  #blobFrom(data: Uint8Array, old: Line | undefined): { mode: string; sha: string } {
    const mode = old?.mode === "100755" ? old.mode : "100644";
    return { mode, sha: this.#writeObject("blob", data, old?.sha) };
  }

  /** Writes one directory's tree object (unless its id is `existing`); returns its id. */
  #writeTree(entries: Map<string, Line>, existing: string | undefined): string {
    // git's order: names as bytes, a directory's with a "/" after it. UTF-16 order is the
    // same as UTF-8 byte order but for characters beyond U+FFFF (state dir names are ASCII).
    const lines = [...entries.values()].sort((x, y) => x.key < y.key ? -1 : x.key > y.key ? 1 : 0);
    return this.#writeObject("tree", Buffer.concat(lines.map((l) => l.bytes)), existing);
  }

  /**
   * Adds an object to this commit's pack; returns its id. Nothing is added when the id is
   * `existing` (an object the tip's trees hold, so it is in the repository) or already added.
   */
  #writeObject(type: PackObject["type"], content: Uint8Array, existing?: string): string {
    const header = encoder.encode(`${type} ${content.length}\0`);
    const sha = createHash("sha1").update(header).update(content).digest("hex");
    if (sha !== existing && !this.#batch.has(sha)) this.#batch.set(sha, { sha, type, content });
    return sha;
  }
}

function readRefSync(path: string): string | undefined {
  try {
    const sha = Deno.readTextFileSync(path).trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function lineOf(mode: string, name: string, sha: string): Line {
  const head = encoder.encode(`${mode} ${name}\0`);
  const bytes = new Uint8Array(head.length + 20);
  bytes.set(head);
  bytes.set(Buffer.from(sha, "hex"), head.length);
  return { key: mode === "40000" ? `${name}/` : name, sha, mode, bytes };
}

function depth(dir: string): number {
  return dir === "" ? 0 : dir.split("/").length;
}

/** The parent directory of a relative path ("" for a top-level one); undefined for "". */
function parentOf(path: string): string | undefined {
  if (path === "") return undefined;
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** `git commit`'s "whitespace" cleanup of a message given with -F. */
function cleanMessage(message: string): string {
  const lines = message.split("\n").map((l) => l.replace(/\s+$/, ""));
  const out: string[] = [];
  for (const line of lines) {
    if (line === "" && (out.length === 0 || out[out.length - 1] === "")) continue;
    out.push(line);
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

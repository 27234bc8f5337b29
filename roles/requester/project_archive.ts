/**
 * A project directory as a tar.gz build context, made on the fly for `job submit --dir`:
 * the files git would consider (tracked plus untracked, minus what `.gitignore` files, the
 * repo's exclude file and the global excludes ignore; in a directory that is not a repository
 * too, through a throwaway git dir), never `.git` itself. The archive is reproducible (names
 * sorted, mtimes, owners and the gzip header fixed), so the same tree gives the same sha256 and
 * a second upload of it costs nothing.
 *
 * Uses the system's git, tar and gzip: they are on every machine that has a project to send,
 * and GNU tar streams a 50 MB tree faster than a JavaScript tar writer could.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The project could not be archived. */
export class ProjectArchiveError extends RoleError {
  override name = "ProjectArchiveError";
}

/** What {@linkcode archiveProject} made. */
export interface ProjectArchive {
  /** Files in it. */
  files: number;
  /** Whether .gitignore rules were applied (false: no git here, everything but .git went in). */
  gitignore: boolean;
}

/**
 * Writes `dir` as a tar.gz to `to`.
 *
 * It runs git and tar: no example that runs here: tests/e2e/docker_build_test.ts.
 * @throws {ProjectArchiveError} when `dir` is not a directory or tar fails.
 */
export async function archiveProject(dir: string, to: string): Promise<ProjectArchive> {
  const st = await Deno.stat(dir).catch(() => null);
  if (st === null || !st.isDirectory) throw new ProjectArchiveError(`${dir} is not a directory`);
  let names = await gitFileList(dir);
  const gitignore = names !== undefined;
  names ??= await walk(dir);
  names = names.filter((n) => n !== "" && !/(^|\/)\.git(\/|$)/.test(n)).sort();
  if (names.length === 0) throw new ProjectArchiveError(`${dir} has no files to send`);
  const script = 'tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner ' +
    '--no-recursion --null -T - -cf - | gzip -n -6 > "$2"';
  const child = new Deno.Command("bash", {
    args: ["-c", `set -o pipefail; ${script}`, "archive", dir, to],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(names.map((n) => `${n}\0`).join("")));
  await writer.close();
  const { code, stderr } = await child.output();
  if (code !== 0) {
    throw new ProjectArchiveError(
      `tar failed (exit ${code}): ${new TextDecoder().decode(stderr).trim().slice(0, 300)}`,
    );
  }
  return { files: names.length, gitignore };
}

/** Files git would consider, relative to `dir`; undefined without a usable git. */
async function gitFileList(dir: string): Promise<string[] | undefined> {
  const inRepo = await git(dir, ["rev-parse", "--is-inside-work-tree"]);
  if (inRepo === undefined) return undefined; // no git at all
  if (inRepo.trim() === "true") {
    const out = await git(dir, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
    // Tracked files deleted from the tree are still listed: keep those that exist.
    return out === undefined ? undefined : await existing(dir, out.split("\0"));
  }
  const empty = await Deno.makeTempDir({ prefix: "turnpike-archive-git-" });
  try {
    await git(empty, ["init", "-q", "--bare"]);
    const out = await git(dir, [
      `--git-dir=${empty}`,
      `--work-tree=${dir}`,
      "ls-files",
      "-z",
      "--others",
      "--exclude-standard",
    ]);
    return out?.split("\0");
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
}

async function git(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
      .output();
    return out.success || args[0] === "rev-parse"
      ? new TextDecoder().decode(out.stdout)
      : undefined;
  } catch {
    return undefined; // git is not installed
  }
}

async function existing(dir: string, names: string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const n of names) {
    if (n !== "" && (await Deno.lstat(`${dir}/${n}`).catch(() => null)) !== null) kept.push(n);
  }
  return kept;
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory) out.push(...await walk(dir, rel));
    else out.push(rel);
  }
  return out;
}

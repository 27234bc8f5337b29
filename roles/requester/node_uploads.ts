/**
 * The files a profile's node publishes for a command (docs/ARCHITECTURE.md "The profile's
 * node"): the command, not the node, opens the caller's file, with the caller's own rights, and
 * copies it into `<state dir>/uploads/` (0700, the profile's); the node reads only a regular
 * file directly in that directory, opened without following a link and checked to be the file
 * that was looked at. A request naming any other path (`/etc/shadow`, a file of another
 * directory, a link out of `uploads/`) is refused with {@linkcode NodeUploadError} before a
 * byte is read, so the node, even run as root, publishes nothing its caller could not read.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The upload is not a file the command staged: nothing was read. */
export class NodeUploadError extends RoleError {
  override name = "NodeUploadError";
}

/** Options for {@linkcode stageUpload}. */
export interface StageUploadOptions {
  /** The profile's state dir. */
  stateDir: string;
  /** The caller's file (relative to the working directory, or absolute). */
  path: string;
}

/**
 * Where staged uploads live: `<state dir>/uploads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(nodeUploadsDir("/home/me/.turnpike/alice"), "/home/me/.turnpike/alice/uploads");
 * ```
 */
export function nodeUploadsDir(stateDir: string): string {
  return `${stateDir}/uploads`;
}

/** Names the command gives staged files (and the only ones the node reads). */
const STAGED_NAME = /^[0-9a-f-]{36}(\.[A-Za-z0-9._-]{1,64})?$/;

/**
 * A new path in `<state dir>/uploads/` (the directory made 0700) for a file to stage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stateDir = await Deno.makeTempDir();
 * const path = await stagedUploadPath(stateDir, ".tar.gz");
 * assert(path.startsWith(`${stateDir}/uploads/`) && path.endsWith(".tar.gz"));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function stagedUploadPath(stateDir: string, suffix = ""): Promise<string> {
  const dir = nodeUploadsDir(stateDir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is subject to the umask and ignored for a directory already there.
  await Deno.chmod(dir, 0o700);
  const safe = /^\.[A-Za-z0-9._-]{1,64}$/.test(suffix) ? suffix : "";
  return `${dir}/${crypto.randomUUID()}${safe}`;
}

/**
 * Copies the caller's file into `<state dir>/uploads/` (read with the command's rights); the
 * staged path, for the node's `submit`. The caller removes it once the node is done.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stageUpload } from "./node_uploads.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/data.csv`, "a,b\n");
 * const staged = await stageUpload({ stateDir: `${dir}/state`, path: `${dir}/data.csv` });
 * assert(staged.startsWith(`${dir}/state/uploads/`));
 * assert.equal(await Deno.readTextFile(staged), "a,b\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function stageUpload(o: StageUploadOptions): Promise<string> {
  const staged = await stagedUploadPath(o.stateDir);
  try {
    await Deno.copyFile(o.path, staged);
    await Deno.chmod(staged, 0o600);
  } catch (err) {
    await Deno.remove(staged).catch(() => {});
    throw err;
  }
  return staged;
}

/**
 * The node's check of an upload path: a regular file, not a link, with no other name, directly
 * in `<state dir>/uploads/` under a name the command gives; returns its path in that directory.
 * Throws {@linkcode NodeUploadError} otherwise, before a byte is read. (Only the profile's user
 * can write in that directory, so what is checked is what is then read.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const stateDir = await Deno.makeTempDir();
 * await assert.rejects(checkStagedUpload(stateDir, "/etc/shadow"), NodeUploadError); // nothing read
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function checkStagedUpload(stateDir: string, path: string): Promise<string> {
  const dir = await Deno.realPath(nodeUploadsDir(stateDir)).catch(() => undefined);
  const slash = path.lastIndexOf("/");
  const parent = slash < 0 ? "" : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const realParent = parent === "" ? undefined : await Deno.realPath(parent).catch(() => undefined);
  if (dir === undefined || realParent !== dir || !STAGED_NAME.test(name)) {
    throw new NodeUploadError(
      `upload ${path} refused: the node reads only files the command staged in ` +
        `${nodeUploadsDir(stateDir)} (give the file to \`job submit --file\`)`,
    );
  }
  const staged = `${dir}/${name}`;
  const seen = await Deno.lstat(staged).catch(() => undefined);
  if (seen === undefined || !seen.isFile || seen.isSymlink || (seen.nlink ?? 1) !== 1) {
    throw new NodeUploadError(`upload ${path} refused: not a regular file of its own (a link?)`);
  }
  return staged;
}

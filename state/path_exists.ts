/**
 * Whether a path exists, for the state dir's files (a wallet, a job record, the git dir).
 * Only "not found" means no: any other error (permissions, I/O) is thrown, so a file that cannot
 * be seen is never taken for one that is not there (and then overwritten).
 *
 * @module
 */

/** Options for {@linkcode pathExists}. */
export interface PathExistsOptions {
  /**
   * Follow a symlink to its target (`stat`): a dangling link then does not exist. Default
   * false (`lstat`): the link itself counts, so nothing is written through or over it.
   */
  followSymlinks?: boolean;
}

/**
 * True when `path` exists; false only when it is not found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await pathExists(`${stateDir}/wallet.toml`), false);
 * assert.equal(await pathExists(stateDir), true);
 * await Deno.remove(stateDir);
 * ```
 */
export async function pathExists(path: string, options: PathExistsOptions = {}): Promise<boolean> {
  try {
    await (options.followSymlinks ? Deno.stat(path) : Deno.lstat(path));
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

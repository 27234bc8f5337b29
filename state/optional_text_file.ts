/**
 * Reading a state file that may not be there yet (a sidecar, a kept result): its text, or
 * undefined when it is absent. Only "not found" is absence by default, for the same reason as
 * in path_exists.ts: a file that cannot be read is not one that was never written.
 *
 * @module
 */

/** Options for {@linkcode readOptionalTextFile}. */
export interface OptionalTextFileOptions {
  /**
   * Take any read error (permissions, a directory in its place) for absence too. For readers
   * that only show what they can and never write back. Default false: other errors are thrown.
   */
  unreadableAsMissing?: boolean;
}

/**
 * The file's text, or undefined when it does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await readOptionalTextFile(`${stateDir}/requester/job-1.json`), undefined);
 * await Deno.writeTextFile(`${stateDir}/kept.json`, "{}");
 * assert.equal(await readOptionalTextFile(`${stateDir}/kept.json`), "{}");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readOptionalTextFile(
  path: string,
  options: OptionalTextFileOptions = {},
): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (options.unreadableAsMissing || err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

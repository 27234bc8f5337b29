/**
 * Reading a range of a file's bytes: the sealed blobs' header and tag
 * (roles/agent_work/sealed_file.ts), a line file's bytes before a checkpoint
 * (state/line_file_checkpoint.ts).
 *
 * @module
 */

/**
 * Fills `into` with the file's bytes from `offset`; false when the file ends first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileRange } from "./file_range.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * const into = new Uint8Array(3);
 * assert.equal(await readFileRange(file, into, 2), true);
 * assert.equal(new TextDecoder().decode(into), "cde");
 * assert.equal(await readFileRange(file, into, 4), false); // only "ef" is there
 * await Deno.remove(path);
 * ```
 */
export async function readFileRange(
  file: Deno.FsFile,
  into: Uint8Array,
  offset: number,
): Promise<boolean> {
  await file.seek(offset, Deno.SeekMode.Start);
  for (let done = 0; done < into.length;) {
    const n = await file.read(into.subarray(done));
    if (n === null) return false;
    done += n;
  }
  return true;
}

/**
 * A job's outputs beyond its stdout (docs/PROTOCOL.md "Blobs in jobs"): the regular files the
 * skill left in its work dir's `out/`, and the stdout itself when it is too large for the
 * result event. They are moved out of the work dir into `<state dir>/results/<job id>/` as soon
 * as the skill ends (the work dir is removed), published as blobs with the result, and removed
 * once the result is out; a restart in between publishes them then (re-publishing a blob the
 * town has already costs nothing).
 *
 * Only regular files with one link are taken, never a symlink: the skill is gone by then, but
 * what it left must not make the provider read (and publish) a file of its own.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { isBlobName, RESULT_BLOB_NAME } from "../../../protocol/job_blobs.ts";

/** Default stdout kept inline in the result event: 16 KiB (an event rides one ILP packet). */
export const DEFAULT_INLINE_RESULT_BYTES = 16 * 1024;
/** Default most output files, and their total size. */
export const DEFAULT_MAX_OUTPUT_FILES = 32;
export const DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/** Options for {@linkcode keepJobOutputs}. */
export interface KeepOutputsOptions {
  /** The job's `out/` dir in its work dir. */
  outDir: string;
  /** `<state dir>/results/<job id>`. */
  keepDir: string;
  /** The skill's stdout. */
  stdout: Uint8Array;
  inlineBytes?: number;
  maxFiles?: number;
  maxBytes?: number;
  /**
   * False for an encrypted job: blobs are public, so no file is returned and a stdout over
   * `inlineBytes` is refused ({@linkcode ResultTooLargeError}) instead of published in the clear.
   */
  blobs?: boolean;
  /**
   * Whether a stdout over `inlineBytes` may go as the public `result` blob (default: `blobs`).
   * False for every encrypted job, even one whose files are ciphertext and go as blobs (an
   * agent-task's): its stdout is the result's content in the clear, which the event encrypts.
   */
  resultBlob?: boolean;
}

/** An encrypted job's result is larger than its inline budget (it cannot go as a blob). */
export class ResultTooLargeError extends RoleError {
  override name = "ResultTooLargeError";
}

/** What {@linkcode keepJobOutputs} kept. */
export interface KeptOutputs {
  /** The stdout to put in the event's content; empty when it went to a `result` blob. */
  inline: string;
  /** Names of the files kept (in `keepDir`). */
  files: string[];
  /** Why files were left out (unsafe kind, bad name, over the limits). */
  skipped: string[];
}

/**
 * Moves a finished job's outputs to its keep dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keepJobOutputs } from "./result_outputs.ts";
 *
 * const workDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${workDir}/out`);
 * await Deno.writeTextFile(`${workDir}/out/report.txt`, "all green");
 * await Deno.symlink("/etc/passwd", `${workDir}/out/link`);
 * const keepDir = `${workDir}/keep`;
 * const stdout = new TextEncoder().encode("done");
 * const kept = await keepJobOutputs({ outDir: `${workDir}/out`, keepDir, stdout });
 * assert.deepEqual(kept, { inline: "done", files: ["report.txt"], skipped: ["link: not a regular file"] });
 * assert.equal(await Deno.readTextFile(`${keepDir}/report.txt`), "all green");
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export async function keepJobOutputs(o: KeepOutputsOptions): Promise<KeptOutputs> {
  const inlineLimit = o.inlineBytes ?? DEFAULT_INLINE_RESULT_BYTES;
  const kept: KeptOutputs = { inline: "", files: [], skipped: [] };
  let total = 0;
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(o.outDir)) entries.push(e);
  } catch {
    // no out/ dir
  }
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  const keep = async () => {
    if (kept.files.length === 0) await Deno.mkdir(o.keepDir, { recursive: true, mode: 0o700 });
  };
  const blobs = o.blobs ?? true;
  for (const e of entries) {
    const path = `${o.outDir}/${e.name}`;
    if (!blobs) {
      kept.skipped.push(`${e.name}: an encrypted job returns no public blobs`);
      continue;
    }
    const st = await Deno.lstat(path).catch(() => null);
    if (st === null || !st.isFile || st.isSymlink || (st.nlink ?? 1) !== 1) {
      kept.skipped.push(`${e.name}: not a regular file`);
      continue;
    }
    if (!isBlobName(e.name) || e.name === RESULT_BLOB_NAME) {
      kept.skipped.push(`${e.name}: not a usable name`);
      continue;
    }
    if (kept.files.length >= (o.maxFiles ?? DEFAULT_MAX_OUTPUT_FILES)) {
      kept.skipped.push(`${e.name}: over ${o.maxFiles ?? DEFAULT_MAX_OUTPUT_FILES} files`);
      continue;
    }
    if (total + st.size > (o.maxBytes ?? DEFAULT_MAX_OUTPUT_BYTES)) {
      kept.skipped.push(`${e.name}: over ${o.maxBytes ?? DEFAULT_MAX_OUTPUT_BYTES} bytes in all`);
      continue;
    }
    await keep();
    await Deno.rename(path, `${o.keepDir}/${e.name}`);
    total += st.size;
    kept.files.push(e.name);
  }
  if (o.stdout.byteLength <= inlineLimit) {
    kept.inline = new TextDecoder().decode(o.stdout);
  } else if (!(o.resultBlob ?? blobs)) {
    throw new ResultTooLargeError(
      `the result is ${o.stdout.byteLength} bytes, over the skill's ${inlineLimit}-byte budget ` +
        "for an encrypted job (blobs would be public)",
    );
  } else {
    await keep();
    await Deno.writeFile(`${o.keepDir}/${RESULT_BLOB_NAME}`, o.stdout, { mode: 0o600 });
    kept.files.push(RESULT_BLOB_NAME);
  }
  return kept;
}

/**
 * Atomic replacement of small state files: a reader (or a restart after kill -9) sees either the
 * old content or the new content, never a mix, and the new content is on disk when the call
 * returns.
 *
 * @module
 */
import { StateError } from "./state_error.ts";
import { DirSyncGroup } from "./dir_sync_group.ts";
import { replaceFile } from "./file_replace.ts";

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode of the new file; default 0o600 (state files hold private data). */
  mode?: number;
  /** Skip the directory fsync (only for throwaway files; default false). */
  skipDirSync?: boolean;
  /** Skip the file fsync (bulk loads that accept losing the newest files on power loss). */
  skipFileSync?: boolean;
}

/** The file could not be written atomically; the old content (if any) is untouched. */
export class AtomicWriteError extends StateError {
  /** `"AtomicWriteError"`: explicit so it survives bundling. */
  override name = "AtomicWriteError";
}

/** Prefix of temp files; a crash can leave one behind, see {@linkcode removeStaleTempFiles}. */
export const TEMP_PREFIX = ".tmp-";

/**
 * Writes `data` to `path` atomically: temp file in the same directory, write, fsync, rename over
 * `path`, fsync the directory. The directory's fsync is shared with the writes into the same
 * directory made meanwhile in this process ({@linkcode dirSyncs}), and always one that started
 * after this write's rename. Resolves with the new file's `Deno.FileInfo` as it was written
 * (before the rename, so it is this write's file whatever replaced it since): a caller that
 * keeps what it wrote can tell its own file from a later writer's (a new inode, born later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * await writeFileAtomic(`${stateDir}/job.toml`, 'status = "paid"\n', { mode: 0o600 });
 * assert.equal(await Deno.readTextFile(`${stateDir}/job.toml`), 'status = "paid"\n');
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<Deno.FileInfo> {
  const mode = options.mode ?? 0o600;
  const { dir, base } = splitPath(path);
  const suffix = crypto.getRandomValues(new Uint32Array(2)).join("");
  const tmp = `${dir}/${TEMP_PREFIX}${base}.${suffix}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  // The open, chmod, write and rename of a small state file are synchronous calls (page cache
  // only, microseconds): an async call's hop to the I/O threads costs more CPU than the call
  // (bench/requester_record_cost_bench_script.ts). The fsyncs, which wait for the disk, stay
  // async so the event loop runs meanwhile.
  let info: Deno.FileInfo;
  try {
    using file = Deno.openSync(tmp, { write: true, createNew: true, mode });
    // `mode` on open is filtered by the umask; chmod makes the requested mode exact.
    Deno.chmodSync(tmp, mode);
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    info = file.statSync();
    if (!options.skipFileSync) await file.sync();
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new AtomicWriteError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // An fsynced file has nothing left for ext4's flush at a rename; one that is not is swapped
    // in without it (state/file_replace.ts), its old file's removal awaited so that nothing of
    // this write is left behind when its caller is done (a node stopping after its last status).
    if (options.skipFileSync) await replaceFile(tmp, path);
    else Deno.renameSync(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new AtomicWriteError(`cannot replace ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!options.skipDirSync) await syncDir(dir);
  return info;
}

/**
 * Removes temp files a crashed {@linkcode writeFileAtomic} left next to `path`.
 * Call it once at startup, before any writer runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${stateDir}/${TEMP_PREFIX}job.toml.123`, "torn");
 * assert.equal(await removeStaleTempFiles(`${stateDir}/job.toml`), 1);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function removeStaleTempFiles(path: string): Promise<number> {
  const { dir, base } = splitPath(path);
  const prefix = `${TEMP_PREFIX}${base}.`;
  let removed = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(prefix)) {
      await Deno.remove(`${dir}/${entry.name}`);
      removed++;
    }
  }
  return removed;
}

/**
 * Removes every temp file a crashed {@linkcode writeFileAtomic} left in `dir` (any file named
 * `.tmp-*`), for a directory of many files written atomically. Call it once at startup, before
 * any writer runs. Passing a directory to {@linkcode removeStaleTempFiles} instead looks for the
 * directory's own temp files in its parent, and finds none of its files'.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const jobsDir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${jobsDir}/${TEMP_PREFIX}a.json.1`, "torn");
 * await Deno.writeTextFile(`${jobsDir}/b.json`, "{}");
 * assert.equal(await removeStaleTempFilesIn(jobsDir), 1);
 * await Deno.remove(jobsDir, { recursive: true });
 * ```
 */
export async function removeStaleTempFilesIn(dir: string): Promise<number> {
  let removed = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
      removed++;
    }
  }
  return removed;
}

function splitPath(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === "" || base === "." || base === "..") {
    throw new AtomicWriteError(`not a file path: ${path}`);
  }
  return { dir, base };
}

/**
 * The directory fsyncs of {@linkcode writeFileAtomic} and {@linkcode syncDir} in this process,
 * shared between concurrent writers of one directory (`state/dir_sync_group.ts`); its counters
 * tell how many fsyncs the calls cost.
 */
export const dirSyncs: DirSyncGroup = new DirSyncGroup();

/**
 * fsyncs a directory, so a file just created or renamed in it survives a power loss. Concurrent
 * calls for one directory share an fsync that started after each call ({@linkcode dirSyncs}).
 *
 * @example
 * ```ts
 * const deliveries = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${deliveries}/proof.json`, "{}");
 * await syncDir(deliveries);
 * await Deno.remove(deliveries, { recursive: true });
 * ```
 */
export function syncDir(dir: string): Promise<void> {
  return dirSyncs.sync(dir);
}

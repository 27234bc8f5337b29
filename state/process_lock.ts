/**
 * One process at a time on a resource: an exclusive OS file lock (`flock` via
 * `Deno.FsFile.tryLock`, non-blocking) on a lock file, held for as long as the process uses the
 * resource. The kernel drops the lock when the process dies, SIGKILL included, so a crashed
 * process never blocks the next one and no stale check is needed. Deno opens files close-on-exec,
 * so children the holder spawns (skills, git) do not inherit the lock and outlive it holding it.
 *
 * The holder writes its pid (and optionally what it runs) into the file, for the error message
 * of the next one only: the lock, not the pid, decides. The file itself stays: removing it
 * would let a third process lock a fresh file while the second still holds the old one. A
 * process that fails to take the lock never writes to the file.
 *
 * Used by `state/channels/channel_lock.ts` (one signer per payment channel) and
 * `state/state_dir_lock.ts` (one long-running role per state dir).
 *
 * @module
 */
import { StateError } from "./state_error.ts";

/** A held lock. */
export interface ProcessLock extends AsyncDisposable {
  /** The lock file. */
  path: string;
  /** Releases the lock (idempotent); the file stays. */
  release(): Promise<void>;
}

/** What a lock file says about its holder (it may have exited since). */
export interface LockHolder {
  /** Its pid; undefined when the file is empty or not ours (a holder between lock and write). */
  pid?: number;
  /** What it runs (`town up`...), when it said. */
  label?: string;
}

/** Another process (or another open in this one) holds the lock. */
export class ProcessLockedError extends StateError {
  /** `"ProcessLockedError"`: explicit so it survives bundling. */
  override name = "ProcessLockedError";
  constructor(readonly path: string, readonly holder: LockHolder) {
    super(`${path} is locked by another process (pid ${holder.pid ?? "unknown"})`);
  }
}

/** Options for {@linkcode lockProcessFile}. */
export interface LockProcessFileOptions {
  /** One line saying what the holder runs, shown to the processes it turns away. */
  label?: string;
}

/** Largest lock file text read: a pid and a short label. */
const MAX_LOCK_FILE_BYTES = 256;

/**
 * Takes the lock on `path` without waiting (the file is created 0600 if missing; its directory
 * must exist) and writes this process's pid into it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const lock = await lockProcessFile(`${stateDir}/node.lock`, { label: "town up" }); // or `await using`
 * await assert.rejects(lockProcessFile(`${stateDir}/node.lock`), ProcessLockedError);
 * await lock.release();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {ProcessLockedError} when another process (or another open in this one) holds it.
 */
export async function lockProcessFile(
  path: string,
  options: LockProcessFileOptions = {},
): Promise<ProcessLock> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
    if (!locked) throw new ProcessLockedError(path, await readHolder(file));
    const label = options.label?.replace(/[\r\n]+/g, " ").trim();
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n${label ? `${label}\n` : ""}`));
  } catch (err) {
    if (locked) await file.unlock().catch(() => {});
    file.close();
    throw err;
  }
  let released: Promise<void> | undefined;
  const release = () =>
    released ??= (async () => {
      await file.unlock().catch(() => {});
      file.close();
    })();
  return { path, release, [Symbol.asyncDispose]: release };
}

async function readHolder(file: Deno.FsFile): Promise<LockHolder> {
  const buf = new Uint8Array(MAX_LOCK_FILE_BYTES);
  await file.seek(0, Deno.SeekMode.Start);
  const n = await file.read(buf);
  const [pidLine = "", label = ""] = new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\n");
  const pid = /^\d{1,10}$/.test(pidLine.trim()) ? Number(pidLine.trim()) : undefined;
  return label.trim() === "" ? { pid } : { pid, label: label.trim() };
}

/**
 * Whether a process with this pid is alive (Linux `/proc`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(await isProcessAlive(Deno.pid), true);
 * ```
 */
export async function isProcessAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // A zombie (state Z) is dead for our purposes.
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Who holds the lock on `path`, read without taking it: the pid and label its holder wrote, when
 * that process is alive; undefined otherwise. Taking the lock to test it would turn away, for that
 * instant, a process that is starting and needs it; reading does not. (A holder between its lock
 * and its write reads as none.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await readLockHolder(`${stateDir}/node.lock`), undefined); // nobody holds it
 * const lock = await lockProcessFile(`${stateDir}/node.lock`, { label: "town up" });
 * assert.equal((await readLockHolder(`${stateDir}/node.lock`))?.pid, Deno.pid);
 * await lock.release();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readLockHolder(path: string): Promise<LockHolder | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const holder = await readHolder(file);
    return holder.pid !== undefined && await isProcessAlive(holder.pid) ? holder : undefined;
  } finally {
    file.close();
  }
}

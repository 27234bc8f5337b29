/**
 * One signer per channel: an exclusive lock on `<state dir>/channels/<id>.lock` held for as
 * long as a process pays over the channel. Two processes resuming from the same channel file
 * would sign the same nonces; the second one's claims would be refused by the peer (or, worse,
 * its cumulative amounts would disagree with the first's).
 *
 * The lock is an OS file lock (`flock` via `Deno.FsFile.tryLock`, non-blocking): the kernel
 * drops it when the process dies, SIGKILL included, so a crashed node never blocks the next
 * one and no stale check is needed. The holder writes its pid into the file (for the error
 * message only; the lock, not the pid, decides). The file itself stays: removing it would let
 * a third process lock a fresh file while the second still holds the old one.
 *
 * @module
 */
import { channelFilePath } from "./channel_file.ts";

/** A held channel lock. */
export interface ChannelLock extends AsyncDisposable {
  path: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Another process holds the channel's lock. */
export class ChannelLockedError extends Error {
  override name = "ChannelLockedError";
  constructor(readonly channelId: string, readonly pid: number | undefined) {
    super(
      `channel ${channelId} is in use by another process (pid ${pid ?? "unknown"})`,
    );
  }
}

/** Largest pid text read from a lock file. */
const MAX_PID_BYTES = 32;

/**
 * The lock file's path of a channel.
 *
 * @example
 * ```ts
 * channelLockPath(stateDir, channelId); // <stateDir>/channels/<id>.lock
 * ```
 */
export function channelLockPath(stateDir: string, channelId: string): string {
  return channelFilePath(stateDir, channelId).replace(/\.toml$/, ".lock");
}

/**
 * Takes the channel's lock without waiting.
 *
 * @example
 * ```ts
 * await using lock = await lockChannel(stateDir, channelId);
 * ```
 * @throws {ChannelLockedError} when another process (or another open in this one) holds it.
 */
export async function lockChannel(stateDir: string, channelId: string): Promise<ChannelLock> {
  await Deno.mkdir(`${stateDir}/channels`, { recursive: true, mode: 0o700 });
  const path = channelLockPath(stateDir, channelId);
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
    if (!locked) throw new ChannelLockedError(channelId.toLowerCase(), await readPid(file));
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
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

async function readPid(file: Deno.FsFile): Promise<number | undefined> {
  const buf = new Uint8Array(MAX_PID_BYTES);
  await file.seek(0, Deno.SeekMode.Start);
  const n = await file.read(buf);
  const text = new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim();
  return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
}

/**
 * One signer per channel: an exclusive lock on `<state dir>/channels/<id>.lock` held for as
 * long as a process pays over the channel. Two processes resuming from the same channel file
 * would sign the same nonces; the second one's claims would be refused by the peer (or, worse,
 * its cumulative amounts would disagree with the first's).
 *
 * The lock is a {@linkcode lockProcessFile} OS lock: released when the process exits, SIGKILL
 * included; the file holds the holder's pid for the error message.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { channelFilePath } from "./channel_file.ts";
import { lockProcessFile, type ProcessLock, ProcessLockedError } from "../process_lock.ts";

/** A held channel lock. */
export type ChannelLock = ProcessLock;

/** Another process holds the channel's lock. */
export class ChannelLockedError extends StateError {
  override name = "ChannelLockedError";
  constructor(
    readonly channelId: string,
    readonly pid: number | undefined,
    options?: ErrorOptions,
  ) {
    super(`channel ${channelId} is in use by another process (pid ${pid ?? "unknown"})`, options);
  }
}

/**
 * The lock file's path of a channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const channelId = "0x" + "ab".repeat(32);
 * assert.equal(channelLockPath("/tmp/state", channelId), `/tmp/state/channels/${channelId}.lock`);
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
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const channelId = "0x" + "ab".repeat(32);
 * const lock = await lockChannel(stateDir, channelId); // `await using` releases it at scope end
 * await assert.rejects(lockChannel(stateDir, channelId), ChannelLockedError);
 * await lock.release();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {ChannelLockedError} when another process (or another open in this one) holds it.
 */
export async function lockChannel(stateDir: string, channelId: string): Promise<ChannelLock> {
  await Deno.mkdir(`${stateDir}/channels`, { recursive: true, mode: 0o700 });
  try {
    return await lockProcessFile(channelLockPath(stateDir, channelId));
  } catch (err) {
    if (!(err instanceof ProcessLockedError)) throw err;
    throw new ChannelLockedError(channelId.toLowerCase(), err.holder.pid, { cause: err });
  }
}

/**
 * One long-running role per state dir: `town up`, `node up` and `requester` hold an exclusive
 * lock on `<state dir>/node.lock` from before their first write until they stop. Two of them on
 * one state dir would interleave writes to the same files (the provider status, the job
 * records, the git audit trail) and take each other's place in `turnpike node status`.
 * Short-lived commands (`job submit`, `job status`, `channel ...`) do not take it: they work
 * beside a running role (payment channels have their own lock, `state/channels/channel_lock.ts`).
 *
 * The lock is a {@linkcode lockProcessFile} OS lock: released when the process exits, SIGKILL
 * included, so a crashed role never blocks its restart. The file holds the holder's pid and
 * role for the message of the one turned away; it never enters the audit history
 * (`STATE_DIR_IGNORE` in `state/audit/state_dir_ignore.ts`).
 *
 * @module
 */
import { StateError } from "./state_error.ts";
import {
  type LockHolder,
  lockProcessFile,
  type ProcessLock,
  ProcessLockedError,
} from "./process_lock.ts";

/** File name of the lock in the state dir. */
export const STATE_DIR_LOCK_FILE = "node.lock";

/** A held state dir lock. */
export type StateDirLock = ProcessLock;

/** Another process holds the state dir's lock. */
export class StateDirLockedError extends StateError {
  /** `"StateDirLockedError"`: explicit so it survives bundling. */
  override name = "StateDirLockedError";
  constructor(readonly stateDir: string, readonly holder: LockHolder, options?: ErrorOptions) {
    super(
      holder.pid === undefined
        ? "state dir in use by another process"
        : `state dir in use by pid ${holder.pid}`,
      options,
    );
  }
}

/**
 * The lock file's path of a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(stateDirLockPath("/home/me/.turnpike/town/"), "/home/me/.turnpike/town/node.lock");
 * ```
 */
export function stateDirLockPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${STATE_DIR_LOCK_FILE}`;
}

/**
 * Takes the state dir's lock without waiting, creating the state dir (0700) if missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const lock = await lockStateDir(stateDir, "node up"); // or `await using`
 * await assert.rejects(lockStateDir(stateDir, "town up"), StateDirLockedError);
 * await lock.release();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {StateDirLockedError} when another process (or another open in this one) holds it.
 */
export async function lockStateDir(stateDir: string, role: string): Promise<StateDirLock> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  try {
    return await lockProcessFile(stateDirLockPath(stateDir), { label: role });
  } catch (err) {
    if (!(err instanceof ProcessLockedError)) throw err;
    throw new StateDirLockedError(stateDir, err.holder, { cause: err });
  }
}

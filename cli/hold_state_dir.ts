/**
 * The state dir lock as the long-running commands take it (`town up`, `node up`, `requester`):
 * before their first write, before a passphrase prompt, held until they return.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { lockStateDir, type StateDirLock, StateDirLockedError } from "../state/state_dir_lock.ts";

/**
 * Takes `<state dir>/node.lock` for `role`, or fails (exit 1) naming the pid that holds it.
 *
 * @example
 * ```ts
 * const stateDir = await Deno.makeTempDir();
 * await using _lock = await holdStateDir(stateDir, "town up");
 * ```
 */
export async function holdStateDir(stateDir: string, role: string): Promise<StateDirLock> {
  try {
    return await lockStateDir(stateDir, role);
  } catch (err) {
    if (!(err instanceof StateDirLockedError)) throw err;
    const { pid, label } = err.holder;
    const holder = label === undefined ? "that process" : `the \`turnpike ${label}\``;
    throw new CliError(err.message, {
      context: stateDir,
      suggestion: `stop ${holder}${pid === undefined ? "" : ` (kill ${pid})`} first, ` +
        "or pass another --profile or --state-dir",
      cause: err,
    });
  }
}

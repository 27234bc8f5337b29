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
    const kill = pid === undefined ? "" : `kill ${pid}`;
    // The profile's node (a requester's, often started in the background by a paying command,
    // or a provider's `node up`) stops by `node stop`; the user may never have typed its command.
    const stop = label === "requester" || label === "node up"
      ? `stop the profile's node (\`turnpike --state-dir ${stateDir} node stop\`${
        kill === "" ? "" : `, or ${kill}`
      })`
      : `stop ${label === undefined ? "that process" : `the \`turnpike ${label}\``}${
        kill === "" ? "" : ` (${kill})`
      }`;
    throw new CliError(err.message, {
      context: stateDir,
      suggestion: `${stop} first, or pass another --profile or --state-dir`,
      cause: err,
    });
  }
}

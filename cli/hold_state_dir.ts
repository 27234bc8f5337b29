/**
 * The state dir lock as the long-running commands take it (`town up`, `node up`, `requester`):
 * before their first write, before a passphrase prompt, held until they return.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { lockStateDir, type StateDirLock, StateDirLockedError } from "../state/state_dir_lock.ts";

/**
 * The state dir lock labels of the profile's node (a requester's, in the foreground or started in
 * the background by a paying command, or a provider's `node up`): `node stop` stops it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NODE_LOCK_LABELS } from "./hold_state_dir.ts";
 *
 * assert(NODE_LOCK_LABELS.includes("node up"));
 * ```
 */
export const NODE_LOCK_LABELS: readonly string[] = ["requester", "node up"];

/**
 * Takes `<state dir>/node.lock` for `role`, or fails (exit 1) naming the pid that holds it.
 *
 * @example
 * ```ts
 * import { holdStateDir } from "./hold_state_dir.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * {
 *   await using _lock = await holdStateDir(stateDir, "town up");
 *   // ... the node runs; another `town up` on this state dir is refused
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function holdStateDir(stateDir: string, role: string): Promise<StateDirLock> {
  try {
    return await lockStateDir(stateDir, role);
  } catch (err) {
    if (!(err instanceof StateDirLockedError)) throw err;
    const { pid, label } = err.holder;
    const kill = pid === undefined ? "" : `kill ${pid}`;
    // The profile's node stops by `node stop`; the user may never have typed its command.
    const stop = NODE_LOCK_LABELS.includes(label ?? "")
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

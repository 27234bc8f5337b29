/**
 * A channel's lock for a command that signs on it (docs/ARCHITECTURE.md "The profile's node"):
 * the profile's background node, when it holds the lock, is stopped for the command.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import {
  type ChannelLock,
  ChannelLockedError,
  lockChannel,
} from "../state/channels/channel_lock.ts";
import { nodeHello, restartProfileNode, stopProfileNode } from "./profile_node.ts";
import type { PassphraseFlags } from "./node_identity.ts";

/**
 * Closing and withdrawing sign on the channel, so they take its lock like a running sender: a
 * node paying over the channel meanwhile would sign claims the final balances do not cover.
 * When the profile's node holds it (docs/ARCHITECTURE.md "The profile's node"), the node is
 * stopped for the command and started again after it if it was following jobs.
 *
 * @example
 * ```ts
 * import { holdChannel } from "./channel_hold.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * {
 *   await using _lock = await holdChannel(stateDir, "0x" + "00".repeat(32));
 *   // ... the channel's file read and written while no other command may
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function holdChannel(
  stateDir: string,
  channelId: string,
  opts: PassphraseFlags = {},
): Promise<ChannelLock> {
  try {
    return await lockChannel(stateDir, channelId);
  } catch (err) {
    if (!(err instanceof ChannelLockedError)) throw err;
    const hello = await nodeHello(stateDir);
    // A node a command started is stopped for this one; one the user runs (`turnpike
    // requester`) is theirs to stop.
    if (hello === undefined || hello.pid !== err.pid || !hello.background) {
      throw new CliError(err.message, {
        context: "payment channel",
        suggestion: `stop the node or requester paying over it (pid ${
          err.pid ?? "unknown"
        }), then run this again`,
        cause: err,
      });
    }
    console.error(
      `node: stopping the profile's node (pid ${hello.pid}) for the channel` +
        (hello.activeJobs > 0 ? `; it follows ${hello.activeJobs} job(s) again after` : ""),
    );
    await stopProfileNode(stateDir);
    const lock = await lockChannel(stateDir, channelId);
    if (hello.activeJobs === 0) return lock;
    const release = async () => {
      await lock.release();
      await restartProfileNode(stateDir, hello, opts).catch((e) =>
        console.error(
          `node: not started again (${(e as Error).message}); the next job command starts it`,
        )
      );
    };
    return { path: lock.path, release, [Symbol.asyncDispose]: release };
  }
}

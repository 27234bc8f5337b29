/**
 * How a long-running node command (`town up`, `node up`) starts and ends around its node: the
 * state dir lock (before the passphrase prompt and the first write), the network line, the
 * wallet's signer in its worker, and the stop: a SIGINT/SIGTERM, or the signer's worker lost (a
 * node without its key can sign nothing, so it stops too). Disposing the session closes the
 * signer, then lets the lock go.
 *
 * @module
 */
import type { Network } from "../config/settings.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import type { StateDirLock } from "../state/state_dir_lock.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { printNetworkLine } from "./network_line.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { isRealFunds, networkOfChainId } from "../config/known_chains.ts";
import { MainnetConsentError, requireMainnetConsent } from "../config/chain_config.ts";
import { loadNodeSigner, type LoadNodeSignerOptions } from "./node_identity.ts";
import { stopSignal } from "./stop_signal.ts";

/** Options for {@linkcode startNodeSession}. */
export interface NodeSessionOptions {
  /** The command that holds the state dir lock, as its holder is named (`"town up"`). */
  command: string;
  /** The network shown on the network line. */
  network: Network;
  /** The chains the profile is set up for: the one that moves real funds is named in a refusal. */
  chains?: readonly string[];
  /** Accept a network of real funds (mainnet, or a chain id the table does not know): `--mainnet`. */
  allowMainnet?: boolean;
  /** The wallet to unlock (its state dir is the one locked) and what to say when it is missing. */
  signer: Omit<LoadNodeSignerOptions, "onFailure">;
}

/** A started node command's lock, signer and stop. */
export interface NodeSession extends AsyncDisposable {
  /** The wallet's signer (closed with the session). */
  signer: NodeSigner;
  /**
   * Settles when the node must stop: `undefined` on SIGINT/SIGTERM (a clean stop), the error
   * when the signer's worker was lost. Listening starts with the session, before the node says
   * it is up.
   */
  stopped: Promise<Error | undefined>;
}

/**
 * Takes the state dir lock, prints the network line, unlocks the signer and starts listening for
 * the stop; a failure on the way lets go of what was taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNodeSession } from "./node_session.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * {
 *   await using session = await startNodeSession({
 *     command: "town up",
 *     network: "local",
 *     signer: { stateDir, who: "the town", generateKey: true },
 *   });
 *   const waiting = setInterval(() => {}, 1000); // a signal listener alone keeps no test alive
 *   Deno.kill(Deno.pid, "SIGTERM"); // what `kill <pid>` sends
 *   assert.equal(await session.stopped, undefined); // a clean stop
 *   clearInterval(waiting);
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {CliError} when the state dir is locked by another process or the wallet cannot be
 * unlocked.
 */
export async function startNodeSession(options: NodeSessionOptions): Promise<NodeSession> {
  const lock: StateDirLock = await holdStateDir(options.signer.stateDir, options.command);
  let signer: NodeSigner;
  const keyLost = Promise.withResolvers<Error>();
  try {
    printNetworkLine(options.network);
    refuseRealFundsUnconfirmed(options);
    signer = await loadNodeSigner({ ...options.signer, onFailure: keyLost.resolve });
  } catch (err) {
    await lock[Symbol.asyncDispose]();
    throw err;
  }
  // Listening before the node starts: a Ctrl-C during start-up stops it cleanly too.
  const signal = stopSignal();
  return {
    signer,
    stopped: Promise.race([signal.then(() => undefined), keyLost.promise]),
    async [Symbol.asyncDispose]() {
      try {
        signer[Symbol.dispose]();
      } finally {
        await lock[Symbol.asyncDispose]();
      }
    },
  };
}

/**
 * A node set up for a chain of real funds (mainnet, or a chain id config/known_chains.ts does not
 * know) starts only with `--mainnet`: the refusal names the chain and how to confirm.
 */
function refuseRealFundsUnconfirmed(options: NodeSessionOptions): void {
  if (options.allowMainnet) return;
  const chain = options.chains?.find((id) => isRealFunds(networkOfChainId(id)));
  if (chain === undefined) return;
  try {
    requireMainnetConsent(chain, false);
  } catch (err) {
    if (err instanceof MainnetConsentError) {
      throw new CliError(`${options.command} refused: ${err.message}`, {
        context: "real funds",
        suggestion: `add --mainnet to \`turnpike ${options.command}\` if you mean to move real ` +
          "funds on that chain",
        exitCode: ExitCode.Usage,
        cause: err,
      });
    }
    throw err;
  }
}

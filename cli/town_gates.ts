/**
 * `turnpike town up`'s payment-channel gates (roles/town/channels/town_channel_gates.ts), opened
 * as the CLI opens them: the chain code only when needed, its errors said as the channel commands
 * say them.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS, errorCase, toCliError } from "./cli_error_map.ts";
import { lazyImport } from "./lazy_import.ts";
import type {
  TownChannelGates,
  TownChannelGatesOptions,
} from "../roles/town/channels/town_channel_gates.ts";
import { channelGatesNeeded, noChannelGates } from "../roles/town/channels/no_channel_gates.ts";

/** A settlement chain the town cannot use: said as the channel commands say it. */
const TOWN_CHAIN_ERROR_CASES = [
  errorCase("MainnetConsentError", CLI_ERRORS.mainnetConsent),
  errorCase(
    ["ChainIdMismatchError", "TokenContractError", "ChainUnreachableError"],
    CLI_ERRORS.chainMismatch,
  ),
];

/**
 * The town's channel gates; the chain code (viem, the claim verifier, the watcher) is loaded
 * only for a town that has or learns channels (docs/OPERATIONS.md "Memory"), and named by URL so
 * that `deno run` does not read it at start either (cli/lazy_import.ts). A chain the town cannot
 * use becomes the channel commands' {@linkcode CliError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NodeSigner } from "../protocol/node_signer.ts";
 * import { openTownGates } from "./town_gates.ts";
 *
 * // No channel and no chain to settle on: the chain code stays unloaded, claims are refused.
 * const stateDir = await Deno.makeTempDir();
 * const gates = await openTownGates({
 *   stateDir,
 *   peerChannels: [],
 *   signer: {} as NodeSigner, // never asked: there is no channel to sign for
 *   triggeredBy: () => "g.town",
 * });
 * assert.equal(typeof gates.claimGate("peer-1")?.handle, "function");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openTownGates(options: TownChannelGatesOptions): Promise<TownChannelGates> {
  if (!await channelGatesNeeded(options)) return noChannelGates(options);
  const { openTownChannelGates, TownChannelError } = await lazyImport<
    typeof import("../roles/town/channels/town_channel_gates.ts")
  >(new URL("../roles/town/channels/town_channel_gates.ts", import.meta.url));
  try {
    return await openTownChannelGates(options);
  } catch (err) {
    // By name: the chain code stays unloaded for a town without channels.
    const chainCase = toCliError(err, TOWN_CHAIN_ERROR_CASES);
    if (chainCase !== err) throw chainCase;
    if (err instanceof TownChannelError) {
      throw new CliError(err.message, {
        context: err.context,
        suggestion: err.suggestion,
        cause: err,
      });
    }
    throw err;
  }
}

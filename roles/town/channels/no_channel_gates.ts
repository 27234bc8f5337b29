/**
 * The gates of a town that holds no payment channel and learns none: a claim is refused, other
 * packets pass as before. This module loads no chain code, so that such a town keeps viem and
 * the channel machinery off its heap; `cli/town_command.ts` imports
 * `town_channel_gates.ts` only when {@linkcode channelGatesNeeded} says so
 * (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import { listChannels } from "../../../state/channels/channel_file.ts";
import type { BtpClaimGate } from "../../channels/btp_claim_gate.ts";
import { claimRejectReply } from "../../channels/claim_reject_reply.ts";
import type { TownChannelGates, TownChannelGatesOptions } from "./town_channel_gates.ts";

/** What {@linkcode channelGatesNeeded} reads of the gates' options. */
export type ChannelGatesNeed = Pick<
  TownChannelGatesOptions,
  "stateDir" | "peerChannels" | "settlementChains"
>;

/**
 * Whether a town needs its channel gates: a configured peer channel, a chain to learn channels
 * on, or a channel file it learned before (one it cannot read counts too: opening the gates
 * reports it). False: {@linkcode noChannelGates} answers alike, without the chain code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelGatesNeeded } from "./no_channel_gates.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no channel files
 * assert.equal(await channelGatesNeeded({ stateDir, peerChannels: [] }), false);
 * assert.equal(await channelGatesNeeded({ stateDir, peerChannels: [], settlementChains: ["evm:base:31337"] }), true);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function channelGatesNeeded(options: ChannelGatesNeed): Promise<boolean> {
  if (options.peerChannels.length > 0 || (options.settlementChains ?? []).length > 0) return true;
  try {
    return (await listChannels(options.stateDir)).some((r) => r.btpAccount !== undefined);
  } catch {
    return true;
  }
}

/**
 * The gates of a town with no channel and nothing to learn on: every claim is refused
 * (`unknown-channel`, F00), a packet without one passes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noChannelGates } from "./no_channel_gates.ts";
 *
 * const gates = noChannelGates({ triggeredBy: () => "g.town" });
 * const gate = gates.claimGate("peer-1"); // refuses every claim, passes other packets
 * assert.equal(typeof gate?.handle, "function");
 * await gates.close();
 * ```
 */
export function noChannelGates(
  options: Pick<TownChannelGatesOptions, "settlementChains" | "triggeredBy">,
): TownChannelGates {
  const close = () => Promise.resolve();
  const listed = options.settlementChains ?? [];
  const why = listed.length === 0
    ? "it settles on no chain ([channels] chains is empty)"
    : `it cannot read ${listed.join(", ")} (each needs [chains."<id>"] rpc_url, token_network ` +
      "and token)";
  const refuse: BtpClaimGate = {
    handle: (_packet, claim, next) => {
      if (claim === undefined) return next();
      const err = new ClaimError(
        "unknown-channel",
        `this town holds no payment channel and learns none: ${why}`,
      );
      return Promise.resolve(claimRejectReply(err, options.triggeredBy()));
    },
  };
  return {
    claimGate: () => refuse,
    gate: () => undefined,
    cosignDesk: () => undefined,
    settlements: [],
    learnsOn: [],
    close,
    [Symbol.asyncDispose]: close,
  };
}

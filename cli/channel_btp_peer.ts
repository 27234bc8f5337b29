/**
 * The BTP connection to the channel's peer (the town) that `channel close`, `withdraw` and
 * `recover` ask over: for a co-signature, or for the newest claim of ours it holds.
 *
 * @module
 */
import { loadSettings, type SettingsFlags } from "../config/settings.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { DEFAULT_COSIGN_TIMEOUT_MS } from "../roles/channels/channel_cosign_request.ts";
import type { ChannelOptions } from "./channel_context.ts";

/** The options of the commands that ask the peer over BTP (`close`, `withdraw`, `recover`). */
export interface CosignCliOptions extends ChannelOptions {
  unilateral?: boolean;
  /** A town on several processes: its shared store, whose books hold the newest claim. */
  store?: string;
  connectorBtpUrl?: string;
  btpToken?: string;
}

/**
 * The settings flags of the peer connection (state dir, BTP URL and token, the town).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerFlags } from "./channel_btp_peer.ts";
 *
 * assert.equal(peerFlags({ town: "ws://127.0.0.1:7100" }).relayUrl, "ws://127.0.0.1:7100");
 * ```
 */
export function peerFlags(opts: CosignCliOptions): SettingsFlags {
  const flags: SettingsFlags = { stateDir: opts.stateDir, profile: opts.profile };
  if (opts.connectorBtpUrl) flags.connectorBtpUrl = opts.connectorBtpUrl;
  if (opts.btpToken) flags.btpToken = opts.btpToken;
  if (opts.town) flags.relayUrl = opts.town;
  return flags;
}

/**
 * The peer's BTP URL and token: flag > environment > config (as `job submit` reaches the town).
 *
 * It connects to the town's BTP endpoint, so it has no example that runs here:
 * tests/e2e/channel_walkthrough_test.ts
 */
export async function connectPeer(opts: CosignCliOptions): Promise<BtpClient> {
  const loaded = await loadSettings({ flags: peerFlags(opts) });
  const peer = new BtpClient({
    url: loaded.settings.connectorBtpUrl,
    authToken: loaded.settings.btpToken,
    reconnect: false,
    responseTimeoutMs: DEFAULT_COSIGN_TIMEOUT_MS,
  });
  await peer.connect();
  return peer;
}

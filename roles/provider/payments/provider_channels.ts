/**
 * A provider's payment channels with its town (docs/OPERATIONS.md "Paying providers"): the one
 * it pays its writes over when `[channels] auto` opens it, the keeper of the town's payout claims
 * (roles/channels/payout_receiver.ts), and what a channel's change on chain is told as.
 *
 * @module
 */
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import { resolveChainConfig } from "../../../config/chain_config.ts";
import { TokenNetworkClient } from "../../../chain/token_network_client.ts";
import type { ChannelChange } from "../../channels/channel_watcher.ts";
import { ensureAutoChannel } from "../../channels/channel_auto_open.ts";
import { PayoutReceiver } from "../../channels/payout_receiver.ts";
import { type ChannelSender, openChannelSender } from "../../channels/channel_sender.ts";
import type { BtpClientOptions } from "../../../transport/btp_client.ts";
import type { AlertKind, NodeAlerts } from "../../node_alerts.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";

/** What the channel helpers need of the node. */
export interface ProviderChannelsOptions extends
  Pick<
    ProviderNodeOptions,
    | "stateDir"
    | "townPubkey"
    | "relayUrl"
    | "channelPolicy"
    | "channels"
    | "chains"
    | "channelWatchIntervalMs"
    | "channel"
    | "channelPrepay"
    | "allowMainnet"
  > {
  signer: NodeSigner;
  audit?: AuditLog;
  log: (line: string) => void;
  /** Told when the chain changed a channel (see {@linkcode reportChannelChange}). */
  onChange?: (change: ChannelChange) => void;
}

/** An alert raiser (roles/node_alerts.ts). */
export type RaiseAlert = (
  kind: AlertKind,
  message: string,
  details: Record<string, string>,
) => void;

/**
 * The channel this provider pays its writes over: the one `--channel` names, else the one
 * `[channels] auto` uses or opens (topped up within its policy); undefined without either.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { openProviderChannel } from "./provider_channels.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 *
 * // Neither `--channel` nor `[channels] auto`: no channel, the writes are paid by ILP alone.
 * // (One opened by `[channels] auto`: tests/e2e/channel_auto_test.ts.)
 * const stateDir = await Deno.makeTempDir();
 * using signer = localNodeSigner(generateSecretKey());
 * const sender = await openProviderChannel({
 *   stateDir,
 *   townPubkey: "ab".repeat(32),
 *   relayUrl: "ws://127.0.0.1:7777",
 *   signer,
 *   log: () => {},
 * }, () => {});
 * assert.equal(sender, undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openProviderChannel(
  o: ProviderChannelsOptions,
  alert: RaiseAlert,
): Promise<ChannelSender | undefined> {
  const channelId = o.channel ?? await autoChannelOf(o);
  return channelId === undefined ? undefined : await openChannelSender({
    stateDir: o.stateDir,
    channelId,
    topUp: o.channel === undefined ? o.channelPolicy : undefined,
    alert,
    signer: o.signer,
    townPubkey: o.townPubkey,
    audit: o.audit,
    chains: o.chains,
    watchIntervalMs: o.channelWatchIntervalMs,
    prepay: o.channelPrepay,
    onChannelChange: o.onChange,
    onWatchError: (err) => o.log(`channel: cannot read the chain: ${err.message}`),
  });
}

/**
 * The home uplink's `onClaim`: the town's payout claims kept before the town hears so
 * (roles/channels/payout_receiver.ts); refused without a keeper.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { payoutClaimHandler } from "./provider_channels.ts";
 *
 * // No [chains] table: no payout receiver, so a claim the town sends over BTP (BtpClient's
 * // `onClaim`) is refused. (One kept: tests/interop/anvil_town_payout_test.ts.)
 * const onClaim = payoutClaimHandler(undefined, () => {});
 * await assert.rejects(onClaim(new Uint8Array(8)), /keeps no payout claims/);
 * ```
 */
export function payoutClaimHandler(
  payouts: PayoutReceiver | undefined,
  log: (line: string) => void,
): NonNullable<BtpClientOptions["onClaim"]> {
  return async (claim) => {
    if (!payouts) {
      throw new Error(
        "this provider keeps no payout claims: no [chains] table to check them on",
      );
    }
    const kept = await payouts.take(claim);
    log(`payout from the town: ${kept.received} claimed on ${kept.channelId}`);
  };
}

/**
 * The channel `[channels] auto` uses or opens with the town; undefined when it is off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { autoChannelOf } from "./provider_channels.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 *
 * // No `[channels] auto`: none (one opened: tests/e2e/channel_auto_test.ts).
 * using signer = localNodeSigner(generateSecretKey());
 * const channelId = await autoChannelOf({
 *   stateDir: "/var/lib/turnpike",
 *   townPubkey: "ab".repeat(32),
 *   relayUrl: "ws://127.0.0.1:7777",
 *   signer,
 *   log: () => {},
 * });
 * assert.equal(channelId, undefined);
 * ```
 */
export async function autoChannelOf(o: ProviderChannelsOptions): Promise<string | undefined> {
  if (!o.channelPolicy?.auto) return undefined;
  const { record } = await ensureAutoChannel({
    stateDir: o.stateDir,
    signer: o.signer,
    townPubkey: o.townPubkey,
    relayUrl: o.relayUrl,
    policy: o.channelPolicy,
    channels: o.channels,
    chains: o.chains,
    audit: o.audit,
    info: (line) => o.log(line),
    allowMainnet: o.allowMainnet,
  });
  return record.channelId;
}

/**
 * The keeper of the town's payout claims, on the first chain of `[chains]`; none without (or
 * when that chain's table is unusable: logged).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { payoutReceiverOf } from "./provider_channels.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 *
 * // No [chains] table: payouts are not kept (kept on anvil: tests/interop/anvil_town_payout_test.ts).
 * using signer = localNodeSigner(generateSecretKey());
 * const payouts = payoutReceiverOf({
 *   stateDir: "/var/lib/turnpike",
 *   townPubkey: "ab".repeat(32),
 *   relayUrl: "ws://127.0.0.1:7777",
 *   signer,
 *   log: () => {},
 * });
 * assert.equal(payouts, undefined);
 * ```
 */
export function payoutReceiverOf(o: ProviderChannelsOptions): PayoutReceiver | undefined {
  const [id, section] = Object.entries(o.chains ?? {})[0] ?? [];
  if (id === undefined) return undefined;
  try {
    const chain = resolveChainConfig(id, {
      section: section as Record<string, unknown>,
      allowMainnet: true,
    });
    const client = new TokenNetworkClient({ chain, account: o.signer.evm });
    return new PayoutReceiver({
      stateDir: o.stateDir,
      audit: o.audit,
      client,
      townPubkey: o.townPubkey,
      // A close by the town that pays less than its newest claim is answered (an alert).
      watch: {
        chain: client,
        intervalMs: o.channelWatchIntervalMs,
        onChange: o.onChange,
        onError: (_id, err) => o.log(`payouts: cannot read the chain: ${err.message}`),
      },
    });
  } catch (err) {
    o.log(`payouts from the town are not kept: [chains."${id}"]: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * A channel's change on chain, logged; one that would pay this node less is an alert.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportChannelChange } from "./provider_channels.ts";
 * import { newChannelRecord } from "../../channels/channel_record_builder.ts";
 * import { resolveChainConfig } from "../../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const before = newChannelRecord(
 *   { chain, address: `0x${"a1".repeat(20)}`, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: `0x${"b2".repeat(20)}`, settleTimeout: 3600n, deposit: 1000n },
 * );
 * const record = { ...before, status: "closed" as const };
 * const lines: string[] = [];
 * const alerts: string[] = [];
 * reportChannelChange(
 *   { before, record, action: "close", fields: { Disputed: "closed with an old claim" } },
 *   (line) => lines.push(line),
 *   { raise: (kind) => alerts.push(kind) },
 * );
 * assert.deepEqual(lines, [`channel ${record.channelId}: close (closed on chain)`]);
 * assert.deepEqual(alerts, ["channel-dispute"]);
 * ```
 */
export function reportChannelChange(
  c: ChannelChange,
  log: (line: string) => void,
  alerts: Pick<NodeAlerts, "raise"> | undefined,
): void {
  log(`channel ${c.record.channelId}: ${c.action} (${c.record.status} on chain)`);
  if (c.fields.Disputed) {
    alerts?.raise(
      "channel-dispute",
      `channel ${c.record.channelId}: ${c.fields.Disputed}`,
      {
        channelId: c.record.channelId,
        ...c.fields,
      },
    );
  }
}

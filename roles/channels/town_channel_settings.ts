/**
 * How a node (requester or provider) pays its town over a payment channel, as `config.toml` and
 * the flags give it: one set of names for both roles' configuration and options.
 *
 * @module
 */
import type { ChannelPolicy } from "../../config/channel_policy.ts";

/** The channel settings of a node that pays a town (docs/OPERATIONS.md "Payment channels"). */
export interface TownChannelSettings {
  /** Pay the town with claims on this channel (id; its file is in the state dir). */
  channel?: string;
  /** Claim this much ahead on the channel (base units; see `BtpClaimOptions.prepay`). */
  channelPrepay?: bigint;
  /** config.toml `[chains]`: with an RPC URL for the channel's chain, the channel is watched. */
  chains?: Record<string, unknown>;
  /** Poll period of the channel watcher (`[channels] watch_interval`). Default 15 s. */
  channelWatchIntervalMs?: number;
  /** `[channels]` policy: without `channel`, use or open one with the town and keep it funded. */
  channelPolicy?: ChannelPolicy;
  /** config.toml `[channels]` (chains, prefer, settle_timeout), for an automatic opening. */
  channels?: Record<string, unknown>;
  /** POST alerts (low balance, top-ups, price, relay disconnected) to this URL (JSON). */
  alertWebhook?: string;
}

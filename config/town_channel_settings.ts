/**
 * How a node (requester or provider) pays its town over a payment channel, as `config.toml` and
 * the flags give it: one set of names for both roles' configuration and options.
 *
 * @module
 */
import { type ChannelPolicy, resolveChannelPolicy } from "./channel_policy.ts";
import { resolveAlertWebhook } from "./alert_webhook.ts";
import {
  chainTables,
  type ChannelOpenSettings,
  channelOpenSettings,
  watchIntervalMs,
} from "./channel_settings.ts";
import type { LoadedSettings } from "./settings.ts";
import type { EnvReader } from "./state_dir.ts";

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
  /** config.toml `[channels]` keys of an opening (chains, prefer, settle_timeout), for an automatic one. */
  channels?: ChannelOpenSettings;
  /** POST alerts (low balance, top-ups, price, relay disconnected) to this URL (JSON). */
  alertWebhook?: string;
  /** Pay on a chain of real funds (the `mainnet` setting: `--mainnet`, `TURNPIKE_MAINNET`). */
  allowMainnet?: boolean;
}

/** What {@linkcode resolveTownChannelSettings} gives: all but the channel named by the node. */
export type ResolvedTownChannelSettings = Omit<TownChannelSettings, "channel" | "channelPrepay">;

/** Options for {@linkcode resolveTownChannelSettings}. */
export interface ResolveTownChannelSettingsOptions {
  /** The shared settings and the file's tables (config/settings.ts `loadSettings`). */
  loaded: LoadedSettings;
  /** `--alert-webhook`, when given. */
  alertWebhook?: string;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
}

/**
 * The channel settings both paying roles (requester and provider) read the same way: the chain
 * tables, the watcher's period, the `[channels]` policy and table, the alert webhook.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTownChannelSettings } from "./town_channel_settings.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_* variables
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * const channels = resolveTownChannelSettings({ loaded, env });
 * assert.deepEqual([channels.channelWatchIntervalMs, channels.channelPolicy?.auto], [15000, false]);
 * ```
 * @throws {ConfigError} naming the setting when a value is not of its kind.
 */
export function resolveTownChannelSettings(
  options: ResolveTownChannelSettingsOptions,
): ResolvedTownChannelSettings {
  const { loaded, env } = options;
  return {
    chains: loaded.sections.chains === undefined ? undefined : chainTables(loaded),
    channelWatchIntervalMs: watchIntervalMs(loaded),
    channelPolicy: resolveChannelPolicy({
      table: loaded.sections.channels,
      env,
      configFile: loaded.configFile,
    }),
    channels: loaded.sections.channels === undefined ? undefined : channelOpenSettings(loaded),
    alertWebhook: resolveAlertWebhook({ loaded, flag: options.alertWebhook, env }),
    allowMainnet: loaded.settings.mainnet,
  };
}

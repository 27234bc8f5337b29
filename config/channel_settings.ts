/**
 * The payment-channel tables of config.toml as typed getters, so one place knows each key: the
 * `[chains."<id>"]` tables (the chain each channel settles on: config/chain_config.ts resolves
 * one), the chains a node lists in `[channels] chains`, the watcher's poll period
 * `[channels] watch_interval` (seconds), and whether the profile is a town's (`[town]`). The `[channels]` policy keys (`auto`, `deposit`,
 * top-ups) are config/channel_policy.ts's; the town's settlement (the same `chains` list with
 * each chain's contracts) is config/town_settlement.ts's.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import type { ConfigFileContent } from "./settings.ts";
import { durationSetting, positiveIntegerSetting, settingOr } from "./setting_codecs.ts";

/** The `[chains."<id>"]` tables, by chain id (`evm:base:84532`), each uninterpreted. */
export type ChainTables = Record<string, Record<string, unknown>>;

/**
 * A config file's tables as config/settings.ts hands them on: `loadSettings`'s result or a
 * parsed file (`ConfigFileContent`) fits.
 */
export type ConfigTables = Pick<ConfigFileContent, "sections">;

/** Default poll period of the channel watcher (roles/channels/channel_watcher.ts). */
export const DEFAULT_WATCH_INTERVAL_MS = 15_000;

/**
 * The `[chains."<id>"]` tables (a flag or environment chain setting already laid over its
 * table by config/settings.ts); none: `{}`.
 *
 * @example
 * ```ts
 * import { chainTables } from "./channel_settings.ts";
 *
 * const tables = chainTables({
 *   sections: { chains: { "evm:base:31337": { rpc_url: "http://127.0.0.1:8545" } } },
 * });
 * console.log(Object.keys(tables)); // ["evm:base:31337"]
 * ```
 */
export function chainTables(config: ConfigTables): ChainTables {
  return (config.sections.chains ?? {}) as ChainTables;
}

/**
 * The chains listed in `[channels] chains` (the strings of the list: the town checks them in
 * config/town_settlement.ts); none: `[]`.
 *
 * @example
 * ```ts
 * import { listedChannelChains } from "./channel_settings.ts";
 *
 * console.log(listedChannelChains({ sections: { channels: { chains: ["evm:base:31337"] } } })); // ["evm:base:31337"]
 * ```
 */
export function listedChannelChains(config: ConfigTables): string[] {
  const listed = config.sections.channels?.chains;
  return Array.isArray(listed) ? listed.filter((c): c is string => typeof c === "string") : [];
}

/**
 * Whether the config has a `[town]` table (a town's profile, whatever its `role` says).
 *
 * @example
 * ```ts
 * import { hasTownTable } from "./channel_settings.ts";
 *
 * console.log(hasTownTable({ sections: { town: {} } })); // true
 * ```
 */
export function hasTownTable(config: ConfigTables): boolean {
  return config.sections.town !== undefined;
}

/**
 * Whether a `[chains."<id>"]` table names an RPC URL (the node can reach that chain).
 *
 * @example
 * ```ts
 * import { hasAnyChainRpc } from "./channel_settings.ts";
 *
 * console.log(hasAnyChainRpc({ sections: { chains: { "evm:base:31337": { rpc_url: "http://127.0.0.1:8545" } } } })); // true
 * ```
 */
export function hasAnyChainRpc(config: ConfigTables): boolean {
  return Object.values(chainTables(config)).some((t) => typeof t?.rpc_url === "string");
}

/**
 * The chains whose `[chains."<id>"]` table names an RPC URL, by id.
 *
 * @example
 * ```ts
 * import { chainsWithRpc } from "./channel_settings.ts";
 *
 * console.log(chainsWithRpc({ sections: { chains: { "evm:base:31337": { rpc_url: "http://127.0.0.1:8545" } } } })); // ["evm:base:31337"]
 * ```
 */
export function chainsWithRpc(config: ConfigTables): string[] {
  return Object.entries(chainTables(config)).filter(([, t]) => typeof t?.rpc_url === "string")
    .map(([id]) => id);
}

/**
 * The `[channels]` table, uninterpreted (the automatic opener reads `chains`, `prefer`,
 * `settle_timeout`; config/channel_policy.ts the policy); none: `{}`.
 *
 * @example
 * ```ts
 * import { channelsTable } from "./channel_settings.ts";
 *
 * console.log(channelsTable({ sections: {} })); // {}
 * ```
 */
export function channelsTable(config: ConfigTables): Record<string, unknown> {
  return config.sections.channels ?? {};
}

/**
 * The watcher's poll period from `[channels] watch_interval` (seconds, a number above 0), else
 * the default.
 *
 * @example
 * ```ts
 * import { watchIntervalMs } from "./channel_settings.ts";
 *
 * console.log(watchIntervalMs({ sections: { channels: { watch_interval: 2 } } })); // 2000
 * console.log(watchIntervalMs({ sections: {} })); // 15000
 * ```
 */
export function watchIntervalMs(config: ConfigTables): number {
  return settingOr(
    config.sections.channels?.watch_interval,
    DEFAULT_WATCH_INTERVAL_MS,
    durationSetting,
    "channels.watch_interval",
    "[channels] watch_interval",
  );
}

/** Default `[channels] max_deposit`, in token units: an opening or top-up past it is refused. */
export const DEFAULT_MAX_DEPOSIT = "100";

/** Default `[channels] settle_timeout`, in seconds between a close and the earliest settle. */
export const DEFAULT_SETTLE_TIMEOUT_SECONDS = 3600;

/** Default `[channels] warn_percent`: the low-balance warning threshold (percent of the deposit). */
export const DEFAULT_WARN_PERCENT = 10;

/** The `[channels]` keys an opener reads (`turnpike channel open` and the automatic opener). */
export interface ChannelOpenSettings {
  /** `chains`: the chains this node opens on; unset: the opener's own default. */
  chains?: string[];
  /** `prefer`: chain ids tried first when the town settles on several. */
  prefer?: string[];
  /** `peer`: the counterparty's EVM address, instead of the town's kind 10032 one. */
  peer?: string;
  /** `max_deposit` in token units (decimal text); default {@linkcode DEFAULT_MAX_DEPOSIT}. */
  maxDeposit: string;
  /** `settle_timeout` in seconds; default {@linkcode DEFAULT_SETTLE_TIMEOUT_SECONDS}. */
  settleTimeoutSeconds: number;
  /** `warn_percent` (0-100); default {@linkcode DEFAULT_WARN_PERCENT}. */
  warnPercent: number;
}

function chainList(value: unknown, key: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((c) => typeof c === "string")) {
    throw new ConfigError(`[channels] ${key} must be a list of chain ids`, {
      key: `channels.${key}`,
    });
  }
  return value;
}

/**
 * The `[channels]` keys an opener reads, typed, with their defaults; the spending policy
 * (`auto`, `deposit`, top-ups) is config/channel_policy.ts's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelOpenSettings } from "./channel_settings.ts";
 *
 * const open = channelOpenSettings({ sections: { channels: { settle_timeout: 600 } } });
 * assert(open.settleTimeoutSeconds === 600 && open.maxDeposit === "100");
 * ```
 * @throws {ConfigError} naming the key when a value is not of its kind.
 */
export function channelOpenSettings(config: ConfigTables): ChannelOpenSettings {
  const t = channelsTable(config);
  if (t.peer !== undefined && typeof t.peer !== "string") {
    throw new ConfigError("[channels] peer must be an EVM address (text)", {
      key: "channels.peer",
    });
  }
  const maxDeposit = String(t.max_deposit ?? DEFAULT_MAX_DEPOSIT);
  if (!/^\d{1,15}(\.\d{1,18})?$/.test(maxDeposit)) {
    throw new ConfigError(
      `[channels] max_deposit must be an amount in token units, got ${
        JSON.stringify(t.max_deposit)
      }`,
      { key: "channels.max_deposit" },
    );
  }
  const warnPercent = t.warn_percent === undefined ? DEFAULT_WARN_PERCENT : Number(t.warn_percent);
  if (!Number.isFinite(warnPercent) || warnPercent < 0 || warnPercent > 100) {
    throw new ConfigError(
      `[channels] warn_percent must be a percentage (0-100), got ${JSON.stringify(t.warn_percent)}`,
      { key: "channels.warn_percent" },
    );
  }
  return {
    chains: chainList(t.chains, "chains"),
    prefer: chainList(t.prefer, "prefer"),
    peer: t.peer,
    maxDeposit,
    settleTimeoutSeconds: settingOr(
      t.settle_timeout,
      DEFAULT_SETTLE_TIMEOUT_SECONDS,
      positiveIntegerSetting,
      "channels.settle_timeout",
      "[channels] settle_timeout",
    ),
    warnPercent,
  };
}

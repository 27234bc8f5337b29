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
import type { ConfigFileContent } from "./settings.ts";

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
 * The watcher's poll period from `[channels] watch_interval` (seconds), else the default; a value
 * that is not a positive number is the default too.
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
  const v = config.sections.channels?.watch_interval;
  const seconds = typeof v === "number" || typeof v === "bigint"
    ? Number(v)
    : typeof v === "string"
    ? Number(v)
    : NaN;
  return Number.isFinite(seconds) && seconds > 0
    ? Math.round(seconds * 1000)
    : DEFAULT_WATCH_INTERVAL_MS;
}

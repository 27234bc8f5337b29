/**
 * `[town] publish_trust` and `publish_trust_interval`: whether the town signs NIP-85 assertions
 * (kind 30382) of its channel-less peers' ranks from their credit history, and how often it looks
 * again (docs/PROTOCOL.md "Trust assertions (NIP-85)", roles/town/town_trust_publish.ts). The
 * rank is the history of the learned credit line, so it needs `peer_credit_ceiling`: without one
 * the town keeps no history to rank.
 *
 * @module
 */
import type { RoleSettingPicker } from "./settings.ts";
import { booleanSetting, durationSetting } from "./setting_codecs.ts";
import { ConfigError } from "./config_error.ts";
import type { TownCreditLine } from "./town_credit_line.ts";

/** The town publishes its trust of its peers. */
export interface TownTrustPublish {
  /** How often the ranks are compared with the published ones again, ms (and at start). */
  intervalMs: number;
}

/** How often by default: every 10 minutes, seconds. */
export const DEFAULT_TRUST_PUBLISH_INTERVAL_S = 600;

/**
 * The publication's settings, or undefined when `publish_trust` is off (the default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townTrustPublish } from "./town_trust_publish.ts";
 *
 * const keys: Record<string, unknown> = { publish_trust: true, publish_trust_interval: 60 };
 * const line = { ceiling: 50_000n, graceMs: 3_600_000 };
 * assert.deepEqual(townTrustPublish((_f, _e, key) => keys[key], line), { intervalMs: 60_000 });
 * assert.equal(townTrustPublish(() => undefined, line), undefined);
 * ```
 * @throws {ConfigError} (key `trustPublish`) when a value is malformed, or when it is on without
 * `peer_credit_ceiling`.
 */
export function townTrustPublish(
  pick: RoleSettingPicker,
  creditLine: TownCreditLine | undefined,
): TownTrustPublish | undefined {
  const on = pick(undefined, "TURNPIKE_TOWN_PUBLISH_TRUST", "publish_trust");
  if (on === undefined || !booleanSetting(on, "trustPublish", "town publish_trust")) {
    return undefined;
  }
  if (creditLine === undefined) {
    throw new ConfigError(
      "town publish_trust needs peer_credit_ceiling: the ranks are the learned credit line's history",
      { key: "trustPublish" },
    );
  }
  const every = pick(undefined, "TURNPIKE_TOWN_PUBLISH_TRUST_INTERVAL", "publish_trust_interval");
  return {
    intervalMs: durationSetting(
      every === undefined || every === "" ? DEFAULT_TRUST_PUBLISH_INTERVAL_S : every,
      "trustPublish",
      "town publish_trust_interval",
    ),
  };
}

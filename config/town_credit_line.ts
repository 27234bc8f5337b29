/**
 * `[town] peer_credit_ceiling` and `peer_credit_grace`: how far a channel-less peer's credit line
 * grows from its floor (`peer_credit_limit`, or its `[[town.peers]] credit_limit`) with repaid
 * use, and how long it may stay in credit before that is a default (docs/PROTOCOL.md "The credit
 * line from history", state/payments/credit_line.ts). Without a ceiling the line is the floor, as
 * a fixed limit always was.
 *
 * @module
 */
import type { RoleSettingPicker } from "./settings.ts";
import { durationSetting, uint64Setting } from "./setting_codecs.ts";

/** The learned line's settings. */
export interface TownCreditLine {
  /** The most a line grows to, base units. */
  ceiling: bigint;
  /** How long a peer may stay in credit before it is a default, ms. */
  graceMs: number;
}

/** How long a peer may stay in credit by default: an hour, seconds. */
export const DEFAULT_PEER_CREDIT_GRACE_S = 3_600;

/**
 * The learned line's settings, or undefined without `peer_credit_ceiling` (the line is the
 * floor).
 *
 * @example
 * ```ts
 * import { townCreditLine } from "./town_credit_line.ts";
 *
 * const keys: Record<string, unknown> = { peer_credit_ceiling: "50000" };
 * console.log(townCreditLine((_f, _e, key) => keys[key]));
 * // { ceiling: 50000n, graceMs: 3600000 }
 * ```
 * @throws {ConfigError} when a value is not an amount or a duration.
 */
export function townCreditLine(pick: RoleSettingPicker): TownCreditLine | undefined {
  const ceiling = pick(undefined, "TURNPIKE_TOWN_PEER_CREDIT_CEILING", "peer_credit_ceiling");
  if (ceiling === undefined || ceiling === "") return undefined;
  const grace = pick(undefined, "TURNPIKE_TOWN_PEER_CREDIT_GRACE", "peer_credit_grace");
  return {
    ceiling: uint64Setting(ceiling, "peerCreditLine", "town peer_credit_ceiling"),
    graceMs: durationSetting(
      grace === undefined || grace === "" ? DEFAULT_PEER_CREDIT_GRACE_S : grace,
      "peerCreditLine",
      "town peer_credit_grace",
    ),
  };
}

/**
 * How a payer runs its payment channel by itself: the `[channels]` keys of config.toml that
 * open a channel with the town on the first paid write and keep it funded, resolved like every
 * setting (flags > environment > TOML > defaults). Amounts are token units (`"50"` = 50 M2M),
 * converted to base units with the channel's decimals by {@linkcode channelPolicyAmounts}.
 *
 * | key (`[channels]`) | environment                    | default                           |
 * | ------------------ | ------------------------------ | --------------------------------- |
 * | `auto`             | `TURNPIKE_CHANNELS_AUTO`       | false (`init` and `chain up` set it) |
 * | `deposit`          | `TURNPIKE_CHANNELS_DEPOSIT`    | 50 (bounded by the wallet's balance) |
 * | `topup_below`      | `TURNPIKE_CHANNELS_TOPUP_BELOW` | 10% (of the deposit)             |
 * | `topup_amount`     | `TURNPIKE_CHANNELS_TOPUP_AMOUNT` | the deposit                     |
 * | `topup_daily_cap`  | `TURNPIKE_CHANNELS_TOPUP_DAILY_CAP` | the deposit                  |
 * | `max_deposit`      | (flag `--max-deposit` of `channel open`) | 100                      |
 *
 * `topup_below` is an amount or a percent of the channel's deposit (`"10%"`); 0 turns automatic
 * top-up off.
 *
 * @module
 */
import { DEFAULT_MAX_DEPOSIT } from "./channel_settings.ts";
import { ConfigError, type SettingSource } from "./config_error.ts";
import { booleanSetting } from "./setting_codecs.ts";
import type { EnvReader } from "./state_dir.ts";

/** The policy as configured (token units, not yet scaled). */
export interface ChannelPolicy {
  /** Open a channel with the town by itself when none is usable. */
  auto: boolean;
  /** Token units deposited when opening automatically. */
  deposit: string;
  /** Top up when what is left falls below this: token units or `<n>%` of the deposit. */
  topUpBelow: string;
  /** Token units added per top-up; absent: the deposit. */
  topUpAmount?: string;
  /** Most token units topped up automatically per UTC day; absent: the deposit. */
  topUpDailyCap?: string;
  /** No channel holding more than this many token units: at opening, or deposit - withdrawn after a top-up. */
  maxDeposit: string;
}

/** The policy in base units for a channel's token. */
export interface ChannelPolicyAmounts {
  deposit: bigint;
  /** Absolute threshold for a channel whose deposit is `deposit`. */
  topUpBelow: (deposit: bigint) => bigint;
  topUpAmount: bigint;
  topUpDailyCap: bigint;
  maxDeposit: bigint;
}

/** Options for {@linkcode resolveChannelPolicy}. */
export interface ResolveChannelPolicyOptions {
  /** The `[channels]` table of config.toml. */
  table?: Record<string, unknown>;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
  /** Config file path, for error messages. */
  configFile?: string;
}

const DEFAULT_DEPOSIT = "50";
const DEFAULT_TOPUP_BELOW = "10%";
const UNITS = /^\d{1,15}(\.\d{1,18})?$/;

interface KeySpec {
  toml: string;
  env?: string;
}

const KEYS = {
  auto: { toml: "auto", env: "TURNPIKE_CHANNELS_AUTO" },
  deposit: { toml: "deposit", env: "TURNPIKE_CHANNELS_DEPOSIT" },
  topUpBelow: { toml: "topup_below", env: "TURNPIKE_CHANNELS_TOPUP_BELOW" },
  topUpAmount: { toml: "topup_amount", env: "TURNPIKE_CHANNELS_TOPUP_AMOUNT" },
  topUpDailyCap: { toml: "topup_daily_cap", env: "TURNPIKE_CHANNELS_TOPUP_DAILY_CAP" },
  maxDeposit: { toml: "max_deposit" },
} satisfies Record<keyof ChannelPolicy, KeySpec>;

/**
 * Resolves the `[channels]` policy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveChannelPolicy } from "./channel_policy.ts";
 *
 * const policy = resolveChannelPolicy({ table: { auto: true, deposit: "20" }, env: () => undefined });
 * assert.deepEqual([policy.auto, policy.deposit], [true, "20"]); // opens 20 by itself
 * ```
 * @throws {ConfigError} naming the key and its source for a bad value.
 */
export function resolveChannelPolicy(options: ResolveChannelPolicyOptions = {}): ChannelPolicy {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const table = options.table ?? {};
  const pick = (
    key: keyof ChannelPolicy,
  ): { value: unknown; source: SettingSource } | undefined => {
    const spec: KeySpec = KEYS[key];
    const fromEnv = spec.env === undefined ? undefined : env(spec.env);
    if (fromEnv !== undefined && fromEnv !== "") {
      return { value: fromEnv, source: { kind: "env", name: spec.env! } };
    }
    if (!(spec.toml in table)) return undefined;
    return {
      value: table[spec.toml],
      source: {
        kind: "file",
        path: options.configFile ?? "config.toml",
        key: `channels.${spec.toml}`,
      },
    };
  };
  const units = (key: keyof ChannelPolicy, fallback?: string, percent = false) => {
    const raw = pick(key);
    if (raw === undefined) return fallback;
    const text = String(raw.value).trim();
    if (UNITS.test(text) || (percent && /^\d{1,3}(\.\d{1,2})?%$/.test(text))) return text;
    throw new ConfigError(
      `must be an amount of tokens such as "50"${
        percent ? ' or a percent such as "10%"' : ""
      }, got ${JSON.stringify(raw.value)}`,
      { key: `channels.${KEYS[key].toml}`, source: raw.source },
    );
  };
  return {
    auto: autoOf(pick("auto")),
    deposit: units("deposit", DEFAULT_DEPOSIT)!,
    topUpBelow: units("topUpBelow", DEFAULT_TOPUP_BELOW, true)!,
    topUpAmount: units("topUpAmount"),
    topUpDailyCap: units("topUpDailyCap"),
    maxDeposit: units("maxDeposit", DEFAULT_MAX_DEPOSIT)!,
  };
}

function autoOf(raw: { value: unknown; source: SettingSource } | undefined): boolean {
  if (raw === undefined) return false;
  return booleanSetting(raw.value, "channels.auto", "[channels] auto", raw.source);
}

/**
 * The policy in base units of a token with `decimals` decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelPolicyAmounts, resolveChannelPolicy } from "./channel_policy.ts";
 *
 * const amounts = channelPolicyAmounts(resolveChannelPolicy({ env: () => undefined }), 6);
 * assert.equal(amounts.topUpBelow(50_000_000n), 5_000_000n); // the default 10%
 * ```
 */
export function channelPolicyAmounts(
  policy: ChannelPolicy,
  decimals: number,
): ChannelPolicyAmounts {
  const deposit = scaleUnits(policy.deposit, decimals);
  const below = policy.topUpBelow;
  return {
    deposit,
    topUpBelow: below.endsWith("%")
      ? (d) => d * BigInt(Math.round(Number(below.slice(0, -1)) * 100)) / 10_000n
      : () => scaleUnits(below, decimals),
    topUpAmount: policy.topUpAmount === undefined
      ? deposit
      : scaleUnits(policy.topUpAmount, decimals),
    topUpDailyCap: policy.topUpDailyCap === undefined
      ? deposit
      : scaleUnits(policy.topUpDailyCap, decimals),
    maxDeposit: scaleUnits(policy.maxDeposit, decimals),
  };
}

/**
 * Token units (`"12.5"`) to base units with `decimals` decimals; digits beyond them are cut.
 *
 * @example
 * ```ts
 * scaleUnits("12.5", 6); // 12_500_000n
 * ```
 */
export function scaleUnits(text: string, decimals: number): bigint {
  const [whole, fraction = ""] = text.split(".");
  const frac = fraction.slice(0, decimals).padEnd(decimals, "0");
  return BigInt(whole) * 10n ** BigInt(decimals) + (frac === "" ? 0n : BigInt(frac));
}

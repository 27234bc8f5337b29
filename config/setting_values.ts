/**
 * The value kinds a role's settings take (amounts, counts, switches), each read from what a flag,
 * a variable or a TOML key gives (text, number, boolean) and refused with a
 * {@linkcode ConfigError} that names the setting.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

/** A value kind's parser: what {@linkcode uint64Setting} and its siblings are. */
export type SettingParser<T> = (value: unknown, key: string, label?: string) => T;

/**
 * A setting parsed by `parse`, or `fallback` when it is not set (`undefined`): the one way a
 * role's resolver writes "this key, or its default".
 *
 * @example
 * ```ts
 * import { positiveIntegerSetting, settingOr } from "./setting_values.ts";
 *
 * console.assert(settingOr(undefined, 64, positiveIntegerSetting, "maxEventBytes") === 64);
 * console.assert(settingOr("128", 64, positiveIntegerSetting, "maxEventBytes") === 128);
 * ```
 * @throws {ConfigError} from `parse` when the value is set but not one of its kind.
 */
export function settingOr<T, F>(
  value: unknown,
  fallback: F,
  parse: SettingParser<T>,
  key: string,
  label?: string,
): T | F {
  return value === undefined ? fallback : parse(value, key, label);
}

/**
 * A uint64 amount in base units (decimal text or a TOML integer).
 *
 * @example
 * ```ts
 * import { uint64Setting } from "./setting_values.ts";
 *
 * console.log(uint64Setting("5000", "town.payouts.threshold")); // 5000n
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function uint64Setting(value: unknown, key: string, label: string = key): bigint {
  const text = typeof value === "number" || typeof value === "bigint" ? String(value) : value;
  if (typeof text !== "string" || !/^\d{1,20}$/.test(text) || BigInt(text) > UINT64_MAX) {
    throw new ConfigError(`${label} must be a uint64 amount, got ${JSON.stringify(text)}`, { key });
  }
  return BigInt(text);
}

/**
 * A positive safe integer (decimal text or a TOML integer).
 *
 * @example
 * ```ts
 * import { positiveIntegerSetting } from "./setting_values.ts";
 *
 * console.log(positiveIntegerSetting("7", "town.blob_retention_days")); // 7
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function positiveIntegerSetting(value: unknown, key: string, label: string = key): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`${label} must be a positive integer, got ${JSON.stringify(value)}`, {
      key,
    });
  }
  return n;
}

/**
 * A switch: a TOML boolean, `true`/`1`, `false`/`0` or empty text.
 *
 * @example
 * ```ts
 * import { booleanSetting } from "./setting_values.ts";
 *
 * console.log(booleanSetting("1", "town.dev_accept_any_token")); // true
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is none of these.
 */
export function booleanSetting(value: unknown, key: string, label: string = key): boolean {
  if (typeof value === "boolean") return value;
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false" || value === "") return false;
  throw new ConfigError(`${label} must be true or false, got ${JSON.stringify(value)}`, { key });
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A Nostr pubkey: 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { pubkeySetting } from "./setting_values.ts";
 *
 * console.log(pubkeySetting("ab".repeat(32), "townPubkey").length); // 64
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not.
 */
export function pubkeySetting(value: unknown, key: string, label: string = key): string {
  if (typeof value !== "string" || !HEX64.test(value)) {
    throw new ConfigError(`${label} ${JSON.stringify(value)} is not a 64-hex pubkey`, { key });
  }
  return value;
}

/**
 * The one table of setting codecs: each kind of value a setting takes (a switch, an amount, a
 * count, a duration, a URL, a pubkey) read from what a flag, a variable or a `config.toml` key
 * gives (text, a TOML number or boolean) by one function, the same for every setting of that kind,
 * and refused with a {@linkcode ConfigError} that names the setting and says what it takes. The
 * words each kind takes are docs/OPERATIONS.md "Setting values".
 *
 * Every resolver in `config/` reads its switches, amounts, durations and URLs through these
 * (`tests/unit/config/setting_codecs_test.ts` fails on a module that parses a switch itself).
 *
 * @module
 */
import { ConfigError, InsecureUrlError, type SettingSource } from "./config_error.ts";

const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
/** An amount's text: decimal digits, no leading zero (`007` could be read as octal). */
const AMOUNT_TEXT = /^(0|[1-9][0-9]{0,19})$/;

/**
 * A value kind's parser: the value as given, the setting's key (the error's `key`), the name the
 * message says (default the key) and where the value came from (the error's `source`).
 */
export type SettingParser<T> = (
  value: unknown,
  key: string,
  label?: string,
  source?: SettingSource,
) => T;

/**
 * A setting parsed by `parse`, or `fallback` when it is not set (`undefined`): the one way a
 * role's resolver writes "this key, or its default".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveIntegerSetting, settingOr } from "./setting_codecs.ts";
 *
 * assert(settingOr(undefined, 64, positiveIntegerSetting, "maxEventBytes") === 64);
 * assert(settingOr("128", 64, positiveIntegerSetting, "maxEventBytes") === 128);
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

function show(value: unknown): string {
  const s = typeof value === "string" ? JSON.stringify(value) : String(value);
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/**
 * The words a switch takes, in any case, around spaces: each side's list. A TOML boolean is taken
 * as it is.
 */
export const BOOLEAN_WORDS: {
  readonly true: readonly string[];
  readonly false: readonly string[];
} = {
  true: ["true", "yes", "on", "1"],
  false: ["false", "no", "off", "0"],
};

/**
 * A switch: a TOML boolean, or one of {@linkcode BOOLEAN_WORDS} (`true`/`false`, `yes`/`no`,
 * `on`/`off`, `1`/`0`; any case, spaces around ignored), as text or (`1`, `0`) a TOML integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booleanSetting } from "./setting_codecs.ts";
 *
 * assert(booleanSetting("yes", "acceptAnyToken", "dev_accept_any_token") === true);
 * assert(booleanSetting(false, "allowInsecure") === false);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is none of these.
 */
export function booleanSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): boolean {
  if (typeof value === "boolean") return value;
  // A TOML integer is read as its text: `1` and `0` are words of the list, other numbers not.
  const text = typeof value === "number" || typeof value === "bigint" ? String(value) : value;
  if (typeof text === "string") {
    const word = text.trim().toLowerCase();
    if (BOOLEAN_WORDS.true.includes(word)) return true;
    if (BOOLEAN_WORDS.false.includes(word)) return false;
  }
  throw new ConfigError(
    `${label} must be true or false (or yes/no, on/off, 1/0), got ${show(value)}`,
    { key, source },
  );
}

/**
 * An amount in base units, uint64: a TOML integer, or decimal digits (spaces around ignored;
 * no sign, point, exponent or leading zero).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uint64Setting } from "./setting_codecs.ts";
 *
 * assert(uint64Setting("5000", "town.payouts.threshold") === 5000n);
 * assert(uint64Setting(0, "priceCeiling") === 0n);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function uint64Setting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): bigint {
  let n: bigint | undefined;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && AMOUNT_TEXT.test(value.trim())) n = BigInt(value.trim());
  if (n === undefined || n < 0n || n > UINT64_MAX) {
    throw new ConfigError(
      `${label} must be an amount in base units (a whole number, 0 to 2^64-1), got ${show(value)}`,
      { key, source },
    );
  }
  return n;
}

/**
 * A positive safe integer (a count): a TOML integer or decimal text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveIntegerSetting } from "./setting_codecs.ts";
 *
 * assert(positiveIntegerSetting("7", "town.blob_retention_days") === 7);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function positiveIntegerSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`${label} must be a positive integer, got ${show(value)}`, {
      key,
      source,
    });
  }
  return n;
}

/** The range a {@linkcode durationSetting} takes, in seconds. */
export interface DurationRange {
  /** Fewest seconds taken; default: anything above 0. */
  min?: number;
  /** Most seconds taken; default: no bound. */
  max?: number;
}

/**
 * A duration given in seconds (a TOML number, or decimal text such as `15` or `0.5`), above 0 or
 * within `range`: its milliseconds, rounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { durationSetting } from "./setting_codecs.ts";
 *
 * assert(durationSetting("2.5", "channels.watch_interval") === 2500);
 * assert(durationSetting(60, "nodeIdleTimeoutS", "node_idle_timeout", undefined, { min: 1 }) === 60_000);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function durationSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
  range: DurationRange = {},
): number {
  const seconds = typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : typeof value === "number" || typeof value === "bigint"
    ? Number(value)
    : NaN;
  const { min, max } = range;
  const inRange = Number.isFinite(seconds) &&
    (min === undefined ? seconds > 0 : seconds >= min) && (max === undefined || seconds <= max);
  if (!inRange) {
    const span = min === undefined
      ? max === undefined ? "above 0" : `above 0, at most ${max}`
      : max === undefined
      ? `at least ${min}`
      : `${min} to ${max}`;
    throw new ConfigError(`${label} must be a number of seconds ${span}, got ${show(value)}`, {
      key,
      source,
    });
  }
  return Math.round(seconds * 1000);
}

/**
 * A file's path (a certificate, a key, a CA bundle): non-empty text, resolved against the working
 * directory when relative. Whether the file can be read is for its reader to say.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { filePathSetting } from "./setting_codecs.ts";
 *
 * assert(filePathSetting("/etc/ssl/ca.pem", "caFile", "ca_file") === "/etc/ssl/ca.pem");
 * assert(filePathSetting("ca.pem", "caFile").endsWith("/ca.pem"));
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not one.
 */
export function filePathSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): string {
  if (typeof value !== "string" || value.trim() === "" || value.includes("\0")) {
    throw new ConfigError(`${label} must be a file's path, got ${show(value)}`, { key, source });
  }
  return value.startsWith("/") ? value : `${Deno.cwd()}/${value}`;
}

/** What a {@linkcode urlSetting} takes. */
export interface UrlRule {
  /** The schemes taken, with their colon: `["ws:", "wss:"]`. */
  schemes: readonly string[];
  /** Plain (unencrypted) schemes may name a host that is not loopback (`allow_insecure`). */
  allowInsecure?: boolean;
}

/** Schemes whose traffic is encrypted; a plain one to a host that is not loopback needs `allow_insecure`. */
const SECURE_SCHEMES: Record<string, string> = {
  "ws:": "wss:",
  "btp+ws:": "btp+wss:",
  "http:": "https:",
};

function oneOf(words: readonly string[]): string {
  return words.length < 2
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/**
 * Whether a URL's hostname is a loopback address (where an unencrypted URL is allowed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackHost } from "./setting_codecs.ts";
 *
 * assert(isLoopbackHost("127.0.0.2"));
 * assert(!isLoopbackHost("relay.example.com"));
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * A URL of one of `rule.schemes`; a plain scheme (`ws:`, `btp+ws:`, `http:`) only to a loopback
 * host unless `rule.allowInsecure`. Returns the text as given, trimmed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { urlSetting } from "./setting_codecs.ts";
 *
 * const url = urlSetting("wss://relay.example.com", "relayUrl", "relay_url", undefined, {
 *   schemes: ["ws:", "wss:"],
 * });
 * assert(url === "wss://relay.example.com");
 * ```
 * @throws {ConfigError} naming `key` when it is not a URL or not of those schemes;
 * {@linkcode InsecureUrlError} when it is plain to a host that is not loopback.
 */
export function urlSetting(
  value: unknown,
  key: string,
  label: string = key,
  source: SettingSource | undefined,
  rule: UrlRule,
): string {
  const text = typeof value === "string" ? value.trim() : undefined;
  let url: URL | undefined;
  try {
    url = text === undefined || text === "" ? undefined : new URL(text);
  } catch {
    url = undefined;
  }
  if (text === undefined || url === undefined) {
    throw new ConfigError(`${label} is not a valid URL: ${show(value)}`, { key, source });
  }
  if (!rule.schemes.includes(url.protocol)) {
    throw new ConfigError(
      `${label} scheme must be ${oneOf(rule.schemes)}, got ${url.protocol}`,
      { key, source },
    );
  }
  const secure = SECURE_SCHEMES[url.protocol];
  if (secure !== undefined && !rule.allowInsecure && !isLoopbackHost(url.hostname)) {
    throw new InsecureUrlError(
      `${label} ${url.host} is not loopback and ${url.protocol}// is unencrypted: ` +
        `use ${secure}// or set allow_insecure`,
      { key, source },
    );
  }
  return text;
}

/**
 * A list of Nostr event kinds (0 to 65535): a TOML array of integers, or their text separated by
 * commas (spaces around ignored). Returns them sorted, each once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kindListSetting } from "./setting_codecs.ts";
 *
 * assert(kindListSetting("4, 1059", "privateKinds").join() === "4,1059");
 * assert(kindListSetting([30078], "privateKinds", "private_kinds")[0] === 30078);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when an item is
 * not a kind.
 */
export function kindListSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): number[] {
  const items = typeof value === "string"
    ? value.split(",").map((k) => k.trim()).filter((k) => k !== "")
    : Array.isArray(value)
    ? value
    : undefined;
  if (items === undefined) {
    throw new ConfigError(`${label} must be a list of event kinds, got ${show(value)}`, {
      key,
      source,
    });
  }
  const kinds = new Set<number>();
  for (const item of items) {
    const n = typeof item === "string" && /^\d{1,5}$/.test(item)
      ? Number(item)
      : typeof item === "number" || typeof item === "bigint"
      ? Number(item)
      : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      throw new ConfigError(`${label}: ${show(item)} is not an event kind (0 to 65535)`, {
        key,
        source,
      });
    }
    kinds.add(n);
  }
  return [...kinds].sort((a, b) => a - b);
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A Nostr pubkey: 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pubkeySetting } from "./setting_codecs.ts";
 *
 * assert(pubkeySetting("ab".repeat(32), "townPubkey").length === 64);
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not.
 */
export function pubkeySetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): string {
  if (typeof value !== "string" || !HEX64.test(value)) {
    throw new ConfigError(`${label} ${show(value)} is not a 64-hex pubkey`, { key, source });
  }
  return value;
}

/**
 * A list of strings: a TOML array of strings, or a text of comma-separated items (a variable's);
 * blank items dropped, duplicates kept once, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringListSetting } from "./setting_codecs.ts";
 *
 * assert(stringListSetting(["test_*.py", "tests/**"], "agentProtect").length === 2);
 * assert(stringListSetting("a, b,a", "agentProtect").join() === "a,b");
 * ```
 * @throws {ConfigError} naming `key` (the message says `label`, default the key) when it is not
 * a list of strings.
 */
export function stringListSetting(
  value: unknown,
  key: string,
  label: string = key,
  source?: SettingSource,
): string[] {
  const items = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(items) || !items.every((i) => typeof i === "string")) {
    throw new ConfigError(`${label} must be a list of strings, got ${show(value)}`, {
      key,
      source,
    });
  }
  return [...new Set(items.map((i) => i.trim()).filter((i) => i !== ""))];
}

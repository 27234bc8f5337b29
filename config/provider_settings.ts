/**
 * The provider's own settings (`[provider]` in config.toml, `TURNPIKE_PROVIDER_*` and the other
 * variables below, `node up`'s flags), resolved and typed in one place: each is the flag, else a
 * non-empty environment variable, else the table's key, else its default
 * ({@linkcode roleSettingPicker}); a bad value is a {@linkcode ConfigError} naming it. What needs
 * the network (the town's pubkey and price when not given) is the caller's. The table of keys
 * and variables is docs/OPERATIONS.md ("Running a provider").
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import {
  booleanSetting,
  positiveIntegerSetting,
  settingOr,
  uint64Setting,
} from "./setting_codecs.ts";
import { type LoadedSettings, roleSettingPicker } from "./settings.ts";
import type { EnvReader } from "./state_dir.ts";

/** `node up`'s flags for the provider's own settings, as commander hands them (text). */
export interface ProviderFlags {
  townPubkey?: string;
  skillsDir?: string;
  maxInFlight?: string;
  maxPerRequester?: string;
  maxConcurrent?: string;
  maxAge?: string;
  maxInputBytes?: string;
  invoiceExpiry?: string;
  maxUnpaid?: string;
  maxUnpaidPerRequester?: string;
  unpaidGrace?: string;
  heartbeat?: string;
  agentHeartbeat?: string;
  /** `--addressed-only`: commander hands a boolean flag as `true`. */
  addressedOnly?: boolean;
  /** `--allow-network` (repeatable): added to `[provider] allow_network`. */
  allowNetwork?: string[];
  sandbox?: string;
  channel?: string;
  channelPrepay?: string;
  passphraseFile?: string;
}

/** How jobs are sandboxed. */
export type SandboxMode = "root" | "rootless" | "auto";

/** The provider's settings, typed. */
export interface ProviderSettings {
  /** The town's pubkey when given (64 lowercase hex); undefined: ask the town. */
  townPubkey?: string;
  /** The skills dir when given; undefined: the state dir's `skills/`, else the built-in ones. */
  skillsDir?: string;
  maxInFlight: number;
  maxInFlightPerRequester: number;
  maxConcurrentRuns: number;
  maxAgeSec: number;
  maxInputBytes: number;
  /** Undefined: the provider's default. */
  invoiceExpiryMs?: number;
  /** How long a result paid on delivery waits for its payment; undefined: a day. */
  deliveryExpiryMs?: number;
  /** Undefined: no cap. */
  maxTownDebt?: bigint;
  maxUnpaid: number;
  maxUnpaidPerRequester: number;
  /** A trusted requester's most unpaid jobs; undefined: its share stays the floor. */
  maxUnpaidPerTrustedRequester?: number;
  unpaidGraceMs: number;
  heartbeatMs: number;
  /** An agent-task's heartbeat period (docs/PROTOCOL.md "Agent heartbeat"). */
  agentHeartbeatMs: number;
  /** Take only requests whose `p` tag names this provider (a `#p` subscription). */
  addressedOnly: boolean;
  /** Hosts a job may reach when its manifest asks (flags first, then the table's). */
  allowNetwork: string[];
  sandboxMode: SandboxMode;
  /**
   * Sandboxes set up ahead per skill that ran a job lately (`prepared_sandboxes`,
   * `TURNPIKE_PROVIDER_PREPARED_SANDBOXES`, default 1; roles/provider/sandbox/sandbox_pool.ts); false: 0,
   * none.
   */
  preparedSandboxes: { perSkill: number } | false;
  /** Paths no job may see (the passphrase file). */
  hiddenPaths: string[];
  /** The payment channel to pay the town through (lowercase), when given. */
  channel?: string;
  channelPrepay: bigint;
}

/** Where a trusted requester's unpaid share is set in the environment. */
const TRUSTED_SHARE_ENV = "TURNPIKE_PROVIDER_MAX_UNPAID_PER_TRUSTED_REQUESTER";

/** The defaults the provider's settings fall back to. */
export interface ProviderDefaults {
  maxInputBytes: number;
  maxUnpaid: number;
  maxUnpaidPerRequester: number;
  unpaidGraceSec: number;
}

/** Options for {@linkcode resolveProviderSettings}. */
export interface ResolveProviderSettingsOptions {
  loaded: LoadedSettings;
  flags?: ProviderFlags;
  /** The role's defaults that live with the role (input cap, unpaid jobs). */
  defaults: ProviderDefaults;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
}

const HEX64 = /^[0-9a-f]{64}$/;
const CHANNEL_ID = /^0x[0-9a-fA-F]{64}$/;
const SANDBOX_MODES: readonly SandboxMode[] = ["root", "rootless", "auto"];

/**
 * Resolves the provider's settings from flags, environment and the `[provider]` table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveProviderSettings } from "./provider_settings.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_* variables
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * const settings = resolveProviderSettings({
 *   loaded,
 *   flags: { maxConcurrent: "4" },
 *   defaults: { maxInputBytes: 1 << 20, maxUnpaid: 64, maxUnpaidPerRequester: 4, unpaidGraceSec: 60 },
 *   env,
 * });
 * assert.equal(settings.maxConcurrentRuns, 4);
 * ```
 * @throws {ConfigError} when a value is not of its kind.
 */
export function resolveProviderSettings(options: ResolveProviderSettingsOptions): ProviderSettings {
  const { loaded, defaults } = options;
  const flags = options.flags ?? {};
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const picker = roleSettingPicker(loaded, "provider", env);
  const pick = (flag: string | undefined, envName: string, key: string): string | undefined => {
    const value = picker(flag, envName, key);
    return value === undefined ? undefined : String(value);
  };
  /** A positive whole number; its flag is `--` and the key with dashes. */
  const count = (flag: string | undefined, envName: string, key: string, fallback: number) =>
    positive(`--${key.replaceAll("_", "-")}`, key, pick(flag, envName, key), fallback);
  const trustedShare = pick(undefined, TRUSTED_SHARE_ENV, "max_unpaid_per_trusted_requester");
  const townPubkey = pick(flags.townPubkey, "TURNPIKE_TOWN_PUBKEY", "town_pubkey");
  if (townPubkey !== undefined && !HEX64.test(townPubkey)) {
    throw new ConfigError(
      `the town's pubkey must be 64 lowercase hex, got ${JSON.stringify(townPubkey)}`,
      {
        key: "townPubkey",
      },
    );
  }
  const channel = pick(flags.channel, "TURNPIKE_CHANNEL", "channel");
  if (channel !== undefined && !CHANNEL_ID.test(channel)) {
    throw new ConfigError(`channel ${JSON.stringify(channel)} is not a channel id (0x + 64 hex)`);
  }
  const allowNetwork = [...(flags.allowNetwork ?? [])];
  const fromToml = loaded.sections.provider?.allow_network;
  if (Array.isArray(fromToml)) allowNetwork.push(...fromToml.map(String));
  const sandboxMode = pick(flags.sandbox, "TURNPIKE_SANDBOX", "sandbox") ?? "auto";
  if (!SANDBOX_MODES.includes(sandboxMode as SandboxMode)) {
    throw new ConfigError(
      `--sandbox must be root, rootless or auto, got ${JSON.stringify(sandboxMode)}`,
    );
  }
  const prepared = pick(undefined, "TURNPIKE_PROVIDER_PREPARED_SANDBOXES", "prepared_sandboxes");
  if (prepared !== undefined && !/^\d{1,2}$/.test(prepared)) {
    throw new ConfigError(
      `prepared_sandboxes must be a whole number 0-99, got ${JSON.stringify(prepared)}`,
    );
  }
  // A passphrase file is the key's other half: no job may read it, wherever it lives.
  const passphraseFile = flags.passphraseFile ?? env("TURNPIKE_PASSPHRASE_FILE");
  const invoiceExpiry = pick(
    flags.invoiceExpiry,
    "TURNPIKE_PROVIDER_INVOICE_EXPIRY",
    "invoice_expiry",
  );
  const deliveryExpiry = pick(undefined, "TURNPIKE_PROVIDER_DELIVERY_EXPIRY", "delivery_expiry");
  return {
    townPubkey,
    skillsDir: pick(flags.skillsDir, "TURNPIKE_SKILLS_DIR", "skills_dir"),
    maxInFlight: count(flags.maxInFlight, "TURNPIKE_PROVIDER_MAX_IN_FLIGHT", "max_in_flight", 32),
    maxInFlightPerRequester: count(
      flags.maxPerRequester,
      "TURNPIKE_PROVIDER_MAX_PER_REQUESTER",
      "max_per_requester",
      8,
    ),
    maxConcurrentRuns: count(
      flags.maxConcurrent,
      "TURNPIKE_PROVIDER_MAX_CONCURRENT",
      "max_concurrent",
      2,
    ),
    maxAgeSec: count(flags.maxAge, "TURNPIKE_PROVIDER_MAX_AGE", "max_age", 600),
    maxInputBytes: count(
      flags.maxInputBytes,
      "TURNPIKE_PROVIDER_MAX_INPUT_BYTES",
      "max_input_bytes",
      defaults.maxInputBytes,
    ),
    invoiceExpiryMs: invoiceExpiry === undefined
      ? undefined
      : 1000 * positive("--invoice-expiry", "invoice_expiry", invoiceExpiry, 0),
    deliveryExpiryMs: deliveryExpiry === undefined
      ? undefined
      : 1000 * positive("delivery_expiry", "delivery_expiry", deliveryExpiry, 0),
    maxTownDebt: settingOr(
      pick(undefined, "TURNPIKE_PROVIDER_MAX_TOWN_DEBT", "max_town_debt"),
      undefined,
      uint64Setting,
      "maxTownDebt",
      "max_town_debt",
    ),
    maxUnpaid: count(
      flags.maxUnpaid,
      "TURNPIKE_PROVIDER_MAX_UNPAID",
      "max_unpaid",
      defaults.maxUnpaid,
    ),
    maxUnpaidPerRequester: count(
      flags.maxUnpaidPerRequester,
      "TURNPIKE_PROVIDER_MAX_UNPAID_PER_REQUESTER",
      "max_unpaid_per_requester",
      defaults.maxUnpaidPerRequester,
    ),
    maxUnpaidPerTrustedRequester: trustedShare === undefined
      ? undefined
      : count(undefined, TRUSTED_SHARE_ENV, "max_unpaid_per_trusted_requester", 1),
    unpaidGraceMs: 1000 *
      count(
        flags.unpaidGrace,
        "TURNPIKE_PROVIDER_UNPAID_GRACE",
        "unpaid_grace",
        defaults.unpaidGraceSec,
      ),
    heartbeatMs: 1000 * count(flags.heartbeat, "TURNPIKE_PROVIDER_HEARTBEAT", "heartbeat", 3600),
    agentHeartbeatMs: 1000 *
      count(flags.agentHeartbeat, "TURNPIKE_AGENT_HEARTBEAT", "agent_heartbeat", 60),
    addressedOnly: settingOr(
      pick(
        flags.addressedOnly ? "true" : undefined,
        "TURNPIKE_PROVIDER_ADDRESSED_ONLY",
        "addressed_only",
      ),
      false,
      booleanSetting,
      "addressedOnly",
      "--addressed-only",
    ),
    allowNetwork,
    sandboxMode: sandboxMode as SandboxMode,
    preparedSandboxes: Number(prepared ?? 1) === 0 ? false : { perSkill: Number(prepared ?? 1) },
    hiddenPaths: passphraseFile === undefined ? [] : [passphraseFile],
    channel: channel?.toLowerCase(),
    channelPrepay: settingOr(
      pick(flags.channelPrepay, "TURNPIKE_CHANNEL_PREPAY", "channel_prepay"),
      0n,
      uint64Setting,
      "channelPrepay",
      "--channel-prepay",
    ),
  };
}

/** A count (or whole seconds) setting, its flag the name the message says. */
function positive(name: string, key: string, text: string | undefined, fallback: number): number {
  return settingOr(text, fallback, positiveIntegerSetting, key, name);
}

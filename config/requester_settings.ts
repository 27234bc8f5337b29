/**
 * The requester's settings, resolved and typed in one place: the common settings
 * (config/settings.ts: relay URL, connector BTP URL, BTP token, price per byte, price ceiling)
 * plus its own keys, from flags > environment > the `[requester]` table of `config.toml`
 * ({@linkcode roleSettingPicker}); a bad value is a {@linkcode ConfigError} naming the setting.
 * The requester role (roles/requester/requester_node.ts) takes the typed settings only.
 *
 * | key (TOML)            | env                         | flag                 |
 * |-----------------------|-----------------------------|----------------------|
 * | town_pubkey           | TURNPIKE_TOWN_PUBKEY        | --town-pubkey        |
 * | town_address          | TURNPIKE_TOWN_ADDRESS       | --town-address       |
 * | skills_dir            | TURNPIKE_SKILLS_DIR         | --skills-dir         |
 * | asset                 | TURNPIKE_ASSET              | (none)               |
 * | max_per_job           | TURNPIKE_MAX_PER_JOB        | --max-per-job        |
 * | provider_daily_cap    | TURNPIKE_PROVIDER_DAILY_CAP | --provider-daily-cap |
 * | daily_cap             | TURNPIKE_DAILY_CAP          | --daily-cap          |
 * | allow_providers       | TURNPIKE_ALLOW_PROVIDERS    | --allow-provider     |
 * | channel               | TURNPIKE_CHANNEL            | --channel            |
 * | channel_prepay        | TURNPIKE_CHANNEL_PREPAY     | --channel-prepay     |
 * | `[alerts] webhook`    | TURNPIKE_ALERT_WEBHOOK      | --alert-webhook      |
 * | node_idle_timeout     | TURNPIKE_NODE_IDLE_TIMEOUT  | (none)               |
 * | max_jobs              | TURNPIKE_MAX_JOBS           | --max-jobs           |
 * | max_jobs_target       | TURNPIKE_MAX_JOBS_TARGET    | (none)               |
 * | deposit_share(_trusted) | TURNPIKE_DEPOSIT_SHARE(_TRUSTED) | (none)       |
 * | `[agents] protect`    | (none)                      | (none; `--protect` adds) |
 * | (none)                | (none)                      | --accept-price       |
 *
 * Without a channel named, `[channels] auto = true` (config/channel_policy.ts) uses the open
 * channel with the town, or opens one, and keeps it funded. A town asking more per byte than
 * `price_ceiling` is refused unless `--accept-price`.
 *
 * `max_jobs` bounds the jobs the profile's node follows at once (`n`, `auto` or `none`, the
 * default; docs/OPERATIONS.md "Running a requester"): past it a submit is refused `busy` before
 * anything is signed or paid. `auto` finds the bound from the done jobs' latency against
 * `max_jobs_target` seconds (default 2; roles/requester/adaptive_job_limit.ts). None by default:
 * a profile's jobs run from a tenth of a second (a no-op) to minutes (an agent task), and one
 * latency target cannot be right for both.
 *
 * `channel` names the payment channel whose claims pay the town (never picked implicitly).
 * `channel_prepay` (base units, default 0) lets each claim cover that much beyond the packets
 * sent so far, so a burst of paid writes needs one claim instead of one per packet; the town
 * holds up to that much more than it has delivered.
 *
 * @module
 */
import { resolveTownChannelSettings, type TownChannelSettings } from "./town_channel_settings.ts";
import { profileTowns, type TownEndpoint } from "./town_list.ts";
import { profilePlainRelays } from "./plain_relays.ts";
import { type LoadedSettings, type Network, roleSettingPicker } from "./settings.ts";
import { ConfigError } from "./config_error.ts";
import type { EnvReader } from "./state_dir.ts";
import {
  durationSetting,
  positiveIntegerSetting,
  pubkeySetting,
  stringListSetting,
  uint64Setting,
} from "./setting_codecs.ts";
import type { SpendPolicy } from "../protocol/spend_policy.ts";
import { type DepositShares, resolveDepositShares } from "./deposit_share_settings.ts";

/** Flags the requester commands take. */
export interface RequesterFlags {
  townPubkey?: string;
  townAddress?: string;
  skillsDir?: string;
  maxPerJob?: string;
  providerDailyCap?: string;
  dailyCap?: string;
  allowProvider?: string[];
  channel?: string;
  channelPrepay?: string;
  acceptPrice?: boolean;
  /** `--max-jobs <n|auto|none>`. */
  maxJobs?: string;
  alertWebhook?: string;
}

/** The requester's town and how it pays it: in the resolved config and the node's options alike. */
export interface RequesterTownSettings extends TownChannelSettings {
  /** Pay a town price above the ceiling (else the start fails). */
  acceptPrice?: boolean;
  stateDir: string;
  /** Town NIP-01 URL (`ws://host:port`). */
  relayUrl: string;
  /** BTP URL of the town or a connector in front of it. */
  btpUrl: string;
  btpToken: string;
  /** The town's pubkey; absent: learned from the town's NIP-11 `self`. */
  townPubkey?: string;
  townAddress?: string;
  pricePerByte?: bigint;
  /** Asset the requester pays in (invoices in another asset are refused). */
  asset?: string;
  /**
   * More towns of the profile (`[[towns]]`, config/town_list.ts): jobs are posted on each, their
   * feedback followed on each, payments leave by any whose connection is open.
   */
  moreTowns?: TownEndpoint[];
  /**
   * Plain relays (`[[relays]]`, config/plain_relays.ts): a public request is posted there too,
   * free, and its feedback and result followed there (docs/PROTOCOL.md "Plain relays").
   */
  plainRelays?: string[];
}

/** The requester's settings, typed (no identity). */
export interface RequesterSettings extends RequesterTownSettings {
  /** The network the profile is on (shown by every command that pays). */
  network: Network;
  priceCeiling: bigint;
  skillsDir: string;
  spendPolicy: SpendPolicy;
  /**
   * Seconds a background node (docs/ARCHITECTURE.md "The profile's node") waits with no job in
   * flight and no command connected before it stops. Default 300.
   */
  nodeIdleTimeoutS: number;
  /**
   * The paths an agent-task's agent may not change, as globs (`[agents] protect`; docs/PROTOCOL.md
   * "Protected paths"): every agent-task of the profile names them, `--protect` adds more.
   */
  agentProtect: string[];
  /** How much of a bid is paid before delivery, by trust (config/deposit_share_settings.ts). */
  depositShares: DepositShares;
  /**
   * Jobs the profile's node follows at once (`max_jobs`): a count, `auto` (found from the done
   * jobs' latency, roles/requester/adaptive_job_limit.ts), or undefined: no bound (the default).
   */
  maxJobs?: number | "auto";
  /**
   * With `maxJobs: "auto"`: the done jobs' median latency the bound aims at, ms
   * (`max_jobs_target`, seconds in the file; default 2,000).
   */
  maxJobsTargetMs?: number;
}

/** Options for {@linkcode resolveRequesterSettings}. */
export interface ResolveRequesterSettingsOptions {
  /** The shared settings and the file's tables (config/settings.ts `loadSettings`). */
  loaded: LoadedSettings;
  /** The requester commands' flags; they win over the environment and the file. */
  flags?: RequesterFlags;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
}

/**
 * Resolves the requester's settings from flags, environment, the `[requester]`, `[channels]`,
 * `[chains."<id>"]`, `[towns.<name>]` and `[alerts]` tables and the defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveRequesterSettings } from "./requester_settings.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_* variables
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * const settings = resolveRequesterSettings({
 *   loaded,
 *   flags: { townPubkey: "ab".repeat(32), maxPerJob: "5000" },
 *   env,
 * });
 * assert.equal(settings.spendPolicy.perJobMax, 5000n);
 * ```
 * @throws {ConfigError} naming the setting when a value is not of its kind.
 */
export function resolveRequesterSettings(
  options: ResolveRequesterSettingsOptions,
): RequesterSettings {
  const { loaded } = options;
  const flags = options.flags ?? {};
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const fromTable = roleSettingPicker(loaded, "requester", env);
  const pick = (flag: string | undefined, envName: string, key: string): string | undefined => {
    const v = fromTable(flag, envName, key);
    return v === undefined ? undefined : String(v);
  };
  const s = loaded.settings;
  const townPubkey = pick(flags.townPubkey, "TURNPIKE_TOWN_PUBKEY", "town_pubkey");
  const amount = (text: string | undefined, key: string, what: string) =>
    text === undefined ? undefined : uint64Setting(text, key, what);
  const allow = flags.allowProvider ??
    pick(undefined, "TURNPIKE_ALLOW_PROVIDERS", "allow_providers")
      ?.split(",").filter((p) => p.length > 0);
  const spendPolicy: SpendPolicy = {
    perJobMax: amount(
      pick(flags.maxPerJob, "TURNPIKE_MAX_PER_JOB", "max_per_job"),
      "spendPolicy.perJobMax",
      "max-per-job",
    ),
    perProviderDailyCap: amount(
      pick(flags.providerDailyCap, "TURNPIKE_PROVIDER_DAILY_CAP", "provider_daily_cap"),
      "spendPolicy.perProviderDailyCap",
      "provider-daily-cap",
    ),
    dailyCap: amount(
      pick(flags.dailyCap, "TURNPIKE_DAILY_CAP", "daily_cap"),
      "spendPolicy.dailyCap",
      "daily-cap",
    ),
    allowlist: allow?.map((p) => pubkeySetting(p, "spendPolicy.allowlist", "allowed provider")),
  };
  const channel = pick(flags.channel, "TURNPIKE_CHANNEL", "channel");
  if (channel !== undefined && !CHANNEL_ID.test(channel)) {
    throw new ConfigError(
      `channel ${JSON.stringify(channel)} is not a channel id (0x + 64 hex)`,
      { key: "channel" },
    );
  }
  // At least a second: a command asks `hello`, then connects again for its request.
  const nodeIdleTimeoutS = durationSetting(
    pick(undefined, "TURNPIKE_NODE_IDLE_TIMEOUT", "node_idle_timeout") ?? "300",
    "nodeIdleTimeoutS",
    "node_idle_timeout",
    undefined,
    { min: 1, max: 604_800 },
  ) / 1000;
  const protect = loaded.sections.agents?.protect;
  const maxJobs = pick(flags.maxJobs, "TURNPIKE_MAX_JOBS", "max_jobs")?.trim().toLowerCase();
  const maxJobsTarget = pick(undefined, "TURNPIKE_MAX_JOBS_TARGET", "max_jobs_target");
  return {
    stateDir: s.stateDir,
    network: s.network,
    nodeIdleTimeoutS,
    agentProtect: protect === undefined
      ? []
      : stringListSetting(protect, "agentProtect", "[agents] protect"),
    relayUrl: s.relayUrl,
    btpUrl: s.connectorBtpUrl,
    btpToken: s.btpToken ?? "",
    townPubkey: townPubkey === undefined
      ? undefined
      : pubkeySetting(townPubkey, "townPubkey", "town pubkey"),
    townAddress: pick(flags.townAddress, "TURNPIKE_TOWN_ADDRESS", "town_address"),
    pricePerByte: loaded.sources.pricePerByte.kind === "default" ? undefined : s.pricePerByte,
    priceCeiling: s.priceCeiling,
    skillsDir: pick(flags.skillsDir, "TURNPIKE_SKILLS_DIR", "skills_dir") ?? `${s.stateDir}/skills`,
    asset: pick(undefined, "TURNPIKE_ASSET", "asset"),
    spendPolicy,
    depositShares: resolveDepositShares(fromTable),
    ...(maxJobs === undefined || maxJobs === "none" ? {} : {
      maxJobs: maxJobs === "auto" ? "auto" : positiveIntegerSetting(maxJobs, "maxJobs", "max_jobs"),
    }),
    // Only `auto` has a target; seconds, at most 10 minutes (2000 is not 2 s).
    ...maxJobs === "auto" && maxJobsTarget !== undefined && {
      maxJobsTargetMs: durationSetting(
        maxJobsTarget,
        "maxJobsTargetMs",
        "max_jobs_target",
        undefined,
        { min: 0.05, max: 600 },
      ),
    },
    channel: channel?.toLowerCase(),
    channelPrepay: amount(
      pick(flags.channelPrepay, "TURNPIKE_CHANNEL_PREPAY", "channel_prepay"),
      "channelPrepay",
      "channel-prepay",
    ),
    acceptPrice: flags.acceptPrice === true,
    moreTowns: profileTowns(loaded, { allowInsecure: s.allowInsecure }),
    plainRelays: profilePlainRelays(loaded, { allowInsecure: s.allowInsecure }),
    ...resolveTownChannelSettings({ loaded, alertWebhook: flags.alertWebhook, env }),
  };
}

const CHANNEL_ID = /^0x[0-9a-fA-F]{64}$/;

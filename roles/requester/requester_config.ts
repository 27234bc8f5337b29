/**
 * The requester's configuration: the common settings (`config/settings.ts`: relay URL,
 * connector BTP URL, BTP token, price per byte, price ceiling) plus its own keys, from flags > environment
 * > the `[requester]` table of `config.toml`:
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
 * | (none)                | (none)                      | --accept-price       |
 *
 * Without a channel named, `[channels] auto = true` (config/channel_policy.ts) uses the open
 * channel with the town, or opens one, and keeps it funded. A town asking more per byte than
 * `price_ceiling` is refused unless `--accept-price`.
 *
 * `channel` names the payment channel whose claims pay the town (never picked implicitly).
 * `channel_prepay` (base units, default 0) lets each claim cover that much beyond the packets
 * sent so far, so a burst of paid writes needs one claim instead of one per packet; the town
 * holds up to that much more than it has delivered.
 *
 * @module
 */
import type { TownChannelSettings } from "../channels/town_channel_settings.ts";
import { resolveTownList, type TownEndpoint } from "../../config/town_list.ts";
import { type LoadedSettings, type Network, roleSettingPicker } from "../../config/settings.ts";
import type { SpendPolicy } from "../../protocol/spend_policy.ts";
import { checkPubkey, parseAmount } from "./job_spec.ts";
import { isChannelId } from "../channels/channel_sender.ts";
import { watchIntervalMs } from "../channels/channel_watcher.ts";
import { resolveChannelPolicy } from "../../config/channel_policy.ts";
import { resolveAlertWebhook } from "../../config/alert_webhook.ts";

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
}

/** Resolved requester configuration (no identity). */
export interface RequesterConfig extends RequesterTownSettings {
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
}

/** The configuration is incomplete or invalid. */
export class RequesterConfigError extends Error {
  override name = "RequesterConfigError";
}

/** Reads an environment variable. */
export type EnvReader = (name: string) => string | undefined;

/**
 * Resolves the configuration.
 *
 * @example
 * ```ts
 * import { loadSettings } from "../../config/settings.ts";
 *
 * const config = resolveRequesterConfig(await loadSettings(), { townPubkey: "ab".repeat(32) });
 * ```
 * @throws {RequesterConfigError} when a value is bad.
 */
export function resolveRequesterConfig(
  loaded: LoadedSettings,
  flags: RequesterFlags,
  env: EnvReader = (name) => Deno.env.get(name),
): RequesterConfig {
  const fromTable = roleSettingPicker(loaded, "requester", env);
  const pick = (flag: string | undefined, envName: string, key: string): string | undefined => {
    const v = fromTable(flag, envName, key);
    return v === undefined ? undefined : String(v);
  };
  const s = loaded.settings;
  const townPubkey = pick(flags.townPubkey, "TURNPIKE_TOWN_PUBKEY", "town_pubkey");
  const amount = (text: string | undefined, what: string) =>
    text === undefined ? undefined : wrap(() => parseAmount(text, what));
  const allow = flags.allowProvider ??
    pick(undefined, "TURNPIKE_ALLOW_PROVIDERS", "allow_providers")
      ?.split(",").filter((p) => p.length > 0);
  const spendPolicy: SpendPolicy = {
    perJobMax: amount(pick(flags.maxPerJob, "TURNPIKE_MAX_PER_JOB", "max_per_job"), "max-per-job"),
    perProviderDailyCap: amount(
      pick(flags.providerDailyCap, "TURNPIKE_PROVIDER_DAILY_CAP", "provider_daily_cap"),
      "provider-daily-cap",
    ),
    dailyCap: amount(pick(flags.dailyCap, "TURNPIKE_DAILY_CAP", "daily_cap"), "daily-cap"),
    allowlist: allow?.map((p) => wrap(() => checkPubkey(p))),
  };
  const channel = pick(flags.channel, "TURNPIKE_CHANNEL", "channel");
  if (channel !== undefined && !isChannelId(channel)) {
    throw new RequesterConfigError(
      `channel ${JSON.stringify(channel)} is not a channel id (0x + 64 hex)`,
    );
  }
  const idle = pick(undefined, "TURNPIKE_NODE_IDLE_TIMEOUT", "node_idle_timeout") ?? "300";
  const nodeIdleTimeoutS = Number(idle);
  // At least a second: a command asks `hello`, then connects again for its request.
  if (!Number.isFinite(nodeIdleTimeoutS) || nodeIdleTimeoutS < 1 || nodeIdleTimeoutS > 604_800) {
    throw new RequesterConfigError(
      `node_idle_timeout ${JSON.stringify(idle)} is not 1-604800 seconds`,
    );
  }
  return {
    stateDir: s.stateDir,
    network: s.network,
    nodeIdleTimeoutS,
    relayUrl: s.relayUrl,
    btpUrl: s.connectorBtpUrl,
    btpToken: s.btpToken ?? "",
    townPubkey: townPubkey === undefined ? undefined : wrap(() => checkPubkey(townPubkey)),
    townAddress: pick(flags.townAddress, "TURNPIKE_TOWN_ADDRESS", "town_address"),
    pricePerByte: loaded.sources.pricePerByte.kind === "default" ? undefined : s.pricePerByte,
    priceCeiling: s.priceCeiling,
    skillsDir: pick(flags.skillsDir, "TURNPIKE_SKILLS_DIR", "skills_dir") ?? `${s.stateDir}/skills`,
    asset: pick(undefined, "TURNPIKE_ASSET", "asset"),
    spendPolicy,
    channel: channel?.toLowerCase(),
    channelPrepay: amount(
      pick(flags.channelPrepay, "TURNPIKE_CHANNEL_PREPAY", "channel_prepay"),
      "channel-prepay",
    ),
    chains: loaded.sections.chains,
    channelWatchIntervalMs: watchIntervalMs(loaded.sections.channels),
    channelPolicy: wrap(() =>
      resolveChannelPolicy({
        table: loaded.sections.channels,
        env,
        configFile: loaded.configFile,
      })
    ),
    channels: loaded.sections.channels,
    acceptPrice: flags.acceptPrice === true,
    moreTowns: wrap(() =>
      resolveTownList(loaded.sections.towns, { allowInsecure: s.allowInsecure })
    ),
    alertWebhook: wrap(() => resolveAlertWebhook({ loaded, flag: flags.alertWebhook, env })),
  };
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new RequesterConfigError((err as Error).message);
  }
}

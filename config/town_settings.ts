/**
 * The town's settings, resolved and typed in one place: the shared settings (host, ports, state
 * dir, price per byte; config/settings.ts) plus the town's own, with the same precedence: flags >
 * environment > the `[town]` table of `<state dir>/config.toml` > defaults
 * ({@linkcode roleSettingPicker}). A bad value is a {@linkcode ConfigError} naming the setting;
 * the town role (roles/town/town_node.ts) takes the typed {@linkcode TownSettings} only.
 *
 * | setting            | flag                      | environment                         | `[town]` key            | default |
 * | ------------------ | ------------------------- | ----------------------------------- | ----------------------- | ------- |
 * | ILP address        | `--ilp-address`           | `TURNPIKE_TOWN_ILP_ADDRESS`         | `ilp_address`           | `test.turnpike.town` (`g.turnpike.town` on mainnet); learnt by IL-DCP with a parent |
 * | parent connector   | `--parent <btp url>`      | `TURNPIKE_TOWN_PARENT`              | `parent`                | none    |
 * | parent token       | `--parent-token`          | `TURNPIKE_TOWN_PARENT_TOKEN`        | `parent_token`          | from the URL |
 * | peers              | `--peer account:token[:max]` (repeat) | -                       | `[[town.peers]]` `account`, `token`, `max_packet_amount` | none |
 * | peer's channel     | `--peer-channel account:0x<channel id>[:credit]` (repeat) | -   | `[[town.peers]]` `channel`, `credit_limit` | none (no claims asked) |
 * | dev: any token     | `--dev-accept-any-token`  | `TURNPIKE_TOWN_DEV_ACCEPT_ANY_TOKEN`| `dev_accept_any_token`  | false   |
 * | event size limit   | `--max-event-bytes`       | -                                   | `max_event_bytes`       | 1 MiB   |
 * | max packet amount  | `--max-packet-amount`     | -                                   | `max_packet_amount`     | none    |
 * | owner (free)       | `--owner <hex pubkey>`    | `TURNPIKE_TOWN_OWNER`               | `owner_pubkey`          | none    |
 * | per-kind prices    | -                         | -                                   | `kind_prices = { "5100" = 20 }` | none |
 * | asset              | -                         | -                                   | `asset_code`, `asset_scale` | the settlement token (M2M, 6); from IL-DCP with a parent |
 * | certificate (TLS)  | `--tls-cert`, `--tls-key` | `TURNPIKE_TOWN_TLS_CERT`, `_KEY`    | `tls_cert`, `tls_key`   | none: plain ws/http/btp+ws (config/town_tls.ts) |
 * | trusted proxies    | `--trusted-proxy <ip>`    | `TURNPIKE_TOWN_TRUSTED_PROXIES`     | `trusted_proxies`       | none (config/town_proxies.ts) |
 * | private kinds      | `--private-kinds <k,k>`   | `TURNPIKE_TOWN_PRIVATE_KINDS`       | `private_kinds = [4]`   | none: gift wraps (1059) only, which are always private |
 * | public BTP URL     | `--public-btp-url`        | `TURNPIKE_TOWN_PUBLIC_BTP_URL`      | `public_btp_url`        | the listening URL |
 * | public relay URLs  | `--public-relay-url <u,u>`| `TURNPIKE_TOWN_PUBLIC_RELAY_URL`    | `public_relay_url = ["wss://..."]` | the listening URLs (roles/town/relay/relay_urls.ts) |
 * | blob price         | `--blob-price-per-mib`    | `TURNPIKE_TOWN_BLOB_PRICE_PER_MIB`  | `blob_price_per_mib`    | 200 base units per MiB |
 * | blob size limit    | `--max-blob-bytes`        | `TURNPIKE_TOWN_MAX_BLOB_BYTES`      | `max_blob_bytes`        | 256 MiB |
 * | blob quota         | `--blob-quota-bytes`      | `TURNPIKE_TOWN_BLOB_QUOTA_BYTES`    | `blob_quota_bytes`      | 1 GiB per pubkey |
 * | blob retention     | `--blob-retention-days`   | `TURNPIKE_TOWN_BLOB_RETENTION_DAYS` | `blob_retention_days`   | 7       |
 * | limits (town_limits.ts) | -                    | `TURNPIKE_TOWN_LIMIT_<NAME>`        | `[town.limits]` `<name>` | `DEFAULT_TOWN_LIMITS` |
 * | payouts            | -                         | -                                   | `[town.payouts]` `threshold`, `interval_seconds`, `max_owed`, `deposit` | threshold 1 M2M (10^6 base units), interval 1 h, max owed 10 M2M per peer, deposit = max owed |
 * | peers' payout addresses | -                    | -                                   | `[town.payouts.addresses]` `<account> = "0x..."` | none (no peer is paid on chain) |
 * | credit without a channel | -                   | `TURNPIKE_TOWN_PEER_CREDIT_LIMIT`   | `peer_credit_limit` (per peer: `[[town.peers]]` `credit_limit`) | 0 on a town that settles on a chain or pays out; none otherwise |
 * | publish its trust  | -                         | `TURNPIKE_TOWN_PUBLISH_TRUST`(`_INTERVAL`) | `publish_trust`, `publish_trust_interval` (per peer: `[[town.peers]]` `pubkey`) | off; every 600 s |
 * | event store        | `--store postgres://...`  | `TURNPIKE_STORE_URL`                | `[store]` `url`         | SQLite in the state dir |
 * | processes sharing it | `--store-processes <n>` | `TURNPIKE_STORE_PROCESSES`          | `[store]` `processes`   | 1 (town-wide limits divided by it, roles/town/town_share.ts) |
 *
 * The chains the town settles on are `[channels] chains` (+ `[chains."<id>"]`; config/town_settlement.ts),
 * announced in its kind 10032 at start (roles/town/town_peer_info.ts).
 *
 * A peer with a channel (config/town_peers.ts) settles over it (docs/PROTOCOL.md): its packets must be covered by its claims
 * (roles/town/channels/town_channel_gates.ts); `credit_limit` (base units, default 0) is what it may
 * forward beyond them. `--peer-channel` flags replace the TOML `channel`/`credit_limit` keys.
 *
 * @module
 */
import {
  type LoadedSettings,
  type Network,
  type RoleSettingPicker,
  roleSettingPicker,
} from "./settings.ts";
import { townAsset } from "./town_asset.ts";
import { ConfigError } from "./config_error.ts";
import type { EnvReader } from "./state_dir.ts";
import {
  booleanSetting,
  kindListSetting,
  positiveIntegerSetting,
  settingOr,
  uint64Setting,
  urlSetting,
} from "./setting_codecs.ts";
import { isAccountName, resolveTownPeers, type TownPeerChannel } from "./town_peers.ts";
import type { BtpPeerAccountConfig } from "./town_peers.ts";
import { resolveTownSettlement, type TownSettlement } from "./town_settlement.ts";
import { DEFAULT_TOWN_LIMITS, townLimitKey, type TownLimits } from "./town_limits.ts";
import { blobPeer, blobsDir, storeUrl } from "./town_store_settings.ts";
import { resolveTownTls, type TownTls } from "./town_tls.ts";
import { type TownCreditLine, townCreditLine } from "./town_credit_line.ts";
import { type TownTrustPublish, townTrustPublish } from "./town_trust_publish.ts";
import { resolveTrustedProxies } from "./town_proxies.ts";
import { isValidIlpAddress } from "../protocol/ilp_packet.ts";
import type { RelayPricing } from "../protocol/relay_pricing.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../protocol/blob_pricing.ts";
import {
  DEFAULT_BLOB_QUOTA_BYTES,
  DEFAULT_BLOB_RETENTION_MS,
  DEFAULT_MAX_BLOB_BYTES,
} from "../state/blobs/blob_store.ts";

/** The town's event size limit: 1 MiB of TOON (an ILP packet carries at most 32767 anyway). */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/** Town flags as commander hands them. */
export interface TownFlags {
  ilpAddress?: string;
  parent?: string;
  parentToken?: string;
  peer?: string[];
  peerChannel?: string[];
  devAcceptAnyToken?: boolean;
  maxEventBytes?: string;
  maxPacketAmount?: string;
  owner?: string;
  publicBtpUrl?: string;
  /** The relay URLs clients reach the town at (NIP-42's `relay` tag): `wss://a,wss://b`. */
  publicRelayUrl?: string;
  blobPricePerMib?: string;
  maxBlobBytes?: string;
  blobQuotaBytes?: string;
  blobRetentionDays?: string;
  /** `postgres://user@host:port/db`: the store several town processes share. */
  store?: string;
  /** How many processes share the store (town-wide limits are divided by it). */
  storeProcesses?: string;
  /** The blob directory the processes of a town on one host share (`[store] blobs_dir`). */
  storeBlobsDir?: string;
  /** The address of this process's private listener (`[store] blob_peer_host`). */
  storeBlobPeerHost?: string;
  tlsCert?: string;
  tlsKey?: string;
  trustedProxy?: string[];
  /** Kinds served only to their recipients after NIP-42 AUTH, besides gift wraps: `4,30078`. */
  privateKinds?: string;
}

/** The town's settings, typed. */
export interface TownSettings {
  host: string;
  httpPort: number;
  btpPort: number;
  /** The certificate the ports serve TLS with (config/town_tls.ts); absent: plain. */
  tls?: TownTls;
  /** Proxies whose PROXY header names the client (config/town_proxies.ts); absent: none. */
  trustedProxies?: string[];
  /**
   * Kinds the operator lists as private (docs/PROTOCOL.md "Private events: NIP-42 AUTH"), served
   * only to a connection authenticated as their recipient, besides gift wraps (1059, always
   * private); absent or empty: gift wraps only.
   */
  privateKinds?: number[];
  /**
   * The URLs clients reach the town's relay at, which a NIP-42 answer's `relay` tag must name
   * (docs/PROTOCOL.md "Private events: NIP-42 AUTH"); absent or empty: the URLs it listens on.
   */
  publicRelayUrls?: string[];
  stateDir: string;
  network: Network;
  /** The address used without a parent (a parent's IL-DCP answer replaces it). */
  ilpAddress: string;
  parent?: { url: string; token?: string };
  peers: BtpPeerAccountConfig[];
  /** Peers that settle over a payment channel (optional: nodes built in code may omit it). */
  peerChannels?: TownPeerChannel[];
  acceptAnyToken: boolean;
  pricing: RelayPricing;
  maxEventBytes: number;
  maxPacketAmount?: bigint;
  assetCode: string;
  assetScale: number;
  /** The asset is the settlement token's, read from its contract at start (config/town_asset.ts). */
  assetFromToken?: boolean;
  /** What the town announces in its kind 10032 at start; absent: no announcement. */
  settlement?: TownSettlement;
  /** The blob store's prices and limits; absent: the defaults. */
  blobs?: TownBlobConfig;
  /** Overrides of the town's limits (config/town_limits.ts); absent: the defaults. */
  limits?: Partial<TownLimits>;
  /** A shared PostgreSQL store (`postgres://...`); absent: SQLite in the state dir. */
  storeUrl?: string;
  /** Processes sharing that store (default 1): each enforces its share of town-wide limits. */
  storeProcesses?: number;
  /**
   * With `storeUrl`: the blob directory the town's processes on one host share (its files and
   * index, state/blobs/blob_store.ts); absent: a town on a shared store takes no blobs.
   */
  storeBlobsDir?: string;
  /**
   * With `storeUrl`: this process's private listener (roles/town/blobs/blob_peer_listener.ts:
   * blob fetches without `storeBlobsDir`, packets the other processes forward to its BTP peers):
   * the address it binds (default 127.0.0.1: processes on one host), its port (default 0: a
   * free one) and the URL the other processes use (default `http://host:port`).
   */
  storeBlobPeer?: { host: string; port: number; url?: string };
  /** When the town pays what it owes its peers (roles/town/channels/peer_payout.ts); absent: defaults. */
  payouts?: TownPayoutPolicy;
  /**
   * What a peer without a payment channel may spend on the town's credit, unless its
   * `[[town.peers]]` table says (roles/town/btp/peer_credit_gate.ts); absent: no limit.
   */
  peerCreditLimit?: bigint;
  /** How a peer's line grows from that limit with its history (config/town_credit_line.ts). */
  peerCreditLine?: TownCreditLine;
  /** The town publishes its peers' ranks as NIP-85 assertions (config/town_trust_publish.ts). */
  trustPublish?: TownTrustPublish;
}

/**
 * When the town pays the peers it forwards payments to (docs/OPERATIONS.md "Paying providers"):
 * a claim once what it owes a peer beyond its last claim reaches `threshold`, or every
 * `intervalMs` while it owes anything; no forwarding beyond `maxOwed` unclaimed.
 */
export interface TownPayoutPolicy {
  /** Base units owed beyond the last claim that trigger a claim. */
  threshold: bigint;
  /** Longest a debt waits for a claim, ms. */
  intervalMs: number;
  /** Most the town owes one peer beyond its claims (in flight included); more is refused T04. */
  maxOwed: bigint;
  /** The town's deposit in a new payout channel. Default `maxOwed`. */
  deposit?: bigint;
  /** Where each peer is paid on chain (`[town.payouts.addresses]`), by account. */
  addresses?: Record<string, `0x${string}`>;
}

/** The payout policy's defaults: 1 M2M, one hour, 10 M2M (6 decimals). */
export const DEFAULT_TOWN_PAYOUTS: TownPayoutPolicy = {
  threshold: 1_000_000n,
  intervalMs: 3_600_000,
  maxOwed: 10_000_000n,
};

/** Prices and limits of the town's blob store (docs/PROTOCOL.md "Blobs"). */
export interface TownBlobConfig {
  /** Base units per MiB stored. */
  pricePerMiB: bigint;
  maxBlobBytes: number;
  /** Bytes one pubkey may own. */
  quotaBytes: number;
  retentionMs: number;
}

function townError(message: string, key: string): ConfigError {
  return new ConfigError(message, { key });
}

function townPayouts(value: unknown): TownPayoutPolicy {
  if (value === undefined) return DEFAULT_TOWN_PAYOUTS;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw townError("town.payouts must be a table", "payouts");
  }
  const t = value as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!["threshold", "interval_seconds", "max_owed", "deposit", "addresses"].includes(key)) {
      throw townError(`unknown key town.payouts.${key}`, "payouts");
    }
  }
  const payouts = {
    threshold: settingOr(
      t.threshold,
      DEFAULT_TOWN_PAYOUTS.threshold,
      uint64Setting,
      "town.payouts.threshold",
    ),
    intervalMs: t.interval_seconds === undefined
      ? DEFAULT_TOWN_PAYOUTS.intervalMs
      : positiveIntegerSetting(t.interval_seconds, "town.payouts.interval_seconds") * 1000,
    maxOwed: settingOr(
      t.max_owed,
      DEFAULT_TOWN_PAYOUTS.maxOwed,
      uint64Setting,
      "town.payouts.max_owed",
    ),
    ...(t.deposit === undefined
      ? {}
      : { deposit: uint64Setting(t.deposit, "town.payouts.deposit") }),
    addresses: payoutAddresses(t.addresses),
  };
  if (payouts.maxOwed < payouts.threshold) {
    throw townError(
      `town.payouts.max_owed ${payouts.maxOwed} is below the threshold ${payouts.threshold}`,
      "payouts",
    );
  }
  return payouts;
}

function payoutAddresses(value: unknown): Record<string, `0x${string}`> {
  const out: Record<string, `0x${string}`> = {};
  if (value === undefined) return out;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw townError('town.payouts.addresses must be a table of account = "0x..."', "payouts");
  }
  for (const [account, address] of Object.entries(value)) {
    if (!isAccountName(account)) {
      throw townError(`town.payouts.addresses: "${account}" is not an account name`, "payouts");
    }
    if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
      throw townError(`town.payouts.addresses.${account} must be a 0x EVM address`, "payouts");
    }
    out[account] = address.toLowerCase() as `0x${string}`;
  }
  return out;
}

function kindPrices(value: unknown): Record<number, bigint> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) {
    throw townError("town.kind_prices must be a table of kind = price per byte", "kindPrices");
  }
  const out: Record<number, bigint> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!/^\d{1,5}$/.test(k) || Number(k) > 65535) {
      throw townError(`bad kind "${k}" in town.kind_prices`, "kindPrices");
    }
    out[Number(k)] = uint64Setting(v, `town.kind_prices.${k}`);
  }
  return out;
}

function checkParentUrl(url: string, allowInsecure: boolean): void {
  urlSetting(url, "parent", "parent", undefined, {
    schemes: ["btp+ws:", "btp+wss:"],
    allowInsecure,
  });
}

const processEnv: EnvReader = (name) => Deno.env.get(name);

/** Options for {@linkcode resolveTownSettings}. */
export interface ResolveTownSettingsOptions {
  /** The shared settings and the file's tables (config/settings.ts `loadSettings`). */
  loaded: LoadedSettings;
  /** `town up`'s flags; they win over the environment and the file. */
  flags?: TownFlags;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
  /**
   * The environment's variable names, so a misspelled `TURNPIKE_TOWN_LIMIT_*` is refused like a
   * misspelled `[town.limits]` key. Default: the process's own when `env` is, else none.
   */
  envNames?: readonly string[];
}

/**
 * Resolves the town's settings from flags, environment, the `[town]`, `[store]`, `[channels]`
 * and `[chains."<id>"]` tables and the defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTownSettings } from "./town_settings.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_* variables
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * const settings = resolveTownSettings({
 *   loaded,
 *   flags: { peer: ["alice:s3cret"], maxEventBytes: "65536" },
 *   env,
 * });
 * assert.deepEqual([settings.peers[0].account, settings.maxEventBytes], ["alice", 65536]);
 * ```
 * @throws {ConfigError} naming the setting when a value is not of its kind.
 */
export function resolveTownSettings(options: ResolveTownSettingsOptions): TownSettings {
  const { loaded } = options;
  const flags = options.flags ?? {};
  const env = options.env ?? processEnv;
  const envNames = options.envNames ??
    (env === processEnv ? Object.keys(Deno.env.toObject()) : []);
  const s = loaded.settings;
  const toml = loaded.sections.town ?? {};
  const store = loaded.sections.store ?? {};
  const pick = roleSettingPicker(loaded, "town", env);
  const ilpAddress = String(
    pick(flags.ilpAddress, "TURNPIKE_TOWN_ILP_ADDRESS", "ilp_address") ??
      (s.network === "mainnet" ? "g.turnpike.town" : "test.turnpike.town"),
  );
  if (!isValidIlpAddress(ilpAddress)) {
    throw townError(`invalid ILP address "${ilpAddress}"`, "ilpAddress");
  }
  const parentUrl = pick(flags.parent, "TURNPIKE_TOWN_PARENT", "parent");
  let parent: TownSettings["parent"];
  if (parentUrl !== undefined) {
    if (typeof parentUrl !== "string") throw townError("parent must be a BTP URL", "parent");
    checkParentUrl(parentUrl, s.allowInsecure);
    const token = pick(flags.parentToken, "TURNPIKE_TOWN_PARENT_TOKEN", "parent_token");
    parent = token === undefined ? { url: parentUrl } : { url: parentUrl, token: String(token) };
  }
  const acceptAnyToken = booleanSetting(
    pick(flags.devAcceptAnyToken, "TURNPIKE_TOWN_DEV_ACCEPT_ANY_TOKEN", "dev_accept_any_token") ??
      false,
    "acceptAnyToken",
    "dev_accept_any_token",
  );
  const { peers, peerChannels } = resolveTownPeers({
    peerFlags: flags.peer,
    peerChannelFlags: flags.peerChannel,
    table: toml.peers,
    acceptAnyToken,
  });
  const sharedStore = storeUrl(flags.store ?? env("TURNPIKE_STORE_URL") ?? store.url);
  const owner = pick(flags.owner, "TURNPIKE_TOWN_OWNER", "owner_pubkey");
  if (owner !== undefined && (typeof owner !== "string" || !/^[0-9a-f]{64}$/.test(owner))) {
    throw townError(`owner must be a 64-digit lowercase hex pubkey`, "ownerPubkey");
  }
  const maxPacket = pick(flags.maxPacketAmount, undefined, "max_packet_amount");
  const maxEvent = pick(flags.maxEventBytes, undefined, "max_event_bytes");
  const settlement = resolveTownSettlement({
    sections: loaded.sections,
    publicBtpUrl: pick(flags.publicBtpUrl, "TURNPIKE_TOWN_PUBLIC_BTP_URL", "public_btp_url"),
  });
  const { assetCode, assetScale, assetFromToken } = townAsset(toml);
  const payouts = townPayouts(toml.payouts);
  return {
    host: s.host,
    httpPort: s.townPort,
    btpPort: s.btpPort,
    tls: resolveTownTls(pick, flags),
    trustedProxies: resolveTrustedProxies(pick, flags.trustedProxy, !!resolveTownTls(pick, flags)),
    privateKinds: settingOr(
      pick(flags.privateKinds, "TURNPIKE_TOWN_PRIVATE_KINDS", "private_kinds"),
      [],
      kindListSetting,
      "privateKinds",
      "private_kinds",
    ),
    publicRelayUrls: settingOr(
      pick(flags.publicRelayUrl, "TURNPIKE_TOWN_PUBLIC_RELAY_URL", "public_relay_url"),
      [],
      relayUrlList,
      "publicRelayUrls",
      "public_relay_url",
    ),
    stateDir: s.stateDir,
    network: s.network,
    ilpAddress,
    parent,
    peers,
    peerChannels,
    acceptAnyToken,
    pricing: {
      pricePerByte: s.pricePerByte,
      kindPricePerByte: kindPrices(toml.kind_prices),
      ownerPubkey: owner as string | undefined,
    },
    maxEventBytes: settingOr(
      maxEvent,
      DEFAULT_MAX_EVENT_BYTES,
      positiveIntegerSetting,
      "maxEventBytes",
      "max event bytes",
    ),
    maxPacketAmount: settingOr(
      maxPacket,
      undefined,
      uint64Setting,
      "maxPacketAmount",
      "max packet amount",
    ),
    assetCode,
    assetScale,
    assetFromToken,
    settlement,
    blobs: townBlobs(pick, flags),
    limits: townLimits(toml.limits, env, envNames),
    storeUrl: sharedStore,
    payouts,
    peerCreditLimit: peerCreditLimit(
      pick(undefined, "TURNPIKE_TOWN_PEER_CREDIT_LIMIT", "peer_credit_limit"),
      (settlement?.chains.length ?? 0) > 0 || peerChannels.length > 0 ||
        Object.keys(payouts?.addresses ?? {}).length > 0,
    ),
    peerCreditLine: townCreditLine(pick),
    trustPublish: townTrustPublish(pick, townCreditLine(pick)),
    storeProcesses: sharedStore === undefined ? undefined : positiveIntegerSetting(
      flags.storeProcesses ?? env("TURNPIKE_STORE_PROCESSES") ?? store.processes ?? 1,
      "storeProcesses",
      "store processes",
    ),
    storeBlobsDir: sharedStore === undefined
      ? undefined
      : blobsDir(flags.storeBlobsDir ?? env("TURNPIKE_STORE_BLOBS_DIR") ?? store.blobs_dir),
    storeBlobPeer: sharedStore === undefined ? undefined : blobPeer(
      flags.storeBlobPeerHost ?? env("TURNPIKE_STORE_BLOB_PEER_HOST") ?? store.blob_peer_host,
      env("TURNPIKE_STORE_BLOB_PEER_PORT") ?? store.blob_peer_port,
      env("TURNPIKE_STORE_BLOB_PEER_URL") ?? store.blob_peer_url,
    ),
  };
}

/**
 * `public_relay_url`: one `ws://`/`wss://` URL, several comma-separated, or a TOML list. A plain
 * `ws://` URL to any host is taken: it describes how clients reach the town, it is not dialled.
 */
function relayUrlList(value: unknown, key: string, label: string = key): string[] {
  const items = typeof value === "string"
    ? value.split(",").map((u) => u.trim()).filter((u) => u !== "")
    : Array.isArray(value)
    ? value
    : undefined;
  if (items === undefined) throw townError(`${label} must be a URL or a list of URLs`, key);
  const rule = { schemes: ["ws:", "wss:"], allowInsecure: true };
  return items.map((item) => urlSetting(item, key, label, undefined, rule));
}

/**
 * `[town] peer_credit_limit` or `TURNPIKE_TOWN_PEER_CREDIT_LIMIT`: base units, or "none" for no
 * limit. Default: 0 on a town that settles on a chain or pays its peers on chain (a packet with
 * value needs a claim: the town never forwards or pays out value nobody owes it), none on a
 * town that moves no money.
 */
function peerCreditLimit(value: unknown, settlesOnChain: boolean): bigint | undefined {
  if (value === "none") return undefined;
  if (value === undefined || value === "") return settlesOnChain ? 0n : undefined;
  return uint64Setting(value, "peerCreditLimit", "town peer_credit_limit");
}

/** `[town.limits]` keys and `TURNPIKE_TOWN_LIMIT_*` variables (the variable wins). */
function townLimits(
  table: unknown,
  env: EnvReader,
  envNames: readonly string[],
): Partial<TownLimits> {
  if (table !== undefined && (typeof table !== "object" || table === null)) {
    throw townError("[town.limits] must be a table", "limits");
  }
  const fromToml = (table ?? {}) as Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_TOWN_LIMITS).map(townLimitKey));
  for (const key of Object.keys(fromToml)) {
    if (!known.has(key)) throw townError(`unknown limit town.limits.${key}`, "limits");
  }
  const prefix = "TURNPIKE_TOWN_LIMIT_";
  for (const name of envNames) {
    if (name.startsWith(prefix) && !known.has(name.slice(prefix.length).toLowerCase())) {
      throw townError(
        `unknown limit variable ${name} (known: ${
          [...known].map((k) => prefix + k.toUpperCase()).join(", ")
        })`,
        "limits",
      );
    }
  }
  const out: Partial<Record<keyof TownLimits, number>> = {};
  for (const name of Object.keys(DEFAULT_TOWN_LIMITS) as (keyof TownLimits)[]) {
    const key = townLimitKey(name);
    const fromEnv = env(`TURNPIKE_TOWN_LIMIT_${key.toUpperCase()}`);
    const value = fromEnv !== undefined && fromEnv !== "" ? fromEnv : fromToml[key];
    if (value === undefined) continue;
    const n = typeof value === "string" ? Number(value) : value;
    if (typeof n !== "number" || !(n > 0) || !Number.isFinite(n)) {
      throw townError(`limit ${key} must be a positive number, got ${String(value)}`, "limits");
    }
    out[name] = n;
  }
  return out;
}

function townBlobs(
  pick: RoleSettingPicker,
  flags: TownFlags,
): TownBlobConfig {
  const price = pick(
    flags.blobPricePerMib,
    "TURNPIKE_TOWN_BLOB_PRICE_PER_MIB",
    "blob_price_per_mib",
  );
  const max = pick(flags.maxBlobBytes, "TURNPIKE_TOWN_MAX_BLOB_BYTES", "max_blob_bytes");
  const quota = pick(flags.blobQuotaBytes, "TURNPIKE_TOWN_BLOB_QUOTA_BYTES", "blob_quota_bytes");
  const days = pick(
    flags.blobRetentionDays,
    "TURNPIKE_TOWN_BLOB_RETENTION_DAYS",
    "blob_retention_days",
  );
  return {
    pricePerMiB: settingOr(
      price,
      DEFAULT_BLOB_PRICE_PER_MIB,
      uint64Setting,
      "blobs.pricePerMiB",
      "blob price",
    ),
    maxBlobBytes: settingOr(
      max,
      DEFAULT_MAX_BLOB_BYTES,
      positiveIntegerSetting,
      "blobs.maxBlobBytes",
      "max blob bytes",
    ),
    quotaBytes: settingOr(
      quota,
      DEFAULT_BLOB_QUOTA_BYTES,
      positiveIntegerSetting,
      "blobs.quotaBytes",
      "blob quota bytes",
    ),
    retentionMs: days === undefined
      ? DEFAULT_BLOB_RETENTION_MS
      : positiveIntegerSetting(days, "blobs.retentionMs", "blob retention days") * 24 * 3600 * 1000,
  };
}

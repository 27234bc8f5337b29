/**
 * The town's own settlement announcement: a kind 10032 (protocol/peer_info.ts) signed by the
 * town's key and stored in its own event store at start, so a requester or provider that knows
 * only the town's relay URL can learn which chains it settles on, its settlement address and
 * contracts (`turnpike channel open` without `--peer`, roles/channels/channel_peer_resolver.ts).
 *
 * What it announces, from config.toml (the same sections `turnpike channel open` reads):
 *
 * ```toml
 * [town]
 * public_btp_url = "btp+wss://town.example:3000"   # default: the listening BTP URL
 * [channels]
 * chains = ["evm:base:84532", "evm:base:31337"]    # default: none (announced as an empty list)
 * [chains."evm:base:84532"]
 * token_network = "0x..."                           # -> tokenNetworks
 * token = "0x..."                                   # -> preferredTokens (84532: M2M by default)
 * ```
 *
 * The settlement address of every chain is the town key's EVM address. The event goes straight
 * into the store: it is the town's own event, so no payment is asked; 10032 is replaceable, so
 * a restart replaces the older version (or keeps it when nothing changed).
 *
 * @module
 */
import type { EventStore } from "../../state/event_store.ts";
import { asTownStore, type TownStore } from "../../state/town_store.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  buildPeerInfo,
  MAX_SUPPORTED_CHAINS,
  PEER_INFO_KIND,
  type PeerInfo,
} from "../../protocol/peer_info.ts";
import { BASE_SEPOLIA_CHAIN, BASE_SEPOLIA_M2M_TOKEN } from "../../chain/chain_config.ts";

/** One chain the town settles on, with the contracts it uses there. */
export interface TownSettlementChain {
  /** `evm:base:<chain id>`. */
  chain: string;
  tokenNetwork?: `0x${string}`;
  token?: `0x${string}`;
}

/** What the town announces about settlement. */
export interface TownSettlement {
  /** In order of preference; empty: the town settles on no chain. */
  chains: TownSettlementChain[];
  /** The BTP URL peers should dial; absent: the listening URL. */
  publicBtpUrl?: string;
}

/** The settlement config cannot be announced. */
export class TownSettlementError extends Error {
  override name = "TownSettlementError";
}

const CHAIN = /^[a-z][a-z0-9]*:[a-z0-9-]+:[0-9]+$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BTP_SCHEMES = ["btp+ws:", "btp+wss:", "ws:", "wss:"];

/** Options for {@linkcode resolveTownSettlement}. */
export interface ResolveTownSettlementOptions {
  /** The config.toml tables (`channels`, `chains`, ...). */
  sections: Record<string, Record<string, unknown>>;
  /** `--public-btp-url` / `town.public_btp_url` / env, already picked by precedence. */
  publicBtpUrl?: unknown;
}

/**
 * Reads the town's settlement chains from `[channels] chains` and `[chains."<id>"]`.
 *
 * @example
 * ```ts
 * const settlement = resolveTownSettlement({
 *   sections: { channels: { chains: ["evm:base:31337"] } },
 * });
 * // { chains: [{ chain: "evm:base:31337" }] }
 * ```
 */
export function resolveTownSettlement(options: ResolveTownSettlementOptions): TownSettlement {
  const listed = options.sections.channels?.chains ?? [];
  if (
    !Array.isArray(listed) || listed.length > MAX_SUPPORTED_CHAINS ||
    !listed.every((c) => typeof c === "string" && CHAIN.test(c))
  ) {
    throw new TownSettlementError(
      `channels.chains must be a list of at most ${MAX_SUPPORTED_CHAINS} chain ids like "evm:base:84532"`,
    );
  }
  if (new Set(listed).size !== listed.length) {
    throw new TownSettlementError("channels.chains lists a chain twice");
  }
  const tables = (options.sections.chains ?? {}) as Record<string, Record<string, unknown>>;
  const chains = (listed as string[]).map((chain): TownSettlementChain => {
    const table = tables[chain] ?? {};
    const token = addressOf(table, chain, "token") ??
      (chain === BASE_SEPOLIA_CHAIN ? BASE_SEPOLIA_M2M_TOKEN : undefined);
    const tokenNetwork = addressOf(table, chain, "token_network");
    return {
      chain,
      ...(tokenNetwork ? { tokenNetwork } : {}),
      ...(token ? { token } : {}),
    };
  });
  const url = options.publicBtpUrl;
  if (url === undefined) return { chains };
  if (typeof url !== "string" || !isBtpUrl(url)) {
    throw new TownSettlementError(
      `public BTP URL must be btp+ws://, btp+wss://, ws:// or wss://, got ${JSON.stringify(url)}`,
    );
  }
  return { chains, publicBtpUrl: url };
}

function addressOf(
  table: Record<string, unknown>,
  chain: string,
  key: string,
): `0x${string}` | undefined {
  const v = table[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !ADDRESS.test(v)) {
    throw new TownSettlementError(`chains."${chain}".${key} is not a 0x address`);
  }
  return v as `0x${string}`;
}

function isBtpUrl(text: string): boolean {
  try {
    return text.length <= 2048 && BTP_SCHEMES.includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** Options for {@linkcode townPeerInfo}. */
export interface TownPeerInfoOptions {
  ilpAddress: string;
  /** The BTP URL peers dial (public URL, or the listening one). */
  btpEndpoint: string;
  assetCode: string;
  assetScale: number;
  settlement: TownSettlement;
  /** The town key's EVM address (settlement address on every chain). */
  evmAddress: `0x${string}`;
  /** The largest PREPARE amount the town takes (its NIP-11 says it too). */
  maxPacketAmount?: bigint;
}

/**
 * The peer info the town announces.
 *
 * @example
 * ```ts
 * const info = townPeerInfo({ ilpAddress: "test.town", btpEndpoint: "btp+ws://127.0.0.1:3000",
 *   assetCode: "USD", assetScale: 6, settlement: { chains: [{ chain: "evm:base:31337" }] },
 *   evmAddress: "0x" + "11".repeat(20) as `0x${string}` });
 * ```
 */
export function townPeerInfo(options: TownPeerInfoOptions): PeerInfo {
  const info: PeerInfo = {
    ilpAddress: options.ilpAddress,
    btpEndpoint: options.settlement.publicBtpUrl ?? options.btpEndpoint,
    assetCode: options.assetCode,
    assetScale: options.assetScale,
    supportedChains: options.settlement.chains.map((c) => c.chain),
    settlementAddresses: {},
    tokenNetworks: {},
    preferredTokens: {},
    ...(options.maxPacketAmount === undefined
      ? {}
      : { maxPacketAmount: String(options.maxPacketAmount) }),
  };
  for (const c of options.settlement.chains) {
    info.settlementAddresses[c.chain] = options.evmAddress;
    if (c.tokenNetwork) info.tokenNetworks[c.chain] = c.tokenNetwork;
    if (c.token) info.preferredTokens[c.chain] = c.token;
  }
  return info;
}

/** Options for {@linkcode announceTownPeerInfo}. */
export interface AnnounceTownPeerInfoOptions {
  /** SQLite (an `EventStore`) or any town store (several processes may share it). */
  store: EventStore | TownStore;
  /** The town's key: signs the event, and its EVM address is the settlement address. */
  signer: NodeSigner;
  ilpAddress: string;
  /** The listening BTP URL (used when the settlement has no public one). */
  btpEndpoint: string;
  assetCode: string;
  assetScale: number;
  settlement: TownSettlement;
  /** The largest PREPARE amount the town takes. */
  maxPacketAmount?: bigint;
  /** Clock in unix seconds (tests). */
  now?: () => number;
}

/** What {@linkcode announceTownPeerInfo} stored. */
export interface TownAnnouncement {
  info: PeerInfo;
  event: NostrEvent;
  /** `unchanged`: the stored version already said the same. */
  status: "stored" | "replaced" | "unchanged";
}

/**
 * Signs the town's kind 10032 and stores it, replacing an older one.
 *
 * @example
 * ```ts
 * declare const store: Parameters<typeof announceTownPeerInfo>[0]["store"];
 * declare const signer: Parameters<typeof announceTownPeerInfo>[0]["signer"];
 * const { event } = await announceTownPeerInfo({ store, signer, ilpAddress: "test.town",
 *   btpEndpoint: "btp+ws://127.0.0.1:3000", assetCode: "USD", assetScale: 6,
 *   settlement: { chains: [] } });
 * ```
 */
export async function announceTownPeerInfo(
  options: AnnounceTownPeerInfoOptions,
): Promise<TownAnnouncement> {
  const me = options.signer;
  const info = townPeerInfo({ ...options, evmAddress: me.evmAddress });
  const content = buildPeerInfo(info).content;
  const store = asTownStore(options.store);
  const current = async () => {
    const [stored] = await store.query([
      { kinds: [PEER_INFO_KIND], authors: [me.pubkey], limit: 1 },
    ]);
    return stored ? JSON.parse(stored.json) as NostrEvent : undefined;
  };
  const previous = await current();
  if (previous?.content === content) return { info, event: previous, status: "unchanged" };
  const now = Math.floor(options.now?.() ?? Date.now() / 1000);
  // A restart within the same second must still win over the version it replaces.
  const createdAt = previous ? Math.max(now, previous.created_at + 1) : now;
  const event = await me.signEvent(buildPeerInfo(info, { createdAt }));
  const { status } = await store.insert(event);
  if (status === "rejected-stale") {
    // Another process of the same town (same key, same store) announced meanwhile: the same
    // content is the same announcement.
    const theirs = await current();
    if (theirs?.content === content) return { info, event: theirs, status: "unchanged" };
  }
  if (status !== "stored" && status !== "replaced") {
    throw new TownSettlementError(`the town's own kind 10032 was not stored: ${status}`);
  }
  return { info, event, status };
}

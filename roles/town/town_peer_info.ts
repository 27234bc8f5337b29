/**
 * The town's own settlement announcement: a kind 10032 (protocol/peer_info.ts) signed by the
 * town's key and stored in its own event store at start, so a requester or provider that knows
 * only the town's relay URL can learn which chains it settles on, its settlement address and
 * contracts (`turnpike channel open` without `--peer`, roles/channels/channel_peer_resolver.ts).
 *
 * What it announces is the settlement config.toml gives (config/town_settlement.ts: `[channels]
 * chains`, `[chains."<id>"]`, `[town] public_btp_url`).
 *
 * The settlement address of every chain is the town key's EVM address. The event goes straight
 * into the store: it is the town's own event, so no payment is asked; 10032 is replaceable, so
 * a restart replaces the older version (or keeps it when nothing changed).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { EventStore } from "../../state/events/event_store.ts";
import { asTownStore, type TownStore } from "../../state/events/town_store.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { buildPeerInfo, PEER_INFO_KIND, type PeerInfo } from "../../protocol/peer_info.ts";
import type { TownSettlement } from "../../config/town_settlement.ts";

/** The town's own announcement could not be stored. */
export class TownSettlementError extends RoleError {
  override name = "TownSettlementError";
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
 * import assert from "node:assert/strict";
 * import { townPeerInfo } from "./town_peer_info.ts";
 *
 * const info = townPeerInfo({ ilpAddress: "test.town", btpEndpoint: "btp+ws://127.0.0.1:3000",
 *   assetCode: "USD", assetScale: 6, settlement: { chains: [{ chain: "evm:base:31337" }] },
 *   evmAddress: "0x" + "11".repeat(20) as `0x${string}` });
 * assert.equal(info.btpEndpoint, "btp+ws://127.0.0.1:3000");
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
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/unit/identity/channel_peer_resolver_test.ts.
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

/**
 * The town's BTP peers as configured: `--peer account:token[:max]` flags or `[[town.peers]]`
 * tables (`account`, `token`, `max_packet_amount`, and `credit_limit`: what a peer without a
 * channel may spend on credit), and the payment channel a peer settles over
 * (`--peer-channel account:0x<channel id>[:credit]` or the tables' `channel`, `credit_limit`:
 * what it may forward beyond its claims; docs/PROTOCOL.md), and the tables' `pubkey`: whose
 * Nostr key the account is. Flags replace the tables: with `--peer` flags the tables' peers and their
 * channels are ignored.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import { pubkeySetting, uint64Setting } from "./setting_codecs.ts";

/** One configured peer. */
export interface BtpPeerAccountConfig {
  /** Account name: one ILP address segment (`[A-Za-z0-9_~-]`, not "relay"). */
  account: string;
  /** The `auth_token` this peer must send. */
  token: string;
  /** Largest PREPARE amount accepted from this peer (F08 above). Default: the server's. */
  maxPacketAmount?: bigint;
  /**
   * Without a channel: what this peer may spend on the town's credit, in all (`credit_limit`;
   * roles/town/btp/peer_credit_gate.ts). Default: the town's `peer_credit_limit`.
   */
  creditLimit?: bigint;
  /**
   * The peer's Nostr pubkey (`pubkey`, 64 hex): the subject of the town's NIP-85 assertion of
   * it when the town publishes its trust (roles/town/town_trust_publish.ts). An account is a
   * BTP login, not a key: only the operator can say whose it is.
   */
  pubkey?: string;
}

/** A peer that settles over a payment channel. */
export interface TownPeerChannel {
  /** The BTP peer account. */
  account: string;
  /** The channel id (`channels/<id>.toml` in the town's state dir), lowercase. */
  channelId: `0x${string}`;
  /** Value the peer may forward beyond its claims, base units. Default 0. */
  creditLimit?: bigint;
}

const ACCOUNT_PATTERN = /^[A-Za-z0-9_~-]{1,64}$/;
/** Account names the town's own addresses use. */
const RESERVED = new Set(["relay"]);

/**
 * True for a usable account name.
 *
 * @example
 * ```ts
 * import { isAccountName } from "./town_peers.ts";
 *
 * console.log(isAccountName("alice")); // true
 * console.log(isAccountName("relay")); // false (reserved for paid writes)
 * ```
 */
export function isAccountName(name: string): boolean {
  return ACCOUNT_PATTERN.test(name) && !RESERVED.has(name);
}

/**
 * Parses a `--peer account:token[:maxPacketAmount]` flag (of `town up` and `init --role town`).
 *
 * @example
 * ```ts
 * import { parsePeerFlag } from "./town_peers.ts";
 *
 * console.log(parsePeerFlag("alice:alice-token")); // { account: "alice", token: "alice-token" }
 * ```
 * @throws {ConfigError} (key `peers`) when it is malformed or the account name is not usable.
 */
export function parsePeerFlag(text: string): BtpPeerAccountConfig {
  const [account, token, max, ...rest] = text.split(":");
  if (!account || !token || rest.length > 0) {
    throw peerError(`--peer must be account:token[:maxPacketAmount], got "${text}"`);
  }
  if (!isAccountName(account)) throw peerError(`peer account "${account}" is not usable`);
  return max === undefined ? { account, token } : {
    account,
    token,
    maxPacketAmount: uint64Setting(max, "peers", `--peer ${account} max packet amount`),
  };
}

/** Options for {@linkcode resolveTownPeers}. */
export interface ResolveTownPeersOptions {
  /** `--peer` flags; any given replace the tables. */
  peerFlags?: readonly string[];
  /** `--peer-channel` flags; any given replace the tables' channels. */
  peerChannelFlags?: readonly string[];
  /** `[town] peers` (the `[[town.peers]]` tables), as read. */
  table?: unknown;
  /** Dev mode: any auth username is an account, so a channel may name one not listed. */
  acceptAnyToken: boolean;
}

/** The town's peers and the channels they settle over. */
export interface TownPeers {
  peers: BtpPeerAccountConfig[];
  peerChannels: TownPeerChannel[];
}

/**
 * Resolves the town's peers and their channels from flags or `[[town.peers]]`.
 *
 * @example
 * ```ts
 * import { resolveTownPeers } from "./town_peers.ts";
 *
 * const { peers, peerChannels } = resolveTownPeers({
 *   table: [{ account: "alice", token: "s3cret", channel: "0x" + "ab".repeat(32) }],
 *   acceptAnyToken: false,
 * });
 * console.log(peers[0].account, peerChannels[0].channelId.length); // alice 66
 * ```
 * @throws {ConfigError} (key `peers` or `peerChannels`) when a peer or channel is unusable.
 */
export function resolveTownPeers(options: ResolveTownPeersOptions): TownPeers {
  const peersFromFlags = options.peerFlags !== undefined && options.peerFlags.length > 0;
  const peers = peersFromFlags ? options.peerFlags!.map(parsePeerFlag) : tomlPeers(options.table);
  for (const p of peers) {
    if (!isAccountName(p.account)) throw peerError(`peer account "${p.account}" is not usable`);
  }
  // TOML channels belong to TOML peers: with --peer flags they are ignored like those peers.
  const peerChannels = options.peerChannelFlags && options.peerChannelFlags.length > 0
    ? options.peerChannelFlags.map(parsePeerChannelFlag)
    : peersFromFlags
    ? []
    : tomlPeerChannels(options.table);
  checkPeerChannels(peerChannels, peers, options.acceptAnyToken);
  return { peers, peerChannels };
}

function peerError(message: string): ConfigError {
  return new ConfigError(message, { key: "peers" });
}

function channelError(message: string): ConfigError {
  return new ConfigError(message, { key: "peerChannels" });
}

const CHANNEL_ID = /^0x[0-9a-fA-F]{64}$/;

function channelId(value: unknown, what: string): `0x${string}` {
  if (typeof value !== "string" || !CHANNEL_ID.test(value)) {
    throw channelError(`${what} must be a 0x channel id (64 hex digits)`);
  }
  return value.toLowerCase() as `0x${string}`;
}

function parsePeerChannelFlag(text: string): TownPeerChannel {
  const [account, id, credit, ...rest] = text.split(":");
  if (!account || !id || rest.length > 0) {
    throw channelError(
      `--peer-channel must be account:0x<channel id>[:creditLimit], got "${text}"`,
    );
  }
  const what = `--peer-channel ${account}`;
  return credit === undefined ? { account, channelId: channelId(id, `${what} channel`) } : {
    account,
    channelId: channelId(id, `${what} channel`),
    creditLimit: uint64Setting(credit, "peerChannels", `${what} credit limit`),
  };
}

function tomlTables(value: unknown): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw peerError("[[town.peers]] must be an array of tables");
  return value.map((p, i) => {
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
      throw peerError(`town.peers[${i}] is not a table`);
    }
    return p as Record<string, unknown>;
  });
}

function tomlPeerChannels(value: unknown): TownPeerChannel[] {
  return tomlTables(value).flatMap((p, i): TownPeerChannel[] => {
    // Without a channel, credit_limit is the peer's credit (tomlPeers).
    if (p.channel === undefined) return [];
    const peer = {
      account: String(p.account),
      channelId: channelId(p.channel, `town.peers[${i}].channel`),
    };
    return p.credit_limit === undefined ? [peer] : [{
      ...peer,
      creditLimit: uint64Setting(p.credit_limit, "peerChannels", `town.peers[${i}].credit_limit`),
    }];
  });
}

function checkPeerChannels(
  channels: readonly TownPeerChannel[],
  peers: readonly BtpPeerAccountConfig[],
  acceptAnyToken: boolean,
): void {
  const accounts = new Set<string>();
  const ids = new Set<string>();
  for (const c of channels) {
    if (accounts.has(c.account)) {
      throw channelError(`peer "${c.account}" is given more than one channel`);
    }
    // One channel's cumulative claims cannot be shared between two accounts' packets.
    if (ids.has(c.channelId)) {
      throw channelError(`channel ${c.channelId} is given to more than one peer`);
    }
    // In dev mode any auth username is an account, so a channel may name one not listed.
    if (!acceptAnyToken && !peers.some((p) => p.account === c.account)) {
      throw channelError(`channel ${c.channelId} names "${c.account}", which is not a peer`);
    }
    accounts.add(c.account);
    ids.add(c.channelId);
  }
}

function tomlPeers(value: unknown): BtpPeerAccountConfig[] {
  return tomlTables(value).map((p, i) => {
    const { account, token, max_packet_amount, channel, credit_limit, pubkey } = p;
    if (typeof account !== "string" || typeof token !== "string") {
      throw peerError(`town.peers[${i}] needs string "account" and "token"`);
    }
    const peer: BtpPeerAccountConfig = { account, token };
    if (max_packet_amount !== undefined) {
      peer.maxPacketAmount = uint64Setting(
        max_packet_amount,
        "peers",
        `town.peers[${i}].max_packet_amount`,
      );
    }
    // With a channel, credit_limit is what the peer may forward beyond its claims (tomlPeerChannels).
    if (channel === undefined && credit_limit !== undefined) {
      peer.creditLimit = uint64Setting(credit_limit, "peers", `town.peers[${i}].credit_limit`);
    }
    if (pubkey !== undefined) {
      peer.pubkey = pubkeySetting(pubkey, "peers", `town.peers[${i}].pubkey`);
    }
    return peer;
  });
}

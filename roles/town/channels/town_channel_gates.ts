/**
 * The payment channel claim gates of a town's peers (docs/PROTOCOL.md), assembled at start:
 *
 * - configured channels (`[[town.peers]] channel`, `credit_limit`, or `--peer-channel`): their
 *   channel files (`<state dir>/channels/<id>.toml`) must be there;
 * - learned channels: every channel file with a `btp_account` (written when the town learned
 *   the channel from the account's first claim) that is not settled, so a restart keeps
 *   gating those accounts;
 * - discovery (roles/town/channels/channel_discovery.ts) on every chain of `[channels] chains` whose
 *   `[chains."<id>"]` has an `rpc_url`, `token_network` and `token`: a payer that opens a
 *   channel to the town's address pays over it from its first claim on, without a restart
 *   (roles/town/channels/town_channel_registry.ts routes each account's packets).
 *
 * A chain client per channel reads the chain (the contract and token come from the channel
 * file, the RPC URL from config.toml); one watcher polls them all.
 *
 * Refused before anything starts ({@linkcode TownChannelError}): a configured channel whose file
 * is missing or unreadable, or that is not the town's (its `self_address` is not the town key's
 * EVM address), a chain without an RPC URL, a mainnet chain without `allowMainnet`; a settled
 * configured channel too, unless the town learns channels (then the account pays again once it
 * opens a new one, and `onNotice` says so). The chain itself is only read when claims arrive: an
 * unreachable RPC answers T00 per packet (btp_claim_gate.ts) instead of keeping the town down.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import {
  type ChainConfig,
  ChainConfigError,
  MainnetConsentError,
  networkLabel,
  resolveChainConfig,
} from "../../../config/chain_config.ts";
import { TokenNetworkClient } from "../../../chain/token_network_client.ts";
import { connectChain } from "../../../chain/chain_connection.ts";
import { channelChainClient } from "../../channels/channel_chain_client.ts";
import type { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import { openAuditLog } from "../../../state/audit/audit_log.ts";
import {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  listChannels,
  readChannel,
} from "../../../state/channels/channel_file.ts";
import type { BtpClaimGate, ChannelClaimGate } from "../../channels/btp_claim_gate.ts";
import { noChannelGates } from "./no_channel_gates.ts";
import type { TownPeerChannel } from "../../../config/town_peers.ts";
import type { ChannelCosignDesk } from "./channel_cosign_desk.ts";
import {
  type ChannelChange,
  type ChannelWatcher,
  startChannelWatcher,
} from "../../channels/channel_watcher.ts";
import { ChannelDiscovery, type ChannelDiscoveryLimits } from "./channel_discovery.ts";
import { TownChannelRegistry } from "./town_channel_registry.ts";
import { DEFAULT_WATCH_INTERVAL_MS } from "../../../config/channel_settings.ts";
import type { ChannelBook } from "../../../state/channels/channel_book.ts";

/** Options for {@linkcode openTownChannelGates}. */
export interface TownChannelGatesOptions {
  /** The town's state dir (channel files, audit trail). */
  stateDir: string;
  /**
   * The claim books of the town's shared store (a town on several processes,
   * docs/OPERATIONS.md): every process's gates decide claims and cover there, under a row lock.
   */
  sharedBooks?: ChannelBook;
  /** The peers that settle over a configured channel (`TownSettings.peerChannels`). */
  peerChannels: readonly TownPeerChannel[];
  /** The `[chains]` table of config.toml (`[chains."<id>"] rpc_url = ...`). */
  chains?: Record<string, unknown>;
  /**
   * The chains the town settles on (`[channels] chains`, as announced in its kind 10032):
   * channels opened to the town there are learned from their first claim. Default none.
   */
  settlementChains?: readonly string[];
  /** Budgets of the chain reads for unknown channels (tests). */
  discoveryLimits?: Partial<ChannelDiscoveryLimits>;
  /** The town's key: the channels must be its own; the chain clients use it. */
  signer: NodeSigner;
  /** The town's ILP address, for REJECTs (it may change when a parent assigns one). */
  triggeredBy: () => string;
  /** Accept a channel on a mainnet chain. Only an explicit user flag may set this. */
  allowMainnet?: boolean;
  /** Told about each rejected claim or uncovered packet. */
  onReject?: (account: string, err: ClaimError) => void;
  /** How often the chain is polled for closes by the peer (roles/channels/channel_watcher.ts). */
  watchIntervalMs?: number;
  /** Settle a closed channel once its settle timeout is over. Default true. */
  autoSettle?: boolean;
  /** Told when the chain changed a channel (closed, settled, deposit raised). */
  onChannelChange?: (account: string, change: ChannelChange) => void;
  /** Told when a poll of the chain failed (it is retried at the next one). */
  onWatchError?: (account: string, err: Error) => void;
  /** Told when a channel was learned from an account's claim (`replaced`: its previous one). */
  onChannelLearned?: (account: string, record: ChannelRecord, replaced?: ChannelRecord) => void;
  /** Told about start-up facts worth a line (a settled configured channel skipped). */
  onNotice?: (line: string) => void;
}

/** How one peer settles, for the start-up banner and status. */
export interface PeerSettlement {
  account: string;
  channelId: `0x${string}`;
  /** e.g. `local anvil (evm:base:31337, local)`. */
  network: string;
  peerAddress: `0x${string}`;
  /** The newest claim recorded in the channel file when the gate opened. */
  received: bigint;
  creditLimit: bigint;
  /** Learned from the account's first claim (before this start), not configured. */
  learned: boolean;
}

/** The gates of a town's channel peers. */
export interface TownChannelGates extends AsyncDisposable {
  /** Per account; the value for `startTownNode({ claimGate })`. */
  claimGate(account: string): BtpClaimGate | undefined;
  /** The current gate of an account, with its verifier and channel record (status, tests). */
  gate(account: string): ChannelClaimGate | undefined;
  /** Per account; the value for `startTownNode({ cosignDesk })` (cooperative close, withdraw). */
  cosignDesk(account: string): ChannelCosignDesk | undefined;
  /** The accounts' channels when the gates opened. */
  settlements: readonly PeerSettlement[];
  /** The chains channels are learned on (`evm:base:<n>`); empty: none. */
  learnsOn: readonly string[];
  /**
   * The token the town settles in, as its contract says: the first chain it learns channels on,
   * else its first configured channel's (whose record holds what the contract said at open).
   */
  settlementToken?: { chain: string; tokenSymbol: string; tokenDecimals: number };
  /** Polls the chain for the channels (closes by the peer are answered at once). */
  watcher?: ChannelWatcher;
  /** Waits for the pending channel file writes and commits the audit trail. */
  close(): Promise<void>;
}

/** A peer's channel cannot be used; `suggestion` says what to do about it. */
export class TownChannelError extends RoleError {
  override name = "TownChannelError";
  constructor(message: string, readonly context: string, readonly suggestion?: string) {
    super(message);
  }
}

/**
 * Reads the channel files of the configured and learned channels, opens their claim gates and
 * sets up the learning of new ones.
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_discovery_test.ts.
 */
export async function openTownChannelGates(
  options: TownChannelGatesOptions,
): Promise<TownChannelGates> {
  const self = options.signer.evmAddress.toLowerCase();
  const discoveryChains = await learningChains(options);
  const learns = discoveryChains.clients.length > 0;
  const configured: { account: string; record: ChannelRecord; client: TokenNetworkClient }[] = [];
  for (const peer of options.peerChannels) {
    const record = await readPeerChannel(options.stateDir, peer);
    checkOwnChannel(record, peer, self);
    if (record.status === "settled" && learns) {
      options.onNotice?.(
        `channel ${record.channelId} of ${peer.account} is settled: ${peer.account} pays ` +
          "again once it opens a new channel to the town (learned from its first claim)",
      );
      continue;
    }
    if (record.status === "settled") {
      throw new TownChannelError(
        `channel ${record.channelId} of peer "${peer.account}" is settled`,
        `channels/${peer.channelId}.toml`,
        "have the peer open a new channel and configure its id, or let the town learn it: " +
          'list its chain in [channels] chains with [chains."<id>"] rpc_url, token_network, token',
      );
    }
    configured.push({ account: peer.account, record, client: chainClient(record, peer, options) });
  }
  const restored = await learnedChannels(options, self, configured);
  if (configured.length === 0 && restored.length === 0 && !learns) return noChannelGates(options);
  // The town's database files are in STATE_DIR_IGNORE (state/audit/state_dir_ignore.ts).
  const audit = await openAuditLog({ dir: options.stateDir });
  // The callbacks run from the first poll on, once `registry` below exists.
  const watcher = startChannelWatcher({
    channels: [],
    intervalMs: options.watchIntervalMs,
    autoSettle: options.autoSettle ?? true,
    onChange: (change) => options.onChannelChange?.(registry.accountOfChange(change), change),
    onError: (channelId, err) => options.onWatchError?.(registry.accountOf(channelId) ?? "", err),
  });
  const credit = new Map(options.peerChannels.map((p) => [p.account, p.creditLimit]));
  const registry = new TownChannelRegistry<TokenNetworkClient>({
    stateDir: options.stateDir,
    audit,
    signer: options.signer,
    triggeredBy: options.triggeredBy,
    watcher,
    discovery: learns
      ? new ChannelDiscovery({
        selfAddress: self as `0x${string}`,
        chains: discoveryChains.clients,
        unreadable: discoveryChains.unreadable,
        limits: options.discoveryLimits,
      })
      : undefined,
    creditLimit: (account) => credit.get(account),
    onReject: options.onReject,
    sharedBooks: options.sharedBooks,
    onLearned: options.onChannelLearned,
  });
  const clients = new Map<string, TokenNetworkClient>();
  for (const { account, record, client } of configured) {
    registry.add(account, record, client);
    clients.set(record.channelId.toLowerCase(), client);
  }
  for (const { record, client, current } of restored) {
    registry.add(record.btpAccount!, record, client, { current });
    clients.set(record.channelId.toLowerCase(), client);
  }
  const settlements = registry.currents().map((g): PeerSettlement => {
    const record = g.gate.record();
    return {
      account: g.account,
      channelId: record.channelId,
      network: networkLabel(clients.get(record.channelId.toLowerCase())!.chain),
      peerAddress: record.peerAddress,
      received: record.received,
      creditLimit: g.creditLimit,
      learned: g.learned,
    };
  });
  // On shared books, the channels other processes learned are watched here too (their closes
  // answered whichever process is up): looked for at start and at every watch interval.
  let adopting: Promise<unknown> | undefined;
  const adopt = () => {
    adopting ??= registry.adoptFromBooks()
      .catch((err) => options.onWatchError?.("", err as Error))
      .finally(() => adopting = undefined);
  };
  const adoptTimer = options.sharedBooks && learns
    ? setInterval(adopt, options.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS)
    : undefined;
  if (adoptTimer !== undefined) adopt();
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      clearInterval(adoptTimer);
      await adopting;
      await watcher.stop();
      await registry.durable();
      await audit.close();
    })();
  return {
    claimGate: (account) => registry.claimGate(account),
    gate: (account) => registry.current(account)?.gate,
    cosignDesk: (account) => registry.cosignDesk(account),
    settlements,
    learnsOn: discoveryChains.clients.map((c) => c.chain.id),
    settlementToken: [
      ...discoveryChains.clients.map((c) => c.chain),
      ...configured.map((c) => ({
        id: c.record.chain,
        ...c.record,
      })),
    ].map((c) => ({ chain: c.id, tokenSymbol: c.tokenSymbol, tokenDecimals: c.tokenDecimals }))[0],
    watcher,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The chain clients channels are learned on: each of `settlementChains` with an RPC URL,
 * TokenNetwork and token in `[chains."<id>"]`, connected (its `eth_chainId` checked, its token's
 * decimals and symbol read: chain/chain_connection.ts); the others with why they cannot be
 * used. A real-funds chain without `allowMainnet`, or one whose RPC or token answers wrong, is
 * an error: the town does not start.
 */
async function learningChains(
  options: TownChannelGatesOptions,
): Promise<{ clients: TokenNetworkClient[]; unreadable: Record<string, string> }> {
  const clients: TokenNetworkClient[] = [];
  const unreadable: Record<string, string> = {};
  for (const id of options.settlementChains ?? []) {
    const table = options.chains?.[id];
    const section = typeof table === "object" && table !== null
      ? table as Record<string, unknown>
      : undefined;
    let chain: ChainConfig;
    try {
      chain = resolveChainConfig(id, { section, allowMainnet: options.allowMainnet });
    } catch (err) {
      if (!(err instanceof ChainConfigError) || err instanceof MainnetConsentError) throw err;
      unreadable[id] = err.message;
      continue;
    }
    if (!chain.tokenNetworkAddress || !chain.tokenAddress) {
      unreadable[id] = `[chains."${id}"] names no token_network or token`;
      continue;
    }
    const connected = await connectChain(chain);
    clients.push(new TokenNetworkClient({ chain: connected, account: options.signer.evm }));
  }
  return { clients, unreadable };
}

/**
 * The channel files the town wrote when it learned channels (`btp_account`), not settled and
 * not configured; per account the newest open one is its current channel, the others are only
 * watched (their closes answered, their settles done).
 */
async function learnedChannels(
  options: TownChannelGatesOptions,
  self: string,
  configured: readonly { account: string; record: ChannelRecord }[],
): Promise<{ record: ChannelRecord; client: TokenNetworkClient; current: boolean }[]> {
  const taken = new Set(configured.map((c) => c.record.channelId.toLowerCase()));
  const accounts = new Set(configured.map((c) => c.account));
  const out: { record: ChannelRecord; client: TokenNetworkClient; current: boolean }[] = [];
  let records: ChannelRecord[];
  try {
    records = await listChannels(options.stateDir);
  } catch (err) {
    if (!(err instanceof ChannelFileError)) throw err;
    throw new TownChannelError(
      `a channel file cannot be read: ${err.message}`,
      `${options.stateDir}/channels`,
      "move the broken file away; `turnpike channel recover` rebuilds channel files from the chain",
    );
  }
  // listChannels sorts by opening time: a later open one replaces an earlier one as current.
  for (const record of records) {
    const account = record.btpAccount;
    if (
      account === undefined || record.status === "settled" ||
      record.selfAddress.toLowerCase() !== self || taken.has(record.channelId.toLowerCase())
    ) continue;
    let client: TokenNetworkClient;
    try {
      client = channelChainClient(record, options);
    } catch (err) {
      if (!(err instanceof ChainConfigError)) throw err;
      throw new TownChannelError(
        `channel ${record.channelId} of ${account} (learned): ${err.message}`,
        "config.toml [chains]",
        `set [chains."${record.chain}"] rpc_url in the town's config.toml`,
      );
    }
    const current = record.status === "open" && !accounts.has(account);
    if (current) {
      for (const earlier of out) if (earlier.record.btpAccount === account) earlier.current = false;
    }
    out.push({ record, client, current });
  }
  return out;
}

async function readPeerChannel(stateDir: string, peer: TownPeerChannel): Promise<ChannelRecord> {
  const path = channelFilePath(stateDir, peer.channelId);
  try {
    return await readChannel(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new TownChannelError(
        `peer "${peer.account}" settles over channel ${peer.channelId}, which has no channel file`,
        path,
        "run `turnpike channel recover` in the town's state dir " +
          `(turnpike --state-dir ${stateDir} channel recover), or drop the channel from the ` +
          "config: a town whose [channels] chains it can read learns a channel from its first claim",
      );
    }
    throw new TownChannelError(
      `the channel file of peer "${peer.account}" cannot be read: ${(err as Error).message}`,
      path,
      "run `turnpike channel recover` in the town's state dir to rebuild it from the chain",
    );
  }
}

function checkOwnChannel(record: ChannelRecord, peer: TownPeerChannel, self: string): void {
  const path = `channels/${peer.channelId}.toml`;
  if (record.selfAddress.toLowerCase() !== self) {
    throw new TownChannelError(
      `channel ${record.channelId} of peer "${peer.account}" belongs to ${record.selfAddress}, ` +
        `not to the town's key (${self})`,
      path,
      "start the town with the wallet that opened or recovered the channel (not --generate-key)",
    );
  }
}

function chainClient(
  record: ChannelRecord,
  peer: TownPeerChannel,
  options: TownChannelGatesOptions,
): TokenNetworkClient {
  try {
    return channelChainClient(record, options);
  } catch (err) {
    if (!(err instanceof ChainConfigError)) throw err;
    throw new TownChannelError(
      `channel ${record.channelId} of peer "${peer.account}": ${err.message}`,
      "config.toml [chains]",
      `set [chains."${record.chain}"] rpc_url in the town's config.toml`,
    );
  }
}

/**
 * The payment channel claim gates of a town's peers (issue #6, DESIGN.md §5), built from the
 * configuration (`[[town.peers]] channel`, `credit_limit`), the town's channel files
 * (`<state dir>/channels/<id>.toml`) and a chain client per channel (the `[chains."<id>"]`
 * RPC URL of config.toml; the contract and token addresses come from the channel file).
 *
 * Refused before anything starts ({@linkcode TownChannelError}): a missing or unreadable channel
 * file, a channel that is not the town's (its `self_address` is not the town key's EVM address),
 * a settled channel, a chain without an RPC URL, a mainnet chain without `allowMainnet`.
 * The chain itself is only read when claims arrive: an unreachable RPC answers T00 per packet
 * (btp_claim_gate.ts) instead of keeping the town down.
 *
 * @module
 */
import { privateKeyToAddress } from "viem/accounts";
import { bytesToHex } from "viem";
import { ChainConfigError, networkLabel } from "../../chain/chain_config.ts";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { channelChainClient } from "../channel_chain_client.ts";
import type { ClaimError } from "../../protocol/payment_channel_claim.ts";
import { openAuditLog } from "../../state/audit_log.ts";
import { channelFilePath, type ChannelRecord, readChannel } from "../../state/channel_file.ts";
import {
  type BtpClaimGate,
  type ChannelClaimGate,
  openChannelClaimGate,
} from "./btp_claim_gate.ts";
import type { TownPeerChannel } from "./town_config.ts";
import { type ChannelCosignDesk, createChannelCosignDesk } from "./channel_cosign_desk.ts";
import {
  type ChannelChange,
  type ChannelWatcher,
  startChannelWatcher,
} from "../channel_watcher.ts";

/** Options for {@linkcode openTownChannelGates}. */
export interface TownChannelGatesOptions {
  /** The town's state dir (channel files, audit trail). */
  stateDir: string;
  /** The peers that settle over a channel (`TownConfig.peerChannels`). */
  peerChannels: readonly TownPeerChannel[];
  /** The `[chains]` table of config.toml (`[chains."<id>"] rpc_url = ...`). */
  chains?: Record<string, unknown>;
  /** The town's key: the channels must be its own; the chain clients use it. */
  secretKey: Uint8Array;
  /** The town's ILP address, for REJECTs (it may change when a parent assigns one). */
  triggeredBy: () => string;
  /** Accept a channel on a mainnet chain. Only an explicit user flag may set this. */
  allowMainnet?: boolean;
  /** Told about each rejected claim or uncovered packet. */
  onReject?: (account: string, err: ClaimError) => void;
  /** How often the chain is polled for closes by the peer (roles/channel_watcher.ts). */
  watchIntervalMs?: number;
  /** Settle a closed channel once its settle timeout is over. Default true. */
  autoSettle?: boolean;
  /** Told when the chain changed a channel (closed, settled, deposit raised). */
  onChannelChange?: (account: string, change: ChannelChange) => void;
  /** Told when a poll of the chain failed (it is retried at the next one). */
  onWatchError?: (account: string, err: Error) => void;
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
}

/** The gates of a town's channel peers. */
export interface TownChannelGates extends AsyncDisposable {
  /** Per account; the value for `startTownNode({ claimGate })`. */
  claimGate(account: string): BtpClaimGate | undefined;
  /** The gate of an account, with its verifier and channel record (status, tests). */
  gate(account: string): ChannelClaimGate | undefined;
  /** Per account; the value for `startTownNode({ cosignDesk })` (cooperative close, withdraw). */
  cosignDesk(account: string): ChannelCosignDesk | undefined;
  settlements: readonly PeerSettlement[];
  /** Polls the chain for the channels (closes by the peer are answered at once). */
  watcher?: ChannelWatcher;
  /** Waits for the pending channel file writes and commits the audit trail. */
  close(): Promise<void>;
}

/** A peer's channel cannot be used; `suggestion` says what to do about it. */
export class TownChannelError extends Error {
  override name = "TownChannelError";
  constructor(message: string, readonly context: string, readonly suggestion?: string) {
    super(message);
  }
}

/**
 * Reads the channel file of every peer with a channel and opens its claim gate.
 *
 * @example
 * ```ts
 * const gates = await openTownChannelGates({ stateDir, peerChannels: config.peerChannels ?? [],
 *   chains: loaded.sections.chains, secretKey, triggeredBy: () => "g.town" });
 * const town = await startTownNode({ config, secretKey, claimGate: gates.claimGate });
 * // ... on stop: await town.stop(); await gates.close();
 * ```
 */
export async function openTownChannelGates(
  options: TownChannelGatesOptions,
): Promise<TownChannelGates> {
  const records: { peer: TownPeerChannel; record: ChannelRecord; client: TokenNetworkClient }[] =
    [];
  const self = privateKeyToAddress(bytesToHex(options.secretKey)).toLowerCase();
  for (const peer of options.peerChannels) {
    const record = await readPeerChannel(options.stateDir, peer);
    checkOwnChannel(record, peer, self);
    records.push({ peer, record, client: chainClient(record, peer, options) });
  }
  if (records.length === 0) return emptyGates();
  // The town's database files are in STATE_DIR_IGNORE (state/audit_log.ts).
  const audit = await openAuditLog({ dir: options.stateDir });
  const gates = new Map<string, ChannelClaimGate>();
  const settlements: PeerSettlement[] = [];
  for (const { peer, record, client } of records) {
    gates.set(
      peer.account,
      openChannelClaimGate({
        stateDir: options.stateDir,
        record,
        audit,
        readChannel: (id) => client.getChannel(id),
        creditLimit: peer.creditLimit,
        triggeredBy: options.triggeredBy,
        onReject: options.onReject && ((err) => options.onReject!(peer.account, err)),
      }),
    );
    settlements.push({
      account: peer.account,
      channelId: record.channelId,
      network: networkLabel(client.chain),
      peerAddress: record.peerAddress,
      received: record.received,
      creditLimit: peer.creditLimit ?? 0n,
    });
  }
  const desks = new Map<string, ChannelCosignDesk>();
  for (const { peer, client } of records) {
    desks.set(
      peer.account,
      createChannelCosignDesk({
        gate: gates.get(peer.account)!,
        secretKey: options.secretKey,
        readChannel: (id) => client.getChannel(id),
        chainTime: () => client.chainTime(),
      }),
    );
  }
  const accounts = new Map<string, string>();
  const watcher = startChannelWatcher({
    channels: records.map(({ peer, client }) => {
      const gate = gates.get(peer.account)!;
      accounts.set(gate.record().channelId.toLowerCase(), peer.account);
      return { record: gate.record, update: gate.update, chain: client };
    }),
    intervalMs: options.watchIntervalMs,
    autoSettle: options.autoSettle ?? true,
    onChange: (change) =>
      options.onChannelChange?.(
        accounts.get(change.record.channelId.toLowerCase()) ?? "",
        change,
      ),
    onError: (channelId, err) =>
      options.onWatchError?.(accounts.get(channelId.toLowerCase()) ?? "", err),
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await watcher.stop();
      for (const gate of gates.values()) await gate.writer.durable().catch(() => {});
      await audit.close();
    })();
  return {
    claimGate: (account) => gates.get(account),
    gate: (account) => gates.get(account),
    cosignDesk: (account) => desks.get(account),
    settlements,
    watcher,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function emptyGates(): TownChannelGates {
  const close = () => Promise.resolve();
  return {
    claimGate: () => undefined,
    gate: () => undefined,
    cosignDesk: () => undefined,
    settlements: [],
    close,
    [Symbol.asyncDispose]: close,
  };
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
          `(turnpike --state-dir ${stateDir} channel recover)`,
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
  if (record.status === "settled") {
    throw new TownChannelError(
      `channel ${record.channelId} of peer "${peer.account}" is settled`,
      path,
      "have the peer open a new channel and configure its id",
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

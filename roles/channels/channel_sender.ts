/**
 * The sending side of a payment channel for a node's BTP link to its town (requester and
 * provider): reads the channel file named by `--channel <id>` (TOML `channel`, env
 * `TURNPIKE_CHANNEL`), checks it can pay this town, and builds `BtpClient`'s `claims` option:
 * a {@linkcode SentBookSigner} on the payer's channel book (state/channels/file_sent_channel_book.ts:
 * resumed from the file's newest sent claim, each new claim decided under the book's lock and
 * kept in the file's `sent*` fields, and the audit trail, before it is sent).
 *
 * The channel is never picked implicitly, even when only one is open: paying over a channel
 * moves real value, so the operator names it (explicit is safer; OPERATIONS.md).
 *
 * One process at a time may send on a channel: two processes resuming from the same file
 * would sign the same nonces and the town would refuse the second one's claims. The sender
 * holds `channels/<id>.lock` (state/channels/channel_lock.ts) until `close()`.
 *
 * With a chain RPC URL configured (`[chains."<id>"] rpc_url`), the channel is read on chain at
 * start (a channel the peer closed is refused, after its file is updated) and watched while the
 * node runs (roles/channels/channel_watcher.ts): once it is closed on chain, paid sends fail with
 * {@linkcode ChannelSenderError} instead of signing claims nobody will honour.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { undoOnFailure } from "../undo_on_failure.ts";
import type { LocalAccount } from "viem/accounts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ClaimSigner } from "../../chain/claim_signer.ts";
import { ChainConfigError } from "../../config/chain_config.ts";
import { ChannelLockedError, lockChannel } from "../../state/channels/channel_lock.ts";
import { type ChannelChain, syncChannelFile } from "./channel_chain_sync.ts";
import { channelChainClient, hasChainRpc } from "./channel_chain_client.ts";
import { type ChannelChange, type ChannelWatcher, startChannelWatcher } from "./channel_watcher.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../state/channels/channel_file.ts";
import { openSentClaimWriter, type SentClaimWriter } from "../../state/channels/channel_writer.ts";
import { FileSentChannelBook } from "../../state/channels/file_sent_channel_book.ts";
import { SentBookSigner } from "./sent_book_signer.ts";
import type { SentChannelBook } from "../../state/channels/sent_channel_book.ts";
import type { BtpClaimOptions } from "../../transport/btp_client.ts";
import type { ChannelPolicy } from "../../config/channel_policy.ts";
import { type ChannelTopUp, startChannelTopUp, TopUpRefusedError } from "./channel_topup.ts";
import type { AlertKind } from "../node_alerts.ts";

/** Options for {@linkcode openChannelSender}. */
export interface ChannelSenderOptions {
  stateDir: string;
  /** The channel to pay over (`0x` + 64 hex). */
  channelId: string;
  /** This node's secret key: signs the claims; the channel's own side must be its address. */
  signer: NodeSigner;
  /** The town's Nostr pubkey (x-only hex): the channel's peer must be this key's EVM address. */
  townPubkey: string;
  /** Where channel file updates are recorded (`turnpike: payment channel <id> updated`). */
  audit?: AuditLog;
  /** Claim this much ahead (see `BtpClaimOptions.prepay`). Default 0. */
  prepay?: bigint;
  /** The `[chains]` table of config.toml: with an RPC URL for the channel's chain it is watched. */
  chains?: Record<string, unknown>;
  /** The chain client to watch with, instead of one built from `chains` (tests). */
  chain?: ChannelChain;
  /** Accept a mainnet chain (an explicit user flag only). */
  allowMainnet?: boolean;
  /** Poll period of the chain watcher. Default 15 s. */
  watchIntervalMs?: number;
  /** Told when the chain changed the channel (e.g. the town closed it). */
  onChannelChange?: (change: ChannelChange) => void;
  /** Told when a poll of the chain failed (retried at the next one). */
  onWatchError?: (err: Error) => void;
  /** Keep the channel funded (`[channels] auto`): top up when low, within the policy. */
  topUp?: ChannelPolicy;
  /** Told about low balance and top-ups (roles/node_alerts.ts). */
  alert?: (kind: AlertKind, message: string, details: Record<string, string>) => void;
}

/** A channel ready to pay the town with. */
export interface ChannelSender {
  /** The channel file as read at start. */
  record: ChannelRecord;
  /** Signs on `book`: each claim decided under its lock. */
  signer: SentBookSigner;
  /** The channel file's writer (the chain watcher's and the top-up's changes go through it). */
  sent: SentClaimWriter;
  /** The claims signed on the channel, kept in its file through `sent` (`claims.persist`). */
  book: SentChannelBook;
  /** For `new BtpClient({ claims })`: refuses to sign once the channel is not open. */
  claims: BtpClaimOptions;
  /** Watches the chain (when an RPC URL is configured). */
  watcher?: ChannelWatcher;
  /** Keeps the channel funded (with `topUp` and an RPC URL). */
  topUp?: ChannelTopUp;
  /** Stops the watcher, waits for the channel file and releases the channel's lock. */
  close(): Promise<void>;
}

/** The named channel cannot pay this town (no file, not open, another peer, another key). */
export class ChannelSenderError extends RoleError {
  override name = "ChannelSenderError";
  constructor(message: string, readonly suggestion: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The channel is no longer open (closing, closed or settled): it cannot pay any more. */
export class ChannelNotOpenError extends ChannelSenderError {
  override name = "ChannelNotOpenError";
  constructor(readonly channelId: string, readonly status: ChannelRecord["status"], where = "") {
    super(
      `channel ${channelId} is ${status}${where}: it cannot pay any more`,
      "open a new channel with `turnpike channel open` and pass its id with --channel",
    );
  }
}

const CHANNEL_ID = /^0x[0-9a-fA-F]{64}$/;

/**
 * Checks a channel id's shape (for config resolution: a bad id is a usage error).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isChannelId } from "./channel_sender.ts";
 * assert.equal(isChannelId("0x" + "ab".repeat(32)), true);
 * assert.equal(isChannelId("0xab"), false);
 * ```
 */
export function isChannelId(text: string): boolean {
  return CHANNEL_ID.test(text);
}

/**
 * The two EVM addresses a Nostr (x-only, BIP-340) pubkey can stand for: the key's point has
 * either the even or the odd y, and the address hashes the full point.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evmAddressesOfNostrPubkey } from "./channel_sender.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
 *
 * const townPubkey = getPublicKey(generateSecretKey());
 * const [even, odd] = evmAddressesOfNostrPubkey(townPubkey); // one of them is the town's
 * assert(even !== odd);
 * ```
 */
export function evmAddressesOfNostrPubkey(pubkey: string): `0x${string}`[] {
  return ["02", "03"].map((prefix) => {
    const point = secp256k1.Point.fromBytes(hexToBytes(prefix + pubkey));
    return `0x${bytesToHex(keccak_256(point.toBytes(false).subarray(1)).subarray(12))}` as const;
  });
}

/**
 * Reads and checks the channel, and returns the `claims` option for the town's BtpClient.
 *
 * It reads the channel on chain: no example that runs here:
 * tests/unit/identity/channel_sender_test.ts.
 * @throws {ChannelSenderError} when the channel cannot pay this town.
 */
export async function openChannelSender(options: ChannelSenderOptions): Promise<ChannelSender> {
  const id = options.channelId.toLowerCase();
  if (!isChannelId(id)) {
    throw new ChannelSenderError(
      `--channel ${JSON.stringify(options.channelId)} is not a channel id`,
      "pass a 0x channel id from `turnpike channel list`",
    );
  }
  let lock;
  try {
    lock = await lockChannel(options.stateDir, id);
  } catch (err) {
    if (!(err instanceof ChannelLockedError)) throw err;
    throw new ChannelSenderError(
      err.message,
      "stop the other node paying over this channel, or open another channel for this one",
      { cause: err },
    );
  }
  return await undoOnFailure(() => openLocked(options, id, lock.release), lock.release);
}

async function openLocked(
  options: ChannelSenderOptions,
  id: string,
  unlock: () => Promise<void>,
): Promise<ChannelSender> {
  let record: ChannelRecord;
  try {
    record = await readChannel(channelFilePath(options.stateDir, id));
  } catch (err) {
    const missing = err instanceof Deno.errors.NotFound;
    throw new ChannelSenderError(
      missing
        ? `channel ${id} has no channel file in ${options.stateDir}/channels`
        : `channel ${id}: ${(err as Error).message}`,
      missing
        ? "open one with `turnpike channel open` or rebuild the files with `turnpike channel recover`"
        : "rebuild the file with `turnpike channel recover`",
      { cause: err },
    );
  }
  checkOpen(record, id);
  const self = options.signer.evmAddress.toLowerCase();
  if (record.selfAddress.toLowerCase() !== self) {
    throw new ChannelSenderError(
      `channel ${id} belongs to ${record.selfAddress}, not to this node's key (${self})`,
      "use the state dir and wallet that opened the channel",
    );
  }
  let town: `0x${string}`[];
  try {
    town = evmAddressesOfNostrPubkey(options.townPubkey);
  } catch (err) {
    throw new ChannelSenderError(
      `the town's pubkey ${options.townPubkey} is not a secp256k1 key`,
      "pass the town's pubkey with --town-pubkey (printed by `turnpike town up`)",
      { cause: err },
    );
  }
  if (!town.includes(record.peerAddress.toLowerCase() as `0x${string}`)) {
    throw new ChannelSenderError(
      `channel ${id} is with ${record.peerAddress}, not with this town (${town.join(" or ")})`,
      "pass the id of a channel opened to the town's address (`turnpike channel list`)",
    );
  }
  // The file's own checks first (cheap, and they name the operator's mistake); then the chain,
  // which may be ahead of the file.
  const chain = options.chain ?? chainOf(record, options);
  if (chain) {
    record = await checkOnChain(record, chain, options);
    checkOpen(record, id);
  }
  const sent = openSentClaimWriter({ stateDir: options.stateDir, record, audit: options.audit });
  const book = new FileSentChannelBook([sent]);
  // As resumeClaimSigner: the channel's numbers, the deposit as a cap (withdrawals noted after).
  // A claim past the deposit waits for the keeper's top-up (made below, once the signer is);
  // with no keeper, it says why.
  const noTopUp = noTopUpReason(options, record);
  const signer = new SentBookSigner({
    account: options.signer.evm,
    book,
    chainId: record.chainId,
    tokenNetworkAddress: record.tokenNetworkAddress,
    tokenAddress: record.tokenAddress,
    channelId: record.channelId,
    deposit: record.deposit,
    cover: (total, until) => topUp ? topUp.cover(total, until) : Promise.reject(noTopUp),
  });
  const watcher = chain && startChannelWatcher({
    channels: [{ record: sent.record, update: sent.update, chain }],
    intervalMs: options.watchIntervalMs,
    onChange: (change) => {
      // A deposit raised by another process (`channel topup` while stopped) lifts our cap too.
      if (change.record.deposit > signer.deposit) void signer.noteDeposit(change.record.deposit);
      options.onChannelChange?.(change);
    },
    onError: options.onWatchError && ((_id, err) => options.onWatchError!(err)),
  });
  const topUp = startTopUp(options, record, sent, signer);
  const guarded = {
    get transferred() {
      return signer.transferred;
    },
    get deposit() {
      return signer.deposit;
    },
    pay(amount: bigint, payOptions?: { until?: number }) {
      const now = sent.record();
      if (now.status !== "open") {
        return Promise.reject(new ChannelNotOpenError(id, now.status, " on chain"));
      }
      return signer.pay(amount, payOptions);
    },
  };
  let closed: Promise<void> | undefined;
  return {
    record,
    signer,
    sent,
    book,
    claims: {
      signer: guarded,
      persist: async (claim) => {
        // Decided on the book by `pay`: resolves once it is in the file.
        await signer.persist(claim);
        topUp?.check();
      },
      prepay: options.prepay,
    },
    watcher,
    topUp,
    close: () =>
      closed ??= (async () => {
        // Claims are persisted before they are sent: nothing of the file is pending here. A
        // top-up under way is waited for: its transaction must reach the books.
        await topUp?.idle();
        await watcher?.stop();
        await unlock();
      })(),
  };
}

/** Why this sender has no top-up keeper (a claim past the deposit is refused with it). */
function noTopUpReason(options: ChannelSenderOptions, record: ChannelRecord): TopUpRefusedError {
  return options.topUp
    ? new TopUpRefusedError(
      "no-rpc",
      `automatic top-up needs the chain: no [chains."${record.chain}"] rpc_url`,
    )
    : new TopUpRefusedError(
      "auto-off",
      "automatic top-up is off (a channel named with --channel, or [channels] auto = false)",
    );
}

/** The top-up keeper, when asked for and the channel's chain can be written to. */
function startTopUp(
  options: ChannelSenderOptions,
  record: ChannelRecord,
  sent: SentClaimWriter,
  signer: SentBookSigner,
): ChannelTopUp | undefined {
  if (!options.topUp) return undefined;
  if (!hasChainRpc(record, options.chains)) {
    options.alert?.(
      "topup-failed",
      `channel ${record.channelId} cannot be topped up: no [chains."${record.chain}"] rpc_url`,
      { channelId: record.channelId, chain: record.chain },
    );
    return undefined;
  }
  const topUp = startChannelTopUp({
    stateDir: options.stateDir,
    policy: options.topUp,
    sent,
    chain: channelChainClient(record, options),
    signer,
    audit: options.audit,
    alert: options.alert,
  });
  // A channel already low at start is topped up before it runs dry.
  topUp.check();
  return topUp;
}

/** A chain client for the channel when its chain has an RPC URL configured. */
function chainOf(record: ChannelRecord, options: ChannelSenderOptions): ChannelChain | undefined {
  if (!hasChainRpc(record, options.chains)) return undefined;
  try {
    return channelChainClient(record, options);
  } catch (err) {
    if (!(err instanceof ChainConfigError)) throw err;
    throw new ChannelSenderError(
      `channel ${record.channelId}: ${err.message}`,
      `fix [chains."${record.chain}"] in config.toml`,
      { cause: err },
    );
  }
}

/** The chain may be ahead of the file (the town closed): the file learns it before we refuse. */
function checkOpen(record: ChannelRecord, id: string): void {
  if (record.status !== "open") throw new ChannelNotOpenError(id, record.status);
}

async function checkOnChain(
  record: ChannelRecord,
  chain: ChannelChain,
  options: ChannelSenderOptions,
): Promise<ChannelRecord> {
  if (record.status !== "open") return record;
  try {
    return await syncChannelFile(record, chain, {
      stateDir: options.stateDir,
      audit: options.audit,
    });
  } catch (err) {
    throw new ChannelSenderError(
      `channel ${record.channelId} cannot be read on chain: ${(err as Error).message}`,
      `check [chains."${record.chain}"] rpc_url in config.toml and that the chain is up`,
      { cause: err },
    );
  }
}

/**
 * A claim signer that continues from the newest claim a channel file says we sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
 * import { resumeClaimSigner } from "./channel_sender.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const account = privateKeyToAccount(generatePrivateKey());
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const record = newChannelRecord(
 *   { chain, address: account.address, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: `0x${"b2".repeat(20)}`, settleTimeout: 3600n, deposit: 10_000n },
 * );
 * // The file says 4 claims sent, 500 in all: the next claim is nonce 5, 600 in all.
 * const claims = resumeClaimSigner({ ...record, sent: 500n, sentNonce: 4n }, account);
 * const claim = await claims.pay(100n);
 * assert.deepEqual([claim.nonce, claim.transferredAmount], [5n, 600n]);
 * ```
 */
export function resumeClaimSigner(record: ChannelRecord, account: LocalAccount): ClaimSigner {
  return new ClaimSigner({
    account,
    chainId: record.chainId,
    tokenNetworkAddress: record.tokenNetworkAddress,
    tokenAddress: record.tokenAddress,
    channelId: record.channelId,
    deposit: record.deposit,
    nonce: record.sentNonce,
    transferred: record.sent,
  });
}

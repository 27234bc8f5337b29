/**
 * Brings a channel file up to date with the chain: the one comparison of a
 * channel record with the TokenNetwork contract, shared by the CLI (`channel list --refresh`,
 * `channel close`, `channel recover`) and the running nodes (roles/channels/channel_watcher.ts).
 *
 * The chain only ever moves a record forward: a close or settle by the peer, a raised deposit,
 * a newer balance proof submitted on chain; what the peer paid us (`received`) is never lowered
 * by it. And it protects the receiver's money: when the chain would pay us less than our newest
 * claim takes ({@linkcode partnerProof}: what was delivered of it) and the settle timeout has not
 * passed, our claim is submitted at once (`updateNonClosingBalanceProof`) and the change carries
 * a `Disputed` field (the nodes raise it as an alert); once the timeout is over, `settleChannel`
 * pays both sides (when `autoSettle`). The contract takes only a partner's proof, so a payer
 * cannot answer with a proof of its own (docs/PROTOCOL.md "Payment channels and claims").
 *
 * @module
 */
import type { Hex } from "viem";
import type {
  OnChainChannel,
  OnChainParticipant,
  SubmittedProof,
  SubmittedProofs,
} from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { TouchedChannels } from "../../chain/channel_event_feed.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { changeChannel } from "../../state/channels/channel_writer.ts";
import type { ClaimBook } from "../../state/channels/channel_book.ts";
import { recordWithClaimBook } from "../../state/channels/file_channel_book.ts";
import { settleFields } from "./channel_settle.ts";
import { type ChannelSettlement, settleOrBook } from "./settle_or_book.ts";

export { ChannelNotOnChainError } from "./settle_or_book.ts";

/** The chain calls a sync needs: `TokenNetworkClient` fits. */
export interface ChannelChain {
  getChannel(channelId: Hex): Promise<OnChainChannel>;
  /** Unix time of the latest block (the contract's clock). */
  chainTime(): Promise<bigint>;
  updateNonClosingBalanceProof(channelId: Hex, proof: SubmittedProof): Promise<Hex>;
  settleChannel(channelId: Hex): Promise<Hex>;
  /** Whether the contract ever opened the channel (`TokenNetworkClient.channelExisted`). */
  channelExisted(channelId: Hex, openTx?: Hex): Promise<boolean>;
  /**
   * The channels with on-chain events after a feed cursor, the `head` of the last answer
   * (chain/channel_event_feed.ts); without it the watcher reads every channel at every poll.
   */
  touchedChannels?(since: bigint | undefined): Promise<TouchedChannels>;
  /**
   * The balance proofs a close on chain left, by signer (`TokenNetworkClient.submittedProofs`):
   * a settle someone else sent is booked by them; without it the file keeps its own amounts.
   */
  submittedProofs?(
    channelId: Hex,
    openTx?: Hex,
  ): Promise<SubmittedProofs | undefined>;
}

/** What the chain says changed; `action` is the audit verb (update, close, settle). */
export interface ChannelSync {
  record: ChannelRecord;
  /** Undefined when the record was already up to date. */
  action?: "update" | "close" | "settle";
  /** Extra audit lines (transactions sent, the proof submitted). */
  fields: Record<string, string>;
}

/**
 * Lays a synced record over the record as it is now: the chain's fields (status, settleAt,
 * deposits, withdrawals) from `synced`, the claim counters from whichever is newer (claims
 * may have been written while the chain was read), and a settle's booked amounts. A record
 * already settled (another process booked the settle first) stays settled, its booked amounts
 * never lowered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeChainSync } from "./channel_chain_sync.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * // The chain says closed; a claim (nonce 2) was written while the chain was read.
 * const synced = { ...record, status: "closed" as const, settleAt: 99n, sent: 100n, sentNonce: 1n };
 * const now = { ...record, sent: 250n, sentNonce: 2n };
 * const merged = mergeChainSync(now, synced);
 * assert.deepEqual([merged.status, merged.settleAt, merged.sent], ["closed", 99n, 250n]);
 * ```
 */
export function mergeChainSync(current: ChannelRecord, synced: ChannelRecord): ChannelRecord {
  // Settled is final, unless the chain has the channel open (a chain reset, an id used again).
  if (current.status === "settled" && synced.status !== "open") {
    return mergeOverSettled(current, synced);
  }
  const next: ChannelRecord = {
    ...current,
    // A co-signed final balance (H1's "closing") stays until the chain says closed or settled.
    status: current.status === "closing" && synced.status === "open" ? "closing" : synced.status,
    settleAt: synced.settleAt,
    deposit: max(current.deposit, synced.deposit),
    peerDeposit: max(current.peerDeposit, synced.peerDeposit),
    withdrawn: max(current.withdrawn, synced.withdrawn),
    peerWithdrawn: max(current.peerWithdrawn, synced.peerWithdrawn),
  };
  // Settled: the amounts the settle paid by ({@linkcode settledBooks}) replace the file's, but
  // only where no newer claim landed while the chain was read.
  const settled = synced.status === "settled";
  if (
    synced.sentNonce > current.sentNonce ||
    (settled && synced.sentNonce === current.sentNonce)
  ) {
    next.sentNonce = synced.sentNonce;
    next.sent = synced.sent;
  }
  if (
    synced.receivedNonce > current.receivedNonce ||
    (settled && synced.receivedNonce === current.receivedNonce)
  ) {
    next.receivedNonce = synced.receivedNonce;
    next.received = synced.received;
    next.receivedSignature = synced.receivedSignature;
  }
  return next;
}

/**
 * A sync laid over a record already settled (another process settled and booked it while the
 * chain was read: a `channel close` beside the node's watcher): a sync read before the settle
 * (closed) does not move it back, and a second booking of the same settle does not lower what the
 * first booked (a read of the channel once the chain forgot it sees zeros).
 */
function mergeOverSettled(current: ChannelRecord, synced: ChannelRecord): ChannelRecord {
  if (synced.status !== "settled") return current;
  const next = { ...current };
  if (synced.sent > current.sent) {
    next.sent = synced.sent;
    next.sentNonce = max(current.sentNonce, synced.sentNonce);
  }
  if (synced.received > current.received) {
    next.received = synced.received;
    next.receivedNonce = synced.receivedNonce;
    next.receivedSignature = synced.receivedSignature;
  }
  return next;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Options for {@linkcode syncChannelWithChain}. */
export interface SyncChannelOptions {
  /** Settle a closed channel once its settle timeout is over. Default false. */
  autoSettle?: boolean;
  /** Submit our newest claim when the peer closed with an older one. Default true. */
  defend?: boolean;
}

/**
 * A record with the chain's newer numbers: status, settleAt, deposits (never lowered), and a
 * balance proof on chain newer than the file's (its nonce is higher).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyChainState } from "./channel_chain_sync.ts";
 * import type { OnChainChannel } from "../../chain/token_network_client.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * const onChain: OnChainChannel = { channelId: record.channelId, state: "opened" as const, participant1: self,
 *   participant2: peer, settleTimeout: 3600n, settleAt: 0n, closer: peer, participants: {
 *     [self]: { deposit: 1000n, withdrawn: 0n, nonce: 0n, transferredAmount: 0n },
 *     [peer]: { deposit: 500n, withdrawn: 0n, nonce: 0n, transferredAmount: 0n },
 *   } };
 * // The peer deposited 500 and closed: the record takes both.
 * const next = applyChainState(record, { ...onChain, state: "closed", settleAt: 99n });
 * assert.deepEqual([next.status, next.peerDeposit, next.settleAt], ["closed", 500n, 99n]);
 * ```
 */
export function applyChainState(record: ChannelRecord, onChain: OnChainChannel): ChannelRecord {
  const self = grown(onChain.participants[record.selfAddress.toLowerCase()], {
    deposit: record.deposit,
    withdrawn: record.withdrawn,
    nonce: record.sentNonce,
    amount: record.sent,
  });
  const peer = grown(onChain.participants[record.peerAddress.toLowerCase()], {
    deposit: record.peerDeposit,
    withdrawn: record.peerWithdrawn,
    nonce: record.receivedNonce,
    amount: record.received,
  }, true);
  return {
    ...record,
    status: onChain.state === "closed" ? "closed" : onChain.state === "opened"
      // Co-signed final balances stay final: the gate must not take claims again.
      ? (record.status === "closing" ? "closing" : "open")
      : "settled",
    settleAt: onChain.settleAt,
    deposit: self.deposit,
    withdrawn: self.withdrawn,
    sentNonce: self.nonce,
    sent: self.amount,
    peerDeposit: peer.deposit,
    peerWithdrawn: peer.withdrawn,
    receivedNonce: peer.nonce,
    received: peer.amount,
  };
}

/** One side's books: the channel file's numbers, or the chain's where the chain is further on. */
interface SideBooks {
  deposit: bigint;
  withdrawn: bigint;
  nonce: bigint;
  amount: bigint;
}

function grown(
  onChain: OnChainParticipant | undefined,
  ours: SideBooks,
  neverLower = false,
): SideBooks {
  if (onChain === undefined) return ours;
  // What the peer paid us is never lowered by the chain: a proof there with a higher nonce and
  // a lower amount is not evidence that it owes less (it is disputed, not booked).
  const newerProof = onChain.nonce > ours.nonce &&
    !(neverLower && onChain.transferredAmount < ours.amount);
  return {
    deposit: onChain.deposit > ours.deposit ? onChain.deposit : ours.deposit,
    withdrawn: onChain.withdrawn > ours.withdrawn ? onChain.withdrawn : ours.withdrawn,
    nonce: newerProof ? onChain.nonce : ours.nonce,
    amount: newerProof ? onChain.transferredAmount : ours.amount,
  };
}

/**
 * Reads the channel on chain and returns the record the chain implies, acting on chain when
 * the peer closed with an older proof of theirs than we hold (and, with `autoSettle`, when the
 * settle timeout is over). Nothing is written: the caller lays `record` over the file with
 * `action` (state/channels/channel_writer.ts).
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_watcher_test.ts.
 */
export async function syncChannelWithChain(
  record: ChannelRecord,
  chain: ChannelChain,
  options: SyncChannelOptions = {},
): Promise<ChannelSync> {
  const fields: Record<string, string> = {};
  if (record.status === "settled") return { record, fields };
  const onChain = await chain.getChannel(record.channelId);
  if (onChain.state === "none") {
    // Settled before this look (by the peer): booked by the proofs it paid by, or by the file
    // when the logs are unreadable (roles/channels/settle_or_book.ts).
    const settlement = await settleOrBook(chain, record, onChain);
    return { record: settledRecord(record, settlement, fields), action: "settle", fields };
  }
  let next = applyChainState(record, onChain);
  if (onChain.state === "closed") {
    const now = await chain.chainTime();
    const peer = onChain.participants[record.peerAddress.toLowerCase()];
    const ours = partnerProof(record);
    const paid = peer?.transferredAmount ?? 0n;
    if (ours && paid < ours.taken) {
      const answerable = peer !== undefined && ours.nonce > peer.nonce && now <= onChain.settleAt;
      if (options.defend !== false && answerable) {
        fields.UpdateTx = await chain.updateNonClosingBalanceProof(record.channelId, ours);
        fields.Nonce = ours.nonce.toString();
        fields.Claimed = ours.transferredAmount.toString();
        fields.Taken = ours.taken.toString();
      }
      // Said once: when the close is first seen, or when it is answered.
      if (record.status !== "closed" || fields.UpdateTx) {
        fields.Disputed = `the chain would pay ${paid} of the ${ours.taken} our newest claim ` +
          `takes` +
          (fields.UpdateTx ? "; answered with it" : answerable ? "" : "; too late to answer");
      }
    }
    if (options.autoSettle && now > onChain.settleAt) {
      // Read again past the timeout (an update may have landed since the first read, none can
      // land after it): the settle pays by those proofs. Settled by another transaction first
      // (the peer, a CLI run), or gone since the first read: booked all the same.
      const settlement = await settleOrBook(chain, record);
      if (settlement) next = settledRecord(next, settlement, fields);
    }
  }
  const action = next.status !== record.status
    ? (next.status === "settled" ? "settle" : next.status === "closed" ? "close" : "update")
    : stateKey(next) !== stateKey(record) || Object.keys(fields).length > 0
    ? "update"
    : undefined;
  return { record: next, action, fields };
}

/**
 * `record` settled as `settlement` paid it: by its proofs ({@linkcode settledBooks}), or by the
 * file's own amounts when there are none (audit `Booked` when the logs were unreadable).
 */
function settledRecord(
  record: ChannelRecord,
  settlement: ChannelSettlement | undefined,
  fields: Record<string, string>,
): ChannelRecord {
  const outcome = settlement?.outcome;
  if (outcome !== undefined && outcome.by !== "gone") {
    Object.assign(fields, settleFields(outcome, "SettleTx"));
  }
  if (settlement?.unreadable !== undefined) {
    fields.Booked = `by the file: logs unreadable (${settlement.unreadable})`;
  }
  const proofs = settlement?.proofs;
  return { ...(proofs ? settledBooks(record, proofs, fields) : record), status: "settled" };
}

/**
 * `record` with a town's shared books' newest claim and delivered value (`forwarded`) when the
 * books are at least as new as the record: what every process took and delivered, so a close or
 * an update takes that, no more (a town on several processes, state/postgres/postgres_claim_books.ts).
 * The fields are written as the file backend writes a book (state/channels/file_channel_book.ts
 * `recordWithClaimBook`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withBookClaim } from "./channel_chain_sync.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * const next = withBookClaim(record, {
 *   channelId: record.channelId, nonce: 9n, claimed: 900n, forwarded: 700n, signature: "0x00",
 * });
 * assert.deepEqual([next.received, next.receivedNonce, next.receivedForwarded], [900n, 9n, 700n]);
 * ```
 */
export function withBookClaim(record: ChannelRecord, book: ClaimBook | undefined): ChannelRecord {
  if (book === undefined || book.nonce < record.receivedNonce) return record;
  if (book.nonce === record.receivedNonce && book.forwarded === record.receivedForwarded) {
    return record;
  }
  // The book's `received*` fields as the file backend writes them, `forwarded` exact.
  return recordWithClaimBook(record, book, true);
}

/** The peer's newest proof this side holds, and what it takes of it on chain. */
export interface PartnerProof extends SubmittedProof {
  /** What was delivered against it (never above `transferredAmount`). */
  taken: bigint;
}

/**
 * The peer's newest claim this side holds, as submitted on chain by a close or an update: a
 * town takes what it delivered against it (`receivedForwarded`), not the cover of packets it
 * refused after taking their claim, as a cooperative settle does; undefined without a claim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partnerProof } from "./channel_chain_sync.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * assert.equal(partnerProof(record), undefined); // no claim of the peer's yet
 * const claimed = { ...record, received: 900n, receivedNonce: 9n, receivedForwarded: 700n,
 *   receivedSignature: `0x${"00".repeat(65)}` as const };
 * assert.deepEqual(partnerProof(claimed), { nonce: 9n, transferredAmount: 900n,
 *   signature: claimed.receivedSignature, taken: 700n });
 * ```
 */
export function partnerProof(record: ChannelRecord): PartnerProof | undefined {
  if (!record.receivedSignature || record.receivedNonce === 0n) return undefined;
  return {
    nonce: record.receivedNonce,
    transferredAmount: record.received,
    signature: record.receivedSignature,
    taken: delivered(record),
  };
}

/**
 * A channel closed on chain, as its settle pays it: what each side transferred is the amount
 * of its newest balance proof on chain (none: nothing), whatever this side's file says. The
 * file's `sent` can be ahead: claims signed for packets the peer never took (no answer came;
 * docs/OPERATIONS.md "Payment channels"), and the settle gave them back. They are the audit
 * line's `Unclaimed`; a claim of the peer's held here but never submitted, its `Unsubmitted`.
 * `onChain` is the closed channel's participants, or the proofs its close and updates left
 * (`TokenNetworkClient.submittedProofs`), keyed by lowercase address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settledBooks } from "./channel_chain_sync.ts";
 * import { newChannelRecord } from "./channel_record_builder.ts";
 * import { resolveChainConfig } from "../../config/chain_config.ts";
 *
 * const chain = resolveChainConfig("evm:base:31337", { section: { rpc_url: "http://127.0.0.1:8545" } });
 * const self = "0x00000000000000000000000000000000000000a1";
 * const peer = "0x00000000000000000000000000000000000000b2";
 * const record = newChannelRecord(
 *   { chain, address: self, tokenNetworkAddress: `0x${"c1".repeat(20)}`, tokenAddress: `0x${"d1".repeat(20)}` },
 *   { channelId: `0x${"ab".repeat(32)}`, peerAddress: peer, settleTimeout: 3600n, deposit: 1000n },
 * );
 * // 300 sent in claims, but the peer's close took only the claim of 200.
 * const fields: Record<string, string> = {};
 * const booked = settledBooks({ ...record, sent: 300n, sentNonce: 3n }, {
 *   [self]: { transferredAmount: 200n },
 * }, fields);
 * assert.deepEqual([booked.sent, fields.Unclaimed], [200n, "100"]);
 * ```
 */
export function settledBooks(
  record: ChannelRecord,
  onChain: Readonly<Record<string, { transferredAmount: bigint }>>,
  fields: Record<string, string>,
): ChannelRecord {
  const sent = onChain[record.selfAddress.toLowerCase()]?.transferredAmount ?? 0n;
  const received = onChain[record.peerAddress.toLowerCase()]?.transferredAmount ?? 0n;
  if (sent < record.sent) fields.Unclaimed = `${record.sent - sent}`;
  // The cover of packets refused after their claim was taken: not taken, given back.
  if (received < record.received && received >= delivered(record)) {
    fields.NotTaken = `${record.received - received}`;
  } else if (received < record.received) {
    // This side held a newer claim of the peer's than the chain paid by (its update never landed).
    fields.Unsubmitted = `${record.received - received}`;
  }
  const booked: ChannelRecord = { ...record, sent, received };
  if (record.receivedForwarded !== undefined && record.receivedForwarded > received) {
    booked.receivedForwarded = received;
  }
  return booked;
}

/** Options for {@linkcode syncChannelFile}. */
export interface SyncChannelFileOptions extends SyncChannelOptions {
  stateDir: string;
  audit?: AuditLog;
}

/**
 * {@linkcode syncChannelWithChain}, then saves the channel file and audit when it changed
 * (the CLI's `--refresh`; a running node goes through its own writer instead).
 *
 * It reads the chain: no example that runs here:
 * tests/interop/anvil_channel_unanswered_claim_test.ts.
 */
export async function syncChannelFile(
  record: ChannelRecord,
  chain: ChannelChain,
  options: SyncChannelFileOptions,
): Promise<ChannelRecord> {
  const sync = await syncChannelWithChain(record, chain, options);
  if (!sync.action) return sync.record;
  // Laid over the file as it is now: claims may have been written while the chain was read.
  return await changeChannel(record, (now) => mergeChainSync(now, sync.record), {
    stateDir: options.stateDir,
    audit: options.audit,
    action: sync.action,
    fields: sync.fields,
  });
}

/** What a payee delivered against the peer's claims: `receivedForwarded`, at most `received`. */
function delivered(record: ChannelRecord): bigint {
  const forwarded = record.receivedForwarded ?? record.received;
  return forwarded < record.received ? forwarded : record.received;
}

function stateKey(r: ChannelRecord): string {
  const amounts = [r.deposit, r.peerDeposit, r.sent, r.sentNonce, r.received, r.settleAt];
  return [r.status, ...amounts, r.withdrawn, r.peerWithdrawn].join("|");
}

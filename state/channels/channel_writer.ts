/**
 * The one writer of channel files: every change of a channel's record in this process goes
 * through here, one write at a time per channel, each starting from the record the one before
 * wrote. Callers say what happened rather than hand over a whole record to overwrite:
 *
 * - {@linkcode recordChannel}: a record starts here (a channel opened, learned from a claim,
 *   recovered from the chain, a payout channel funded);
 * - {@linkcode changeChannel}: a change of the record (a close, a settle, a withdrawal, a
 *   top-up, what the chain says changed, a newer claim of the shared books);
 * - {@linkcode openChannelFileWriter}: a running node's claims (received or signed, coalesced)
 *   and the chain watcher's changes of one channel; {@linkcode openSentClaimWriter} is the
 *   payer's.
 *
 * A change is applied to the record in the file as it is when the write starts (the caller's
 * record only when there is no readable file), so two writers of one channel (a town paying out
 * over the channel it is paid on, a command run beside a node) never undo each other's fields.
 *
 * @module
 */
import type { AuditLog } from "../audit/audit_log.ts";
import { CoalescedWriter } from "../coalesced_writer.ts";
import { KeyedTurns } from "../keyed_turns.ts";
import {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "./channel_file.ts";

/** Where and how one write of a channel's record is kept. */
export interface ChannelWriteOptions {
  /** The node's state dir; the file goes to `channels/<id>.toml` in it. */
  stateDir: string;
  /** Audit log to record the change in; none: the file only. */
  audit?: AuditLog;
  /** Audit verb: open, learn, recover, update, close, settle, withdraw, topup. */
  action: string;
  /** Extra `Key: Value` lines. */
  fields?: Record<string, string>;
}

// One queue per channel file in this process; let go once it runs empty.
const writes = new KeyedTurns();

/** Most channel files whose last record written here is kept (the oldest let go first). */
const MAX_KEPT = 10_000;

// The record this process last wrote to each channel file, with that file's inode, birth and
// modification times and size: while the file at the path is still that one, a change starts
// from the record kept instead of reading and parsing the file again (a claim's write did both).
// Another writer (a command beside the node) replaces the file atomically: a new inode, born
// later, so its record is read.
const kept = new Map<string, { record: ChannelRecord; file: Deno.FileInfo }>();

function keep(path: string, record: ChannelRecord, file: Deno.FileInfo): void {
  kept.delete(path);
  // Copies in and out (the record is flat): a caller changing its object changes no kept one.
  kept.set(path, { record: { ...record }, file });
  if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!);
}

// Without a birth time (a file system that keeps none) an inode freed and given to another
// writer's file in the same millisecond could pass for this one: such files are always read.
function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino !== null && a.ino === b.ino && a.dev === b.dev && a.size === b.size &&
    a.birthtime !== null && a.birthtime.getTime() === b.birthtime?.getTime() &&
    a.mtime !== null && a.mtime.getTime() === b.mtime?.getTime();
}

/** The record last written here, while the file is still the one written (a stat, no read). */
function keptRecord(path: string): ChannelRecord | undefined {
  const last = kept.get(path);
  if (last === undefined) return undefined;
  try {
    if (sameFile(Deno.statSync(path), last.file)) return { ...last.record };
  } catch {
    // Gone or unreadable: read it as before.
  }
  kept.delete(path);
  return undefined;
}

async function current(path: string, base: ChannelRecord): Promise<ChannelRecord> {
  const last = keptRecord(path);
  if (last !== undefined) return last;
  try {
    return await readChannel(path);
  } catch (err) {
    // No file yet, or one `channel recover` would rebuild: the caller's record is the truth.
    if (err instanceof Deno.errors.NotFound || err instanceof ChannelFileError) return base;
    throw err;
  }
}

/**
 * Writes a channel's record as it starts (open, learn, recover): the whole record, after the
 * channel's writes already queued.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelFilePath, type ChannelRecord, readChannel } from "./channel_file.ts";
 * import { recordChannel } from "./channel_writer.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * await recordChannel(record, { stateDir, action: "open" });
 * assert.deepEqual(await readChannel(channelFilePath(stateDir, record.channelId)), record);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function recordChannel(
  record: ChannelRecord,
  options: ChannelWriteOptions,
): Promise<ChannelRecord> {
  const path = channelFilePath(options.stateDir, record.channelId);
  return writes.run(path, async () => {
    keep(path, record, await saveChannel(record, options));
    return record;
  });
}

/**
 * Changes a channel's record: `change` gets the record in its file when the write starts
 * (`base`, the caller's copy, when there is no readable file) and what it returns is written.
 * Resolves with the record written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelRecord } from "./channel_file.ts";
 * import { changeChannel, recordChannel } from "./channel_writer.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * const opened = await recordChannel(record, { stateDir, action: "open" });
 * const [withdrawn, toppedUp] = await Promise.all([
 *   changeChannel(opened, (r) => ({ ...r, withdrawn: 5n }), { stateDir, action: "withdraw" }),
 *   changeChannel(opened, (r) => ({ ...r, deposit: r.deposit + 10n }), { stateDir, action: "topup" }),
 * ]);
 * assert.equal(withdrawn.withdrawn, 5n);
 * assert.equal(toppedUp.withdrawn, 5n); // the second starts from the first's record
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function changeChannel(
  base: ChannelRecord,
  change: (record: ChannelRecord) => ChannelRecord,
  options: ChannelWriteOptions,
): Promise<ChannelRecord> {
  return changeInTurn(base, change, options);
}

/** {@linkcode changeChannel}, with `written` told of the record before the next write starts. */
function changeInTurn(
  base: ChannelRecord,
  change: (record: ChannelRecord) => ChannelRecord,
  options: ChannelWriteOptions,
  written?: (record: ChannelRecord) => void,
): Promise<ChannelRecord> {
  const path = channelFilePath(options.stateDir, base.channelId);
  return writes.run(path, async () => {
    const next = change(await current(path, base));
    keep(path, next, await saveChannel(next, options));
    written?.(next);
    return next;
  });
}

/** Options for {@linkcode openChannelFileWriter}. */
export interface ChannelFileWriterOptions<C extends { nonce: bigint }> {
  /** The node's state dir; the file goes to `channels/<id>.toml` in it. */
  stateDir: string;
  /** The channel's record as last written. */
  record: ChannelRecord;
  /** Audit log to record the changes in; none: the file only. */
  audit?: AuditLog;
  /** The record with a claim in it: the sender's `sent*` fields, or the receiver's `received*`. */
  withClaim(record: ChannelRecord, claim: C): ChannelRecord;
  /**
   * Told of each record an `update` wrote, before the next write starts (the town's gate stops
   * taking claims on a channel that is no longer open).
   */
  onUpdate?(record: ChannelRecord): void;
}

/** One channel file's writer: the claims, coalesced, and other changes, in one order. */
export interface ChannelFileWriter<C extends { nonce: bigint }> {
  /** Resolves once the claim (or a newer one) is in the channel file. */
  save(claim: C): Promise<void>;
  /** Resolves once the newest claim saved so far is in the channel file. */
  durable(): Promise<void>;
  /** The record as last written. */
  record(): ChannelRecord;
  /** Writes another change of the record (the chain watcher), ordered with the claim writes. */
  update(
    change: (record: ChannelRecord) => ChannelRecord,
    save: { action: string; fields?: Record<string, string> },
  ): Promise<ChannelRecord>;
}

/**
 * Writes a channel's claims into its file (coalesced: one atomic write covers every claim saved
 * meanwhile; audit `turnpike: payment channel <id> updated`, `Nonce`) and its other changes, each
 * write starting from the record the previous one wrote, so neither kind overwrites the other.
 * Both sides of a channel keep their file through it: the payer the claims it signs, the town
 * the claims it accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelRecord } from "./channel_file.ts";
 * import { openChannelFileWriter } from "./channel_writer.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * const file = openChannelFileWriter<{ nonce: bigint; transferredAmount: bigint }>({
 *   stateDir,
 *   record,
 *   withClaim: (r, c) => ({ ...r, sent: c.transferredAmount, sentNonce: c.nonce }),
 * });
 * await file.save({ nonce: 1n, transferredAmount: 10n });
 * assert.equal(file.record().sent, 10n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function openChannelFileWriter<C extends { nonce: bigint }>(
  options: ChannelFileWriterOptions<C>,
): ChannelFileWriter<C> {
  let record = options.record;
  const save = (
    change: (record: ChannelRecord) => ChannelRecord,
    write: { action: string; fields?: Record<string, string> },
    told: (before: ChannelRecord, next: ChannelRecord) => boolean,
  ) =>
    changeInTurn(
      record,
      change,
      { stateDir: options.stateDir, audit: options.audit, ...write },
      (next) => {
        const before = record;
        record = next;
        if (told(before, next)) options.onUpdate?.(next);
      },
    );
  const writer = new CoalescedWriter<C>({
    write: async (claim) => {
      // Another writer of the channel may have changed its status (a close): told as an update.
      await save((r) => options.withClaim(r, claim), {
        action: "update",
        fields: { Nonce: claim.nonce.toString() },
      }, (before, next) => next.status !== before.status);
    },
  });
  return {
    save: (claim) => writer.save(claim),
    durable: () => writer.durable(),
    record: () => record,
    update: (change, write) => save(change, write, () => true),
  };
}

/** Options for {@linkcode openSentClaimWriter}. */
export interface SentClaimWriterOptions {
  /** The node's state dir; the file goes to `channels/<id>.toml` in it. */
  stateDir: string;
  /** The channel's record; `sent`/`sentNonce` are updated from the claims saved. */
  record: ChannelRecord;
  /** Audit log to record the changes in; none: the file only. */
  audit?: AuditLog;
}

/** The sender's side of a channel file: saves each claim signed before it is sent. */
export type SentClaimWriter = ChannelFileWriter<{ nonce: bigint; transferredAmount: bigint }>;

/**
 * Writes the claims a node signs into its channel file (`sent`, `sentNonce`; see
 * {@linkcode openChannelFileWriter}). Made for `BtpClient`'s `claims.persist`: a claim is on disk
 * before it leaves, so a restarted node never signs a nonce twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChannelRecord, channelFilePath, readChannel } from "./channel_file.ts";
 * import { openSentClaimWriter } from "./channel_writer.ts";
 *
 * const record: ChannelRecord = {
 *   channelId: `0x${"ab".repeat(32)}`, chain: "evm:base:31337", chainId: 31337, network: "local",
 *   tokenNetworkAddress: `0x${"cd".repeat(20)}`, tokenAddress: `0x${"ef".repeat(20)}`, tokenSymbol: "M2M",
 *   tokenDecimals: 6, selfAddress: `0x${"12".repeat(20)}`, peerAddress: `0x${"34".repeat(20)}`, status: "open",
 *   deposit: 50_000_000n, peerDeposit: 0n, withdrawn: 0n, peerWithdrawn: 0n, sent: 0n, sentNonce: 0n, received: 0n,
 *   receivedNonce: 0n, settleTimeout: 3600n, settleAt: 0n, openedAt: "2026-11-25T12:00:00.000Z", warnPercent: 20,
 * };
 * const stateDir = await Deno.makeTempDir();
 * const sent = openSentClaimWriter({ stateDir, record });
 * // a BtpClient's `claims.persist`: each claim is in the file before it is sent
 * await sent.save({ nonce: 1n, transferredAmount: 1500n });
 * assert.equal((await readChannel(channelFilePath(stateDir, record.channelId))).sent, 1500n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function openSentClaimWriter(options: SentClaimWriterOptions): SentClaimWriter {
  return openChannelFileWriter({
    ...options,
    withClaim: (r, claim) => ({ ...r, sent: claim.transferredAmount, sentNonce: claim.nonce }),
  });
}

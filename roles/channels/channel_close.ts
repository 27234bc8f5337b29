/**
 * Closing a channel, step by step as the chain allows (`turnpike channel close` runs it; run it
 * again to go on): an open channel is settled at once with the peer's co-signature over BTP
 * (`closeCooperatively`); when the peer does not answer or refuses, it is closed unilaterally
 * with the newest claim the peer signed to us, taken at what was delivered against it
 * (`partnerProof`: the refused packets' cover is not taken); a closed one is settled once its settle timeout
 * has passed. Every step is on the channel file (and the audit trail) before this returns.
 * The caller holds the channel's lock (`state/channels/channel_lock.ts`) and syncs the file with the chain
 * first.
 *
 * A town on several processes keeps the newest claim of each channel in its shared books
 * (`state/postgres/postgres_claim_books.ts`), ahead of any one process's file: {@linkcode withBooksClaim}
 * lifts the file to it before a close.
 *
 * @module
 */
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { changeChannel } from "../../state/channels/channel_writer.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import {
  BtpAuthError,
  type BtpClient,
  BtpClosedError,
  BtpConnectionError,
  BtpTimeoutError,
} from "../../transport/btp_client.ts";
import { mergeChainSync, partnerProof, settledBooks, withBookClaim } from "./channel_chain_sync.ts";
import type { CooperativeSettleAgreement } from "./channel_cosign_request.ts";
import { closeCooperatively } from "./channel_cosign_chain.ts";
import { settleFields } from "./channel_settle.ts";
import { settleOrBook } from "./settle_or_book.ts";

/** Options for {@linkcode closeChannelStep}. */
export interface CloseChannelOptions {
  /** The chain client of this node's account (submits the transactions). */
  client: TokenNetworkClient;
  /** The channel's file, synced with the chain. */
  record: ChannelRecord;
  signer: NodeSigner;
  stateDir: string;
  audit?: AuditLog;
  /** Skip asking the peer to co-sign; close on chain alone. */
  unilateral?: boolean;
  /** Connects to the peer (the town) over BTP for its co-signature. */
  connectPeer: () => Promise<BtpClient>;
  /** Told why the peer did not co-sign, before the unilateral close is sent. */
  onCosignRefused?: (why: string) => void;
}

/** What {@linkcode closeChannelStep} did. */
export type ChannelCloseStep =
  | {
    /** Settled at once with the peer's co-signature. */
    kind: "settled-cooperatively";
    record: ChannelRecord;
    tx: `0x${string}`;
    agreement: CooperativeSettleAgreement;
    /** Milliseconds from asking the peer to the settle mined. */
    ms: number;
  }
  | {
    /** Closed unilaterally; settle after `record.settleAt` (run the step again then). */
    kind: "closed";
    record: ChannelRecord;
    tx: `0x${string}`;
    /** Why the peer did not co-sign; undefined when it was not asked (`unilateral`). */
    cosignRefused?: string;
  }
  | {
    /** Closed earlier; the settle timeout has not passed (`settleAt`, chain seconds). */
    kind: "waiting";
    record: ChannelRecord;
    settleAt: bigint;
  }
  | {
    /** Settled after its timeout: by our transaction `tx`, or by another sent first. */
    kind: "settled";
    record: ChannelRecord;
    /** Our settle; undefined when another transaction settled it first (`settledBy`). */
    tx?: `0x${string}`;
    /** Another transaction settled it first, and why ours was refused (the audit field). */
    settledBy?: string;
  }
  | {
    /** Nothing to do: the chain has no open or closed channel of that id (already settled). */
    kind: "none";
    record: ChannelRecord;
  };

/**
 * Takes the next step towards a settled channel, as described in the module doc.
 *
 * It needs a chain and the channel's peer: no example that runs here:
 * tests/interop/anvil_channel_settle_race_test.ts.
 */
export async function closeChannelStep(options: CloseChannelOptions): Promise<ChannelCloseStep> {
  const { client, stateDir, audit } = options;
  let record = options.record;
  const onChain = await client.getChannel(record.channelId);
  if (onChain.state === "opened") {
    let cosignRefused: string | undefined;
    if (!options.unilateral) {
      const settled = await settleCooperatively(options);
      if (!("why" in settled)) return { kind: "settled-cooperatively", ...settled };
      cosignRefused = settled.why;
      options.onCosignRefused?.(cosignRefused);
    }
    // The peer's newest claim, taken at what was delivered against it (never our own proof:
    // the contract refuses it).
    const tx = await client.closeChannel(record.channelId, partnerProof(record));
    const after = await client.getChannel(record.channelId);
    record = await changeChannel(
      record,
      (r) => ({ ...r, status: "closed", settleAt: after.settleAt }),
      {
        stateDir,
        audit,
        action: "close",
        fields: { Tx: tx },
      },
    );
    return { kind: "closed", record, tx, cosignRefused };
  }
  if (onChain.state === "closed") {
    if (await client.chainTime() <= onChain.settleAt) {
      return { kind: "waiting", record, settleAt: onChain.settleAt };
    }
    // Read again now that the timeout is over (an update may have landed since the first read,
    // none can land after it) and settled by those proofs. The node's watcher (or the peer) may
    // settle it at the same moment: settled before our settle, it is settled all the same, by the
    // same proofs (roles/channels/channel_settle.ts); settled before that read, the chain has
    // forgotten the channel (its participants read back zero) and the settle is booked by the
    // proofs its close left in the logs (roles/channels/settle_or_book.ts), never by the zeros.
    const settlement = await settleOrBook(client, record);
    if (settlement === undefined) return { kind: "waiting", record, settleAt: onChain.settleAt };
    const { outcome, proofs } = settlement;
    const fields: Record<string, string> = outcome.by === "gone"
      ? { SettledBy: "another transaction first (the channel was gone when read again)" }
      : settleFields(outcome, "Tx");
    if (settlement.unreadable !== undefined) {
      fields.Booked = `by the file: logs unreadable (${settlement.unreadable})`;
    }
    // Booked as the settle paid: by the proofs on chain (claims the peer never took come back).
    // Booked already (the node's watcher settled it too): a second booking never lowers it.
    record = await changeChannel(
      record,
      (r) => {
        const booked: ChannelRecord = {
          ...(proofs ? settledBooks(r, proofs, fields) : r),
          status: "settled",
        };
        return r.status === "settled" ? mergeChainSync(r, booked) : booked;
      },
      { stateDir, audit, action: "settle", fields },
    );
    return outcome.by === "us"
      ? { kind: "settled", record, tx: outcome.tx }
      : { kind: "settled", record, settledBy: fields.SettledBy };
  }
  return { kind: "none", record };
}

/** The cooperative settle, or why the peer would not (errors that are not the peer's throw). */
async function settleCooperatively(
  options: CloseChannelOptions,
): Promise<
  | { record: ChannelRecord; tx: `0x${string}`; agreement: CooperativeSettleAgreement; ms: number }
  | { why: string }
> {
  let peer: BtpClient | undefined;
  try {
    peer = await options.connectPeer();
    const started = performance.now();
    const done = await closeCooperatively({
      peer,
      chain: options.client,
      record: options.record,
      signer: options.signer,
      stateDir: options.stateDir,
      audit: options.audit,
    });
    return { ...done, ms: Math.round(performance.now() - started) };
  } catch (err) {
    const why = cosignFailure(err);
    if (why === undefined) throw err;
    return { why };
  } finally {
    await peer?.close();
  }
}

/**
 * Why a co-sign request failed, for the user; undefined for an error that is not the peer's (it
 * should be thrown on).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
 * import { cosignFailure } from "./channel_close.ts";
 * assert.equal(cosignFailure(new ChannelCosignError("bad-signature", "no")), "no (bad-signature)");
 * assert.equal(cosignFailure(new Error("other")), undefined);
 * ```
 */
export function cosignFailure(err: unknown): string | undefined {
  if (err instanceof ChannelCosignError) {
    return err.fromPeer
      ? `${err.detail} (peer refused: ${err.reason})`
      : `${err.detail} (${err.reason})`;
  }
  if (isPeerUnreachable(err)) return `${err.message} (peer unavailable)`;
  return undefined;
}

/**
 * The BTP connection to the peer failed (as opposed to the peer answering).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPeerUnreachable } from "./channel_close.ts";
 * import { BtpConnectionError } from "../../transport/btp_client.ts";
 * assert.equal(isPeerUnreachable(new BtpConnectionError("refused")), true);
 * assert.equal(isPeerUnreachable(new Error("x")), false);
 * ```
 */
export function isPeerUnreachable(
  err: unknown,
): err is BtpConnectionError | BtpAuthError | BtpTimeoutError | BtpClosedError {
  return err instanceof BtpConnectionError || err instanceof BtpAuthError ||
    err instanceof BtpTimeoutError || err instanceof BtpClosedError;
}

/**
 * The record with the newest claim of a town's shared books when it is newer than the file's,
 * saved to the channel file; the record as it is otherwise.
 *
 * It reads a town's shared books in PostgreSQL: no example that runs here:
 * tests/e2e/town_shared_cosign_test.ts.
 * @throws {ClaimBooksError} when the database cannot be reached.
 */
export async function withBooksClaim(
  record: ChannelRecord,
  storeUrl: string,
  stateDir: string,
): Promise<ChannelRecord> {
  const books = await openPostgresClaimBooks({ url: storeUrl });
  try {
    const book = await books.read(record.channelId);
    if (withBookClaim(record, book) === record) return record;
    return await changeChannel(record, (r) => withBookClaim(r, book), {
      stateDir,
      action: "update",
    });
  } finally {
    await books.close();
  }
}

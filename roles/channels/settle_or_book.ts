/**
 * Settling a closed channel, or booking the settle someone else made first: the one rule a
 * channel's sync (roles/channels/channel_chain_sync.ts, the file-backed nodes and the town's
 * payout channels) and the shared payout watch of a town on PostgreSQL
 * (roles/town/channels/shared_payout_watch.ts) both follow (docs/ARCHITECTURE.md "Settling, and
 * the town's watch of its payout channels"):
 *
 * - open, or closed with its settle timeout not over: nothing to do (`undefined`);
 * - closed past the timeout: settled through {@linkcode settleClosedChannel} (ours, or another
 *   transaction first), paid by the proofs on chain as read past the timeout (none can land
 *   after it);
 * - gone: settled before this look (the peer, or while the node was down), only for a channel
 *   the contract did open (else {@linkcode ChannelNotOnChainError}); paid by the proofs its close
 *   left in the logs. Logs behind the state (`LogsBehind`) are thrown: asked again at the next
 *   poll, and so are a timeout or an HTTP error on the way to the node. Logs the node refuses to
 *   serve at all (a JSON-RPC error: a capped range) leave no proofs and say why (`unreadable`):
 *   the caller books by its own books, so a settled channel does not fail every poll (docs/OPERATIONS.md "A settle someone else sent first").
 *
 * @module
 */
import type { Hex } from "viem";
import { RoleError } from "../role_error.ts";
import { ChainTxError, type OnChainChannel } from "../../chain/token_network_client.ts";
import { rpcRefusal } from "../../chain/rpc_refusal.ts";
import type { ChannelChain } from "./channel_chain_sync.ts";
import { type ChannelSettleOutcome, settleClosedChannel, settledBy } from "./channel_settle.ts";

/**
 * The configured chain does not know the channel at all: the RPC URL or contract is not the
 * one it was opened on (or a local anvil was restarted). The channel's books are left as they are.
 */
export class ChannelNotOnChainError extends RoleError {
  override name = "ChannelNotOnChainError";
  constructor(readonly channelId: string, readonly tokenNetworkAddress: string) {
    super(
      `channel ${channelId} was never opened by the TokenNetwork ${tokenNetworkAddress} on ` +
        "the configured chain: wrong rpc_url or contract?",
    );
  }
}

/** The channel to settle: its id, the transaction that opened it when known, its contract. */
export interface SettledChannelRef {
  channelId: Hex;
  /** Narrows the log reads to blocks from the open's and proves the contract opened it. */
  openTx?: Hex;
  tokenNetworkAddress: string;
}

/** How a closed channel was settled, and what it paid by. */
export interface ChannelSettlement {
  /** Our settle, another transaction first, or `gone`: settled before this look. */
  outcome: ChannelSettleOutcome | { by: "gone" };
  /**
   * The balance proofs the settle paid by, keyed by lowercase signer: a participant with none
   * was paid nothing. Undefined: nothing to read them from (a cooperative settle left none, the
   * chain client cannot read logs, or they are `unreadable`); the caller books by its own books.
   */
  proofs?: Readonly<Record<string, { transferredAmount: bigint }>>;
  /** Why the logs could not be read (the first line of the RPC's answer), when they could not. */
  unreadable?: string;
}

/**
 * Settles `channel` when it is closed past its settle timeout, or books it settled when the
 * chain no longer has it; undefined when it is open or not due. `onChain` is the channel as the
 * caller just read it (read again when absent: a settle pays by the proofs past the timeout).
 *
 * @throws {ChannelNotOnChainError} when the channel is gone and this contract never opened it;
 * `ChainTxError` `LogsBehind` while its settle is not in the logs yet; a settle's own error while
 * the channel is still on chain (roles/channels/channel_settle.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RpcRequestError } from "viem";
 * import type { ChannelChain } from "./channel_chain_sync.ts";
 * import { settleOrBook } from "./settle_or_book.ts";
 *
 * // Settled by the peer, on an RPC that refuses the log range.
 * const refusal = new RpcRequestError({
 *   body: { method: "eth_getLogs" },
 *   error: { code: -32602, message: "block range too wide" },
 *   url: "http://rpc",
 * });
 * const chain = {
 *   getChannel: () => Promise.resolve({ state: "none", settleAt: 0n, participants: {} }),
 *   channelExisted: () => Promise.resolve(true),
 *   submittedProofs: () => Promise.reject(refusal),
 * } as unknown as ChannelChain;
 * const settlement = await settleOrBook(chain, { channelId: "0x01", tokenNetworkAddress: "0x02" });
 * assert.equal(settlement?.outcome.by, "gone");
 * assert.ok(settlement?.unreadable?.includes("block range too wide"));
 * ```
 */
export async function settleOrBook(
  chain: ChannelChain,
  channel: SettledChannelRef,
  onChain?: OnChainChannel,
): Promise<ChannelSettlement | undefined> {
  const { channelId, openTx } = channel;
  const read = onChain ?? await chain.getChannel(channelId);
  if (read.state === "opened") return undefined;
  if (read.state === "closed") {
    if (await chain.chainTime() <= read.settleAt) return undefined;
    // Past the timeout no update can land: the settle pays by these proofs.
    return {
      outcome: await settleClosedChannel(chain, channelId, openTx),
      proofs: read.participants,
    };
  }
  // The contract deletes a settled channel; but a wrong RPC URL or contract, or a restarted
  // anvil, also answers "none", and "settled" is final: only for a channel it opened.
  if (!(await chain.channelExisted(channelId, openTx))) {
    throw new ChannelNotOnChainError(channelId, channel.tokenNetworkAddress);
  }
  const gone = { by: "gone" } as const;
  try {
    const proofs = await chain.submittedProofs?.(channelId, openTx);
    return proofs === undefined ? { outcome: gone } : { outcome: gone, proofs };
  } catch (err) {
    // Only the node's own refusal (a capped range) is final; logs behind the state, a timeout or
    // an HTTP 429/5xx are asked again at the next poll, nothing booked.
    if (err instanceof ChainTxError && err.reason === "LogsBehind") throw err;
    const unreadable = rpcRefusal(err);
    if (unreadable === undefined) throw err;
    return { outcome: gone, unreadable };
  }
}

/**
 * Who settled, in a line: our transaction, another first ({@linkcode settledBy}), or `the peer`
 * for a channel found gone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settlementBy } from "./settle_or_book.ts";
 *
 * assert.equal(settlementBy({ outcome: { by: "gone" } }), "the peer");
 * assert.equal(settlementBy({ outcome: { by: "us", tx: "0xab" } }), "0xab");
 * ```
 */
export function settlementBy(settlement: Pick<ChannelSettlement, "outcome">): string {
  const { outcome } = settlement;
  return outcome.by === "gone" ? "the peer" : settledBy(outcome);
}

/**
 * Settling a closed channel once its settle timeout is over, when someone else may settle it at
 * the same moment (docs/OPERATIONS.md "A settle someone else sent first"). `settleChannel` is
 * open to anyone, and more than one party settles: the payee's node (its watcher settles after
 * the timeout), `turnpike channel close` run again by its operator, the payer's own watcher. The
 * one that comes second is refused, in one of three ways depending on when it lost: its
 * simulation already saw the channel gone (`WrongChannelState(<id>, 0)`), the other settle was
 * mined between its simulation and its gas estimate (`Reverted()`: the node's answer carries no
 * reason), or both were sent and its transaction was mined second (`settleChannel reverted
 * (tx ...)`). None of these is a failure: the channel is settled, paid by the proofs on chain.
 * {@linkcode settleClosedChannel} reads the chain after a refusal and says so instead of
 * throwing; a refusal while the channel is still there is thrown as it was.
 *
 * @module
 */
import type { Hex } from "viem";
import type { ChannelChain } from "./channel_chain_sync.ts";

/** The chain calls a settle needs: `TokenNetworkClient` fits. */
export type SettleChain = Pick<ChannelChain, "getChannel" | "settleChannel" | "channelExisted">;

/** How a settle ended: our transaction, or another one that settled the channel first. */
export type ChannelSettleOutcome =
  | { by: "us"; tx: Hex }
  | {
    by: "another";
    /** Why ours was refused (the first line of its error). */
    refused: string;
  };

/**
 * Settles the closed channel `channelId`; when the settle is refused and the chain then has no
 * such channel while the contract did open it, another transaction settled it first: that is
 * the outcome, not an error.
 *
 * @throws the settle's own error when the channel is still on chain (a settle before the
 * timeout, an RPC down) or cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChainTxError } from "../../chain/token_network_client.ts";
 * import { type SettleChain, settleClosedChannel } from "./channel_settle.ts";
 *
 * // A chain where the payee's watcher settled the channel just before us.
 * const chain = {
 *   settleChannel: () =>
 *     Promise.reject(
 *       new ChainTxError("Reverted", "settleChannel refused by the contract: Reverted()"),
 *     ),
 *   getChannel: () => Promise.resolve({ state: "none" }),
 *   channelExisted: () => Promise.resolve(true),
 * } as unknown as SettleChain;
 * const outcome = await settleClosedChannel(chain, "0x01");
 * assert.deepEqual(outcome, {
 *   by: "another",
 *   refused: "settleChannel refused by the contract: Reverted()",
 * });
 * ```
 */
export async function settleClosedChannel(
  chain: SettleChain,
  channelId: Hex,
  openTx?: Hex,
): Promise<ChannelSettleOutcome> {
  try {
    return { by: "us", tx: await chain.settleChannel(channelId) };
  } catch (err) {
    const gone = await chain.getChannel(channelId).then(
      async (c) => c.state === "none" && await chain.channelExisted(channelId, openTx),
      () => false,
    );
    if (!gone) throw err;
    return { by: "another", refused: (err as Error).message.split("\n")[0] };
  }
}

/**
 * The audit fields of a settle: `SettleTx` for ours, `SettledBy` for one another sent first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settleFields } from "./channel_settle.ts";
 *
 * assert.deepEqual(settleFields({ by: "us", tx: "0xab" }, "SettleTx"), { SettleTx: "0xab" });
 * assert.deepEqual(
 *   settleFields({ by: "another", refused: "settleChannel reverted (tx 0xcd)" }, "Tx"),
 *   { SettledBy: "another transaction first (ours: settleChannel reverted (tx 0xcd))" },
 * );
 * ```
 */
export function settleFields(
  outcome: ChannelSettleOutcome,
  txField: string,
): Record<string, string> {
  return outcome.by === "us" ? { [txField]: outcome.tx } : { SettledBy: settledBy(outcome) };
}

/**
 * Who settled, in a line: our transaction's hash, or that another came first and why ours was
 * refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settledBy } from "./channel_settle.ts";
 *
 * assert.equal(settledBy({ by: "us", tx: "0xab" }), "0xab");
 * assert.equal(
 *   settledBy({ by: "another", refused: "Reverted()" }),
 *   "another transaction first (ours: Reverted())",
 * );
 * ```
 */
export function settledBy(outcome: ChannelSettleOutcome): string {
  return outcome.by === "us" ? outcome.tx : `another transaction first (ours: ${outcome.refused})`;
}

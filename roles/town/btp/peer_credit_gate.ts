/**
 * Bounded credit for BTP peers without a payment channel (docs/PROTOCOL.md "Credit without a
 * channel"), as ilp-connector's balance middleware bounds a peer's balance: a PREPARE with value
 * and no claim, from an account that holds no channel here, is covered only by the credit the
 * town grants that account. Its amount is counted (state/payments/peer_credit.ts) before the packet goes
 * on and given back if it is rejected; a packet that would take the account past its limit is
 * refused T04 Insufficient Liquidity, and the town neither FULFILLs it nor forwards it. Packets
 * with a claim, and packets of an account with a channel, go to the claim gate as before (a
 * channel's own credit is its `credit_limit` beyond the claims, chain/claim_verifier.ts).
 *
 * @module
 */
import {
  decodeIlpPrepare,
  encodeIlpReject,
  ILP_ERROR,
  IlpPacketType,
} from "../../../protocol/ilp_packet.ts";
import { claimRejectData } from "../../../protocol/payment_channel_claim.ts";
import type { CreditTake, PeerCredit } from "../../../state/payments/peer_credit.ts";
import type { CreditLineAsk } from "../../../state/payments/credit_line.ts";
import type { BtpClaimGate } from "../../channels/btp_claim_gate.ts";

/** Options for {@linkcode peerCreditGate}. */
export interface PeerCreditGateOptions {
  credit: PeerCredit;
  /**
   * What an account may spend without a channel, read at each packet (it may grow with what the
   * town owes the account): a bound, or a line learned from its history that the count decides
   * (state/payments/credit_line.ts); undefined: no limit (nothing counted).
   */
  limitOf: (account: string) => bigint | CreditLineAsk | undefined;
  /** Whether an account settles over a channel here (its packets go to the claim gate). */
  hasChannel: (account: string) => boolean;
  /** The town's ILP address, for the REJECTs. */
  triggeredBy: () => string;
  /** Told of each packet refused over its account's limit. */
  onRefused?: (account: string, amount: bigint, spent: bigint, limit: bigint) => void;
}

/**
 * Wraps an account's claim gate (or none) with its credit: see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerCreditGate } from "./peer_credit_gate.ts";
 * import { openFilePeerCredit } from "../../../state/payments/peer_credit.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const credit = await openFilePeerCredit({ stateDir });
 * const gate = peerCreditGate("child", undefined, {
 *   credit,
 *   limitOf: () => 0n, // no credit: a packet with value needs a claim
 *   hasChannel: () => false,
 *   triggeredBy: () => "g.town",
 * });
 * assert.equal(typeof gate?.handle, "function");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function peerCreditGate(
  account: string,
  inner: BtpClaimGate | undefined,
  options: PeerCreditGateOptions,
): BtpClaimGate | undefined {
  if (options.limitOf(account) === undefined) return inner;
  const pass = (
    packet: Uint8Array,
    claim: Uint8Array | undefined,
    next: () => Promise<Uint8Array>,
  ) => inner ? inner.handle(packet, claim, next) : next();
  // A give-back that cannot be written leaves the amount spent: the town errs toward its books.
  // On a learned line, a give-back may end the credit the packet opened: closed now, in time.
  const giveBack = (amount: bigint, limit: bigint | CreditLineAsk) =>
    options.credit.give(account, amount)
      .then(() => typeof limit === "bigint" ? undefined : options.credit.review(account, limit))
      .catch(() => {});
  return {
    async handle(packet, claim, next) {
      if (claim !== undefined || options.hasChannel(account)) return pass(packet, claim, next);
      let amount: bigint;
      try {
        amount = BigInt(decodeIlpPrepare(packet).amount);
      } catch {
        return pass(packet, claim, next); // not a PREPARE: the router answers it (F01)
      }
      const limit = options.limitOf(account);
      if (amount === 0n || limit === undefined) return pass(packet, claim, next);
      let taken: CreditTake;
      try {
        taken = await options.credit.take(account, amount, limit);
      } catch (err) {
        // Not counted (the file or the database cannot be written): not forwarded either.
        return encodeIlpReject({
          code: ILP_ERROR.internalError,
          triggeredBy: options.triggeredBy(),
          message: `the town cannot count ${account}'s credit now: ${(err as Error).message}`,
          data: new Uint8Array(0),
        });
      }
      if ("refused" in taken) {
        const line = taken.limit ?? (typeof limit === "bigint" ? limit : limit.owed);
        options.onRefused?.(account, amount, taken.refused, line);
        return encodeIlpReject({
          code: ILP_ERROR.insufficientLiquidity,
          triggeredBy: options.triggeredBy(),
          message:
            `account ${account} has no payment channel here and has spent ${taken.refused} ` +
            `of its credit of ${line}: open a channel (claims pay for packets) or ask the ` +
            "town's operator for credit",
          // The reason as data (docs/PROTOCOL.md "Claim rejections"): final for a payer.
          data: claimRejectData("credit-limit-exceeded"),
        });
      }
      let reply: Uint8Array;
      try {
        reply = await pass(packet, claim, next);
      } catch (err) {
        await giveBack(amount, limit);
        throw err;
      }
      if (reply[0] === IlpPacketType.reject) await giveBack(amount, limit);
      return reply;
    },
  };
}

/**
 * The town's books per BTP peer on the forwarding path (docs/ARCHITECTURE.md "The town's books
 * per peer"): each paid PREPARE forwarded to a child is on the ledger (state/payments/peer_ledger.ts)
 * before it leaves, and the child's answer before it is relayed. A packet that would take what
 * the town owes the child beyond its claims (in flight and in doubt included) over the child's
 * limit is refused T04 Insufficient Liquidity, as a connector's balance middleware refuses a
 * peer over its maximum balance: the town settles (roles/town/channels/peer_payout.ts) before it owes
 * more.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import type { PeerBalance, PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type { ForwardBooks } from "./btp_router.ts";
import type { PaidOnce } from "./paid_once.ts";

/** Options for {@linkcode createPeerBooks}. */
export interface PeerBooksOptions {
  ledger: PeerLedger;
  /** Most the town may owe a peer beyond its claims; undefined: no limit. */
  maxOwed: (account: string) => bigint | undefined;
  /** The town's ILP address, for the REJECTs. */
  triggeredBy: () => string;
  /** Told after each FULFILL is on the books (a payout may be due). */
  onOwed?: (balance: PeerBalance) => void;
  /** A town on a shared store: each FULFILL's condition recorded as this process's to owe. */
  paidOnce?: Pick<PaidOnce, "paid">;
}

/**
 * Builds the router's books over a ledger.
 *
 * It books a router's forwards: no example that runs here:
 * tests/unit/roles/town/btp_router_expiry_test.ts.
 */
export function createPeerBooks(options: PeerBooksOptions): ForwardBooks {
  const { ledger } = options;
  return {
    async before(
      account: string,
      prepare: IlpPrepare,
      sentExpiresAt: Date,
    ): Promise<IlpReply | undefined> {
      const amount = BigInt(prepare.amount);
      const limit = options.maxOwed(account);
      const exposure = ledger.exposure(account);
      if (limit !== undefined && exposure + amount > limit) {
        return {
          type: "reject",
          code: ILP_ERROR.insufficientLiquidity,
          triggeredBy: options.triggeredBy(),
          message: `the town owes ${account} ${exposure} unsettled, its limit is ${limit}: ` +
            "try again after the town settles",
          data: new Uint8Array(0),
        };
      }
      await ledger.forward(account, bytesToHex(prepare.executionCondition), amount, sentExpiresAt);
      return undefined;
    },
    async after(account: string, prepare: IlpPrepare, reply: IlpReply): Promise<void> {
      const condition = bytesToHex(prepare.executionCondition);
      if (reply.type === "fulfill") {
        await ledger.fulfilled(account, condition, bytesToHex(reply.fulfillment));
        options.paidOnce?.paid(account, condition);
        options.onOwed?.(ledger.balance(account));
      } else {
        await ledger.rejected(account, condition, reply.code);
      }
    },
  };
}
